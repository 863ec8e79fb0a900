"""The API server: wiring of storage, watch cache, generic store, discovery, OpenAPI and HTTP.

`APIServer` owns the pieces and answers the cross-cutting questions handlers ask (which resource, which field
manager, which version to convert to). `build_app` turns it into an aiohttp application: authentication, the
non-resource endpoints (/version, /healthz, discovery, OpenAPI) and the resource handler, with every failure
rendered as a Kubernetes Status.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kybernetes import KUBE_VERSION
from kybernetes.api.conversion import convert
from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver import responses
from kybernetes.apiserver.allocators import ServiceAllocator
from kybernetes.apiserver.auth import ANONYMOUS, Authenticator, UserInfo
from kybernetes.apiserver.cache import WatchCache
from kybernetes.apiserver.discovery import Discovery, aggregated_version
from kybernetes.apiserver.handlers import ResourceHandler
from kybernetes.apiserver.openapi import V2_PROTO_TYPES, OpenAPI
from kybernetes.apiserver.patching import Patcher
from kybernetes.apiserver.registry import ResourceRegistry
from kybernetes.apiserver.request import parse_request
from kybernetes.apiserver.store import GenericStore
from kybernetes.apiserver.subresources import Subresources
from kybernetes.machinery import errors
from kybernetes.machinery.errors import StatusError
from kybernetes.machinery.selectors import FieldSelector, parse_field_selector
from kybernetes.storage.interface import Backend

log = logging.getLogger(__name__)

PUBLIC_PATHS = {"/healthz", "/livez", "/readyz", "/version", "/version/"}
_UA_RE = re.compile(r"^([^/\s]+)")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# POST on a create-only resource that is answered, not stored: (request, resource, namespace) -> response.
VirtualHandler = Callable[[web.Request, ResourceInfo, str], Awaitable[web.StreamResponse]]


class APIServer:
    def __init__(
        self,
        backend: Backend,
        *,
        authenticator: Authenticator | None = None,
        server_address: str = "127.0.0.1:6443",
        service_cidr: str = "10.43.0.0/16",
    ) -> None:
        self.backend = backend
        self.resources = ResourceRegistry()
        self.cache = WatchCache(backend, self.resources.fields_for)
        self.store = GenericStore(backend, self.cache)
        self.discovery = Discovery()
        self.openapi = OpenAPI()
        self.authn = authenticator or Authenticator()
        self.server_address = server_address
        self.handler = ResourceHandler(self)
        self.subresources = Subresources(self)
        self.patcher = Patcher(self)
        self.extra_subresources: dict[tuple[str, str, str], Any] = {}
        self.extra_routes: dict[str, Handler] = {}
        self._storage_info: dict[tuple[str, str, str], ResourceInfo] = {}
        self.resources.listeners.append(self._resources_changed)
        self.discovery.update(self.resources.all())
        self.started = asyncio.Event()
        self.store.admission.append(self._namespace_lifecycle)
        self.service_allocator = ServiceAllocator(self, service_cidr)
        self.store.admission.append(self.service_allocator.admit)
        self._background: list[asyncio.Task[Any]] = []
        # Hooks filled in by optional features (server-side apply, CRDs, field validation).
        self.apply_impl: Any = None
        self.track_fields_impl: Any = None
        self.field_validation_impl: Any = None
        self.printer_columns_impl: Any = None
        self.scale_paths_impl: Any = None
        # Who may do what (reviews.authorizer.Authorizer); the review endpoints ask it, RBAC replaces it.
        self.authorizer_impl: Any = None
        self.custom_storage_impl: Any = None
        # Where `kyb server` keeps its state (PKI, keys); None for servers without a data dir (some tests).
        self.data_dir: Path | None = None
        # Where the cluster CA lives (the node proxy issues its kubelet client certificate from it).
        self.pki_dir: Path | None = None
        # Create-only resources answered without storage (reviews, TokenReview): (group, resource) -> handler.
        self.virtual_resources: dict[tuple[str, str], VirtualHandler] = {}
        # Selector field names a version spells differently from its storage version: (group, resource) -> map.
        self.field_label_conversions: dict[tuple[str, str], dict[str, str]] = {}
        # Run once at the end of bootstrap, in order (objects the server keeps in place, like system classes).
        self.post_start_hooks: list[Callable[[], Awaitable[None]]] = []

    def _resources_changed(self) -> None:
        self._storage_info.clear()
        self.discovery.update(self.resources.all())

    async def start(self) -> None:
        await self.cache.start()
        self.started.set()

    async def stop(self) -> None:
        for t in self._background:
            t.cancel()
        await self.cache.stop()

    # ------------------------------------------------------- cross-cutting
    def storage_info(self, info: ResourceInfo) -> ResourceInfo:
        """The ResourceInfo whose version is stored for `info` (itself unless versions share storage)."""
        key = (info.group, info.version, info.resource)
        hit = self._storage_info.get(key)
        if hit is None:
            hit = self._find_storage_info(info)
            self._storage_info[key] = hit
        return hit

    def _find_storage_info(self, info: ResourceInfo) -> ResourceInfo:
        if info.custom and self.custom_storage_impl is not None:
            custom: ResourceInfo = self.custom_storage_impl(info)  # the CRD's storage version
            return custom
        if info.storage_group == info.group and info.storage_resource == info.resource:
            # Same storage; the version stored is the preferred one of the group.
            for r in self.resources.all():
                if r.group == info.group and r.resource == info.resource and r.version != info.version:
                    if _preferred(r.version, info.version, info.group):
                        return r
            return info
        for r in self.resources.all():
            if r.group == info.storage_group and r.resource == info.storage_resource:
                return r
        return info

    def needs_conversion(self, info: ResourceInfo) -> bool:
        return self.storage_info(info) is not info

    def convert_raw(self, info: ResourceInfo, raw: bytes) -> bytes:
        if not self.needs_conversion(info):
            return raw
        return orjson.dumps(convert(orjson.loads(raw), info.api_version))

    def convert_out(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("apiVersion") in (None, info.api_version):
            return obj
        return convert(obj, info.api_version)

    def convert_in(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        sinfo = self.storage_info(info)
        if sinfo is info:
            return obj
        if obj.get("apiVersion") not in (None, info.api_version) or obj.get("kind") not in (None, info.kind):
            return obj  # let the store report the mismatch
        obj = dict(obj)
        obj["apiVersion"] = info.api_version
        obj["kind"] = info.kind
        return convert(obj, sinfo.api_version)

    def parse_fields(self, info: ResourceInfo, s: str | None) -> FieldSelector:
        sel = parse_field_selector(s)
        labels = self.field_label_conversions.get((info.group, info.resource))
        if labels:
            sel = FieldSelector(tuple(replace(r, field=labels.get(r.field, r.field)) for r in sel.requirements))
        sinfo = self.storage_info(info)
        allowed = {"metadata.name", "metadata.namespace"} | set(
            self.store.strategy(sinfo).selectable_fields
        )
        extra = self.selectable_fields_extra(info)
        allowed |= extra
        for r in sel.requirements:
            if r.field not in allowed:
                raise errors.bad_request(
                    f'field label not supported: {r.field}'
                )
        return sel

    def selectable_fields_extra(self, info: ResourceInfo) -> set[str]:
        return {"source"} if info.resource == "events" else set()

    def field_manager(self, request: web.Request, default: str | None = None) -> str:
        fm = request.query.get("fieldManager")
        if fm:
            if len(fm) > 128:
                raise errors.bad_request("fieldManager: Too long: must have at most 128 bytes")
            return fm
        if default == "":
            raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        ua = request.headers.get("User-Agent", "")
        m = _UA_RE.match(ua)
        return m.group(1) if m else "unknown"

    def check_field_validation(self, request: web.Request, info: ResourceInfo, obj: dict[str, Any]) -> None:
        mode = request.query.get("fieldValidation", "")
        if mode and mode not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f'fieldValidation: Invalid value: "{mode}": fieldValidation must be one of "Ignore", "Warn", or "Strict"'
            )
        if self.field_validation_impl is not None:
            self.field_validation_impl(request, info, obj, mode or "Warn")

    def track_fields(
        self,
        info: ResourceInfo,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        manager: str | None,
        operation: str,
        subresource: str = "",
    ) -> None:
        if self.track_fields_impl is not None and manager:
            self.track_fields_impl(info, old, new, manager, operation, subresource)

    async def apply(
        self,
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
        if self.apply_impl is None:
            raise errors.unsupported_media_type("application/apply-patch+yaml")
        result: tuple[dict[str, Any], bool] = await self.apply_impl(
            request, info, ns, name, patch, manager, subresource=subresource, dry_run=dry_run
        )
        return result

    def printer_columns(self, info: ResourceInfo) -> list[dict[str, Any]] | None:
        if self.printer_columns_impl is None or not info.custom:
            return None
        cols: list[dict[str, Any]] | None = self.printer_columns_impl(info)
        return cols

    def scale_paths(self, info: ResourceInfo) -> tuple[str, str, str] | None:
        if self.scale_paths_impl is None or not info.custom:
            return None
        paths: tuple[str, str, str] | None = self.scale_paths_impl(info)
        return paths

    async def check_disruption_budget(self, namespace: str, pod: str) -> None:
        """Hook for PodDisruptionBudget enforcement on eviction (raises 429 when blocked)."""

    async def _namespace_lifecycle(
        self, operation: str, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        if operation != "CREATE" or not info.namespaced:
            return
        ns = (obj.get("metadata") or {}).get("namespace", "")
        nsinfo = self.resources.get("", "v1", "namespaces")
        assert nsinfo is not None
        o = self.cache.cache(nsinfo.key_prefix).objects.get(nsinfo.key("", ns))
        if o is None:
            await self.cache.wait_fresh()
            o = self.cache.cache(nsinfo.key_prefix).objects.get(nsinfo.key("", ns))
        if o is None:
            raise errors.not_found("namespaces", "", ns)
        if o.fields.get("status.phase") == "Terminating" or b'"deletionTimestamp"' in o.raw:
            raise errors.forbidden(
                f'{info.resource} "{(obj.get("metadata") or {}).get("name", "")}" is forbidden: unable to create new '
                f"content in namespace {ns} because it is being terminated",
                {"name": (obj.get("metadata") or {}).get("name", ""), "kind": info.resource},
            )

    # ---------------------------------------------------------------- HTTP
    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024, handler_args={"max_field_size": 65536})
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        resp = await self._dispatch(request)
        return responses.attach_warnings(request, resp)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            user = self.authn.authenticate(request)
            if user is None:
                raise errors.unauthorized()
            request["user"] = user
            path = request.path
            if user is ANONYMOUS and path not in PUBLIC_PATHS:
                raise errors.unauthorized()
            if path.startswith("/api/") or path.startswith("/apis/"):
                ri = parse_request(request.method, path, request.query)
                if ri.is_resource:
                    return await self.handler.handle(request, ri)
            return await self._non_resource(request, user)
        except StatusError as e:
            return responses.status_response(e)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except web.HTTPException:
            raise
        except Exception as e:  # never a traceback to the client
            log.error("internal error on %s %s: %s", request.method, request.path, traceback.format_exc())
            return responses.status_response(errors.internal(f"{type(e).__name__}: {e}"))

    async def _non_resource(self, request: web.Request, user: UserInfo) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if path in ("/healthz", "/livez", "/readyz"):
            ok = self.started.is_set()
            if request.query.get("verbose") is not None:
                text = f"[+]ping ok\n[+]etcd ok\n{path.lstrip('/')} check {'passed' if ok else 'failed'}\n"
                return web.Response(text=text, status=200 if ok else 500)
            return web.Response(text="ok" if ok else "not ready", status=200 if ok else 500)
        if path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return web.Response(text="ok")
        if path == "/version":
            return responses.obj_response(version_info())
        if method not in ("GET", "HEAD"):
            if path in self.extra_routes:
                return await self.extra_routes[path](request)
            raise StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        accept = request.headers.get("Accept")
        if path == "/api":
            agg = aggregated_version(accept)
            if agg:
                return self._etag_response(request, *self.discovery.aggregated(True, agg), content_type=_agg_ct(agg))
            return self._etag_response(request, *self.discovery.api_versions(self.server_address))
        if path == "/apis":
            agg = aggregated_version(accept)
            if agg:
                return self._etag_response(request, *self.discovery.aggregated(False, agg), content_type=_agg_ct(agg))
            return self._etag_response(request, *self.discovery.api_group_list())
        m = re.match(r"^/api/(v1)$", path)
        if m:
            rl = self.discovery.resource_list("", "v1")
            assert rl is not None
            return self._etag_response(request, *rl)
        m = re.match(r"^/apis/([^/]+)$", path)
        if m:
            g = self.discovery.api_group(m.group(1))
            if g is None:
                raise StatusError(404, "NotFound", "the server could not find the requested resource")
            return self._etag_response(request, *g)
        m = re.match(r"^/apis/([^/]+)/([^/]+)$", path)
        if m:
            rl = self.discovery.resource_list(m.group(1), m.group(2))
            if rl is None:
                raise StatusError(404, "NotFound", "the server could not find the requested resource")
            return self._etag_response(request, *rl)
        if path == "/openapi/v2" or path == "/swagger-2.0.0.pb-v1":
            if (accept and any(t in accept for t in V2_PROTO_TYPES)) or path.endswith("pb-v1"):
                pb = self.openapi.v2_protobuf()
                if pb is None:
                    raise StatusError(406, "NotAcceptable", "protobuf OpenAPI v2 is not available")
                return self._etag_response(request, *pb, content_type=V2_PROTO_TYPES[1])
            return self._etag_response(request, *self.openapi.v2_json())
        if path == "/openapi/v3":
            return web.Response(body=self.openapi.v3_index(), content_type="application/json")
        if path.startswith("/openapi/v3/"):
            doc = self.openapi.v3_document(path[len("/openapi/v3/") :])
            if doc is None:
                raise StatusError(404, "NotFound", "the server could not find the requested resource")
            body, h = doc
            headers = {"ETag": f'"{h}"', "Vary": "Accept"}
            if request.query.get("hash") == h:
                headers["Cache-Control"] = "public, immutable"
            else:
                headers["Cache-Control"] = "no-cache, private"
            if request.headers.get("If-None-Match") == f'"{h}"':
                return web.Response(status=304, headers=headers)
            return web.Response(body=body, content_type="application/json", headers=headers)
        if path in self.extra_routes:
            return await self.extra_routes[path](request)
        if path == "/":
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]
            return responses.obj_response({"paths": paths})
        raise StatusError(404, "NotFound", "the server could not find the requested resource")

    def _etag_response(
        self, request: web.Request, body: bytes, etag: str, content_type: str = "application/json"
    ) -> web.Response:
        if not etag.startswith('"'):
            etag = f'"{etag}"'
        headers = {"ETag": etag, "Vary": "Accept"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        resp = web.Response(body=body, headers=headers)
        resp.headers["Content-Type"] = content_type
        return resp


def _agg_ct(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"


def _preferred(candidate: str, current: str, group: str) -> bool:
    from kybernetes.api.resources import VERSION_ORDER

    order = VERSION_ORDER.get(group)
    if not order:
        return False
    return order.index(candidate) < order.index(current) if candidate in order and current in order else False


def version_info() -> dict[str, Any]:
    import platform

    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return {
        "major": major,
        "minor": minor,
        "gitVersion": KUBE_VERSION,
        "gitCommit": "kybernetes",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"linux/{arch}",
    }
