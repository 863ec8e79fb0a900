"""Field management and server-side apply, connected to the API server's write hooks.

Every write that names a field manager records which fields that manager set (metadata.managedFields), and
`application/apply-patch+yaml` PATCHes run server-side apply with conflicts, as upstream does. The engines live in
`machinery.patch`; this module only adapts them to the store's read-modify-write loop.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.patching import patch_error
from kybernetes.apiserver.server import APIServer
from kybernetes.machinery import errors
from kybernetes.machinery.errors import StatusError
from kybernetes.machinery.patch import PatchError, apply, builtin_root, update_managed_fields
from kybernetes.machinery.patch.schema import Node


def _node(api: APIServer, info: ResourceInfo) -> Node | None:
    if info.custom:
        schema_node = api.custom_schema_node(info) if hasattr(api, "custom_schema_node") else None
        return schema_node
    return builtin_root(info.api_version, info.kind)


def install(api: APIServer) -> None:
    """Connect field management and server-side apply to `api`'s hooks."""

    def track(
        info: ResourceInfo,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        manager: str,
        operation: str,
        subresource: str = "",
    ) -> None:
        if not isinstance(new.get("metadata"), dict):
            return
        result = update_managed_fields(old, new, manager, operation, subresource, node=_node(api, info))
        mf = (result.get("metadata") or {}).get("managedFields")
        if mf:
            new["metadata"]["managedFields"] = mf
        else:
            new["metadata"].pop("managedFields", None)

    async def server_side_apply(
        request: web.Request,
        info: ResourceInfo,
        ns: str,
        name: str,
        patch: Any,
        manager: str,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        if not isinstance(patch, dict):
            raise errors.bad_request("apply patch must be a YAML or JSON object")
        force_q = request.query.get("force", "false")
        if force_q not in ("true", "false", ""):
            raise errors.bad_request(f"invalid force: {force_q!r}")
        force = force_q == "true"
        if patch.get("apiVersion") != info.api_version or patch.get("kind") != info.kind:
            raise errors.bad_request(
                f"the API version in the data ({patch.get('apiVersion')}) or kind ({patch.get('kind')}) does not "
                f"match the expected ({info.api_version}, {info.kind})"
            )
        pmeta = patch.get("metadata") or {}
        if pmeta.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({pmeta.get('name')}) does not match the name on the URL ({name})"
            )
        node = _node(api, info)
        sinfo = api.storage_info(info)

        def run(live: dict[str, Any] | None) -> dict[str, Any]:
            try:
                out = apply(live, patch, manager, force, node, subresource)
            except PatchError as e:
                raise patch_error(e) from None
            api.check_field_validation(request, info, out)
            return api.convert_in(info, out)

        try:
            await api.store.get_current(sinfo, ns, name)
        except StatusError as e:
            if e.code != 404 or subresource:
                raise
            obj = run(None)
            obj.setdefault("metadata", {})["name"] = name
            try:
                created = await api.store.create(sinfo, ns, obj, dry_run=dry_run)
                return created, True
            except StatusError as ce:
                if ce.code != 409 or ce.reason != "AlreadyExists":
                    raise
        result = await api.store.guaranteed_update(
            sinfo, ns, name, lambda cur: run(api.convert_out(info, cur)), subresource=subresource, dry_run=dry_run
        )
        return result, False

    api.track_fields_impl = track
    api.apply_impl = server_side_apply
    _install_crds(api)
    _install_completeness(api)
    _install_streaming(api)


def _install_crds(api: APIServer) -> None:
    """CustomResourceDefinitions: serve, validate and clean up custom resources (before field validation, which
    hands custom resources to the hook installed before it)."""
    from kybernetes.apiserver.crd import install

    install(api)


def _install_completeness(api: APIServer) -> None:
    """Built-in field validation, defaulting and admission, and the self-service review endpoints."""
    from kybernetes.apiserver import defaults, fieldvalidation, reviews

    fieldvalidation.install(api)
    defaults.install(api)
    reviews.install(api)


def _install_streaming(api: APIServer) -> None:
    """pods/log, pods/exec, pods/attach and pods/portforward, proxied to the pod's kubelet."""
    from kybernetes.streaming import proxy

    proxy.install(api)
