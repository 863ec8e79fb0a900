"""PATCH for every resource: JSON patch, JSON merge patch, strategic merge patch and server-side apply.

The patch is applied inside the store's guaranteed-update loop, so a patch never needs the client's
resourceVersion and is retried transparently when another writer wins the race, like upstream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.request import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH
from kybernetes.machinery import errors
from kybernetes.machinery.errors import StatusError
from kybernetes.machinery.patch import (
    ApplyConflict,
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    builtin_root,
)

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer


def patch_error(e: PatchError) -> StatusError:
    """A patch engine failure as the Status upstream answers with."""
    if isinstance(e, ApplyConflict):
        return StatusError(409, "Conflict", e.message, {"causes": e.status_causes()})
    return StatusError(e.status, e.reason, e.message)


def merge_patch(original: Any, patch: Any) -> Any:
    try:
        return apply_merge_patch(original, patch)
    except PatchError as e:
        raise patch_error(e) from None


def json_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    try:
        out = apply_json_patch(original, patch)
    except PatchError as e:
        raise patch_error(e) from None
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
        node = builtin_root(info.api_version, info.kind)
        if node is None:
            raise errors.unsupported_media_type(STRATEGIC_PATCH)
        try:
            return apply_strategic_merge_patch(original, patch, node)
        except PatchError as e:
            raise patch_error(e) from None

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
