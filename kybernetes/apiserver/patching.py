"""PATCH for every resource: JSON patch, JSON merge patch, strategic merge patch and server-side apply.

The patch is applied inside the store's guaranteed-update loop, so a patch never needs the client's
resourceVersion and is retried transparently when another writer wins the race, like upstream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jsonpatch
import orjson
from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.request import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH
from kybernetes.machinery import errors
from kybernetes.machinery.errors import StatusError

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer


def merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return patch
    result = dict(original) if isinstance(original, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def json_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    if not isinstance(patch, list):
        raise errors.bad_request("json patch must be a list of operations")
    try:
        out = jsonpatch.JsonPatch(patch).apply(original)
    except jsonpatch.JsonPatchConflict as e:
        raise StatusError(422, "Invalid", f"the server rejected our request due to an error in our request: {e}") from None
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError, ValueError) as e:
        raise StatusError(422, "Invalid", f"the server rejected our request due to an error in our request: {e}") from None
    if not isinstance(out, dict):
        raise errors.bad_request("the patched object is not a JSON object")
    return out


class Patcher:
    def __init__(self, server: APIServer) -> None:
        self.srv = server

    def strategic(self, info: ResourceInfo, original: dict[str, Any], patch: Any) -> dict[str, Any]:
        if info.custom:
            raise errors.unsupported_media_type(STRATEGIC_PATCH)
        if not isinstance(patch, dict):
            raise errors.bad_request("strategic merge patch must be a JSON object")
        try:
            from kybernetes.machinery.patch import strategic
            from kybernetes.machinery.patch.schema import builtin_node
        except ImportError:
            out = merge_patch(original, patch)
            assert isinstance(out, dict)
            return out
        node = builtin_node(info.group, info.version, info.kind)
        try:
            return strategic.apply_strategic_merge_patch(original, patch, node)
        except strategic.StrategicMergePatchError as e:
            raise StatusError(422, "Invalid", str(e)) from None

    async def patch(
        self,
        request: web.Request,
        info: ResourceInfo,
        ns: str,
        name: str,
        content_type: str,
        patch: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        manager = self.srv.field_manager(request, default="" if content_type == APPLY_PATCH else None)
        if content_type == APPLY_PATCH:
            return await self.srv.apply(request, info, ns, name, patch, manager, subresource=subresource, dry_run=dry_run)

        def mutate(stored: dict[str, Any]) -> dict[str, Any]:
            current = self.srv.convert_out(info, stored)
            old = orjson.loads(orjson.dumps(current))
            if content_type == JSON_PATCH:
                new = json_patch(current, patch)
            elif content_type == MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise errors.bad_request("merge patch must be a JSON object")
                new = merge_patch(current, patch)
            else:
                new = self.strategic(info, current, patch)
            new = self.srv.convert_in(info, new)
            self.srv.check_field_validation(request, info, new)
            self.srv.track_fields(info, old, new, manager, "Update", subresource)
            return new

        if content_type not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH):
            raise errors.unsupported_media_type(content_type)
        result = await self.srv.store.guaranteed_update(
            self.srv.storage_info(info), ns, name, mutate, subresource=subresource, dry_run=dry_run
        )
        return result, False
