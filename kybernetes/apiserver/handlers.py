"""REST handlers for resource requests: the HTTP face of the generic store.

Each verb reads its query parameters the way upstream does (dryRun, fieldManager, selectors, paging,
resourceVersion semantics, watch options), calls the store, and encodes the answer in the negotiated form.
Subresources with their own semantics (scale, binding, eviction, token, ...) live in `subresources`.
"""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver import responses
from kybernetes.apiserver.cache import CachedObject
from kybernetes.apiserver.request import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    Negotiated,
    RequestInfo,
    decode_body,
    media_type,
    negotiate,
)
from kybernetes.machinery import errors
from kybernetes.machinery.errors import StatusError
from kybernetes.machinery.selectors import parse_label_selector
from kybernetes.storage.interface import CompactedError

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer

RETURN_DELETED_OBJECT = {("", "pods"), ("", "services"), ("", "namespaces")}
BOOKMARK_INTERVAL = 30.0
RAW_BODY_KEY = "kybernetes.raw_body"


def _q(request: web.Request, name: str) -> str | None:
    return request.query.get(name)


def _dry_run(request: web.Request, body: dict[str, Any] | None = None) -> bool:
    vals = request.query.getall("dryRun", [])
    if body is not None:
        vals = list(vals) + list(body.get("dryRun") or [])
    for v in vals:
        if v != "All":
            raise errors.bad_request(f'Invalid value: "{v}": supported values: "All"')
    return bool(vals)


def _int_param(request: web.Request, name: str) -> int | None:
    v = request.query.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise errors.bad_request(f"invalid {name}: {v!r}") from None


async def read_body(request: web.Request) -> bytes:
    body = await request.read()
    if len(body) > 3 * 1024 * 1024:
        raise StatusError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    request[RAW_BODY_KEY] = body  # field validation re-reads it for duplicate JSON keys
    return body


class ResourceHandler:
    def __init__(self, server: APIServer) -> None:
        self.srv = server

    @property
    def store(self) -> Any:
        return self.srv.store

    async def handle(self, request: web.Request, ri: RequestInfo) -> web.StreamResponse:
        info = self.srv.resources.get(ri.group, ri.version, ri.resource)
        if info is None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if ri.namespace and info.namespaced and ri.resource != "namespaces":
            ns = ri.namespace
        elif info.namespaced:
            ns = ""
        else:
            ns = ""
        if not info.namespaced and ri.namespace and ri.resource != "namespaces":
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if ri.subresource:
            return await self.srv.subresources.handle(request, ri, info, ns)
        if len(ri.parts) > 2:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        verb = ri.verb
        virtual = self.srv.virtual_resources.get((info.group, info.resource))
        if virtual is not None and verb == "create" and not ri.name:
            return await virtual(request, info, ns)
        if verb not in info.verbs:
            raise errors.method_not_supported(info.resource, info.group, verb)
        if verb == "get":
            return await self.get(request, info, ns, ri.name)
        if verb == "list":
            return await self.list(request, info, ns)
        if verb == "watch":
            return await self.watch(request, info, ns, ri.name)
        if verb == "create":
            if ri.name:
                raise errors.method_not_supported(info.resource, info.group, "create")
            return await self.create(request, info, ns)
        if verb == "update":
            return await self.update(request, info, ns, ri.name)
        if verb == "patch":
            return await self.patch(request, info, ns, ri.name)
        if verb == "delete":
            return await self.delete(request, info, ns, ri.name)
        if verb == "deletecollection":
            return await self.delete_collection(request, info, ns)
        raise errors.method_not_supported(info.resource, info.group, verb)

    # ------------------------------------------------------------------ reads
    def render_one(self, request: web.Request, info: ResourceInfo, o: CachedObject | dict[str, Any], status: int = 200) -> web.Response:
        neg = negotiate(request.headers.get("Accept"))
        if neg.table:
            obj = o.decode() if isinstance(o, CachedObject) else o
            t = responses.table(info, [obj], neg, request.query.get("includeObject", "Metadata"), None,
                                extra_columns=self.srv.printer_columns(info))
            return responses.obj_response(t, status)
        if neg.partial_metadata:
            if neg.partial_list:
                raise StatusError(
                    406, "NotAcceptable",
                    f"you requested PartialObjectMetadataList, but the requested object is not a list (*{info.version}.{info.kind})"
                )
            obj = o.decode() if isinstance(o, CachedObject) else o
            return responses.obj_response(responses.partial_metadata(obj, neg.partial_version), status)
        if isinstance(o, CachedObject):
            return responses.json_response(self.srv.convert_raw(info, o.raw), status)
        return responses.obj_response(self.srv.convert_out(info, o), status)

    async def get(self, request: web.Request, info: ResourceInfo, ns: str, name: str) -> web.Response:
        o = await self.store.get(self.srv.storage_info(info), ns, name, _q(request, "resourceVersion"))
        return self.render_one(request, info, o)

    async def list(self, request: web.Request, info: ResourceInfo, ns: str) -> web.Response:
        labels = parse_label_selector(_q(request, "labelSelector"))
        fields = self.srv.parse_fields(info, _q(request, "fieldSelector"))
        limit = _int_param(request, "limit") or 0
        page = await self.store.list(
            self.srv.storage_info(info),
            ns,
            labels,
            fields,
            limit=max(limit, 0),
            continue_token=_q(request, "continue") or "",
            rv=_q(request, "resourceVersion"),
            rv_match=_q(request, "resourceVersionMatch") or "",
        )
        neg = negotiate(request.headers.get("Accept"))
        if neg.table:
            objs = [o.decode() for o in page.items]
            t = responses.table(
                info, objs, neg, request.query.get("includeObject", "Metadata"), page.revision, page.continue_token,
                extra_columns=self.srv.printer_columns(info),
            )
            return responses.obj_response(t)
        if neg.partial_metadata:
            if not neg.partial_list:
                raise StatusError(
                    406, "NotAcceptable",
                    f"you requested PartialObjectMetadata, but the requested object is a list (*{info.version}.{info.list_kind})"
                )
            return responses.json_response(
                responses.partial_list_body(page.items, page.revision, page.continue_token, neg.partial_version)
            )
        if self.srv.needs_conversion(info):
            items = [CachedObject(o.key, o.namespace, o.name, o.rv, self.srv.convert_raw(info, o.raw), o.labels, o.fields) for o in page.items]
        else:
            items = page.items
        return responses.json_response(
            responses.list_body(info, items, page.revision, page.continue_token, page.remaining)
        )

    # ------------------------------------------------------------------ watch
    async def watch(self, request: web.Request, info: ResourceInfo, ns: str, name: str) -> web.StreamResponse:
        labels = parse_label_selector(_q(request, "labelSelector"))
        fields = self.srv.parse_fields(info, _q(request, "fieldSelector") or (f"metadata.name={name}" if name else None))
        if name and fields.equality_value("metadata.name") is None:
            fields = self.srv.parse_fields(info, f"metadata.name={name}")
        neg = negotiate(request.headers.get("Accept"))
        timeout = _int_param(request, "timeoutSeconds")
        if timeout is None:
            timeout = int(1800 * (1 + random.random()))
        bookmarks = _q(request, "allowWatchBookmarks") in ("true", "1")
        send_initial = _q(request, "sendInitialEvents") in ("true", "1")
        rv = _q(request, "resourceVersion")
        if send_initial:
            rv_match = _q(request, "resourceVersionMatch")
            if rv_match != "NotOlderThan":
                raise errors.invalid("", "", "", [errors.FieldError("forbidden", "resourceVersionMatch", detail="sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")])
            if not rv or rv == "0":
                await self.srv.cache.wait_fresh()
                rv = ""
        elif rv is None or rv == "":
            rv = "0" if not send_initial else rv
        include_object = request.query.get("includeObject", "Metadata")
        if not await self.srv.cache.wait_for(int(rv) if rv and rv.isdigit() else 0, timeout=3.0):
            raise errors.timeout(f"Too large resource version: {rv}, current: {self.srv.cache.revision}")
        watcher, initial, start = self.store.watch(self.srv.storage_info(info), ns, labels, fields, rv if rv else "0")
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        first = [True]

        def frame(typ: str, o: CachedObject) -> bytes:
            if neg.table:
                t = responses.table(info, [o.decode()], neg, include_object, None, no_headers=not first[0],
                                    extra_columns=self.srv.printer_columns(info))
                first[0] = False
                return b'{"type":"' + typ.encode() + b'","object":' + orjson.dumps(t) + b"}\n"
            if neg.partial_metadata:
                body = orjson.dumps(responses.partial_metadata(o.decode(), neg.partial_version))
            else:
                body = self.srv.convert_raw(info, o.raw)
            return b'{"type":"' + typ.encode() + b'","object":' + body + b"}\n"

        def bookmark(rv_: int, initial_end: bool = False) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(rv_)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return orjson.dumps({"type": "BOOKMARK", "object": {"kind": info.kind, "apiVersion": info.api_version, "metadata": meta}}) + b"\n"

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await resp.prepare(request)
            if initial is None:
                await self._watch_from_storage(resp, info, ns, watcher, start, deadline, frame)
                return resp
            chunk = b"".join(frame(t, o) for t, o in initial)
            if send_initial and bookmarks:
                chunk += bookmark(self.srv.cache.revision, True)
            if chunk:
                await resp.write(chunk)
            last_rv = max(start, self.srv.cache.revision if not initial else start)
            next_bookmark = loop.time() + BOOKMARK_INTERVAL
            while True:
                now = loop.time()
                remaining = deadline - now
                if remaining <= 0:
                    break
                wait = min(remaining, next_bookmark - now) if bookmarks else remaining
                batch = await watcher.next_batch(max(wait, 0.0))
                if batch is None:
                    break
                if batch:
                    await resp.write(b"".join(frame(t, o) for t, o in batch))
                    last_rv = batch[-1][1].rv
                elif bookmarks and loop.time() >= next_bookmark:
                    await resp.write(bookmark(max(last_rv, self.srv.cache.revision)))
                    next_bookmark = loop.time() + BOOKMARK_INTERVAL
            if watcher.overflowed:
                await resp.write(_error_event(StatusError(410, "Expired", "watch channel overflowed; please re-watch")))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.unwatch(self.srv.storage_info(info), watcher)
        try:
            await resp.write_eof()
        except ConnectionResetError:
            pass
        return resp

    async def _watch_from_storage(
        self, resp: web.StreamResponse, info: ResourceInfo, ns: str, watcher: Any, start: int, deadline: float, frame: Any
    ) -> None:
        loop = asyncio.get_running_loop()
        gen = self.srv.cache.storage_events(self.srv.storage_info(info).namespace_prefix(ns), start)
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch = await asyncio.wait_for(gen.__anext__(), remaining)
                except (TimeoutError, StopAsyncIteration):
                    break
                out = []
                for ev in batch:
                    watcher.offer(ev)
                while watcher.queue:
                    t, o = watcher.queue.popleft()
                    out.append(frame(t, o))
                if out:
                    await resp.write(b"".join(out))
        except CompactedError as e:
            await resp.write(
                _error_event(StatusError(410, "Expired", f"too old resource version: {start} ({e.compacted_revision})"))
            )
        finally:
            await gen.aclose()

    # ----------------------------------------------------------------- writes
    async def _body_object(self, request: web.Request) -> Any:
        body = await read_body(request)
        if not body:
            raise errors.bad_request("the body of the request was empty")
        return decode_body(body, request.headers.get("Content-Type", ""))

    async def create(self, request: web.Request, info: ResourceInfo, ns: str) -> web.Response:
        obj = await self._body_object(request)
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = self.srv.convert_in(info, obj)
        self.srv.check_field_validation(request, info, obj)
        manager = self.srv.field_manager(request)
        result = await self.store.create(
            self.srv.storage_info(info), ns, obj, dry_run=_dry_run(request), prepare=lambda o: self.srv.track_fields(info, None, o, manager, "Update")
        )
        return self.render_one(request, info, result, 201)

    async def update(self, request: web.Request, info: ResourceInfo, ns: str, name: str) -> web.Response:
        obj = await self._body_object(request)
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = self.srv.convert_in(info, obj)
        self.srv.check_field_validation(request, info, obj)
        manager = self.srv.field_manager(request)
        result, created = await self.store.update(
            self.srv.storage_info(info), ns, name, obj, dry_run=_dry_run(request),
            prepare=lambda new, old: self.srv.track_fields(info, old, new, manager, "Update"),
        )
        return self.render_one(request, info, result, 201 if created else 200)

    async def patch(self, request: web.Request, info: ResourceInfo, ns: str, name: str, subresource: str = "") -> web.Response:
        ct = media_type(request.headers.get("Content-Type"))
        if ct not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH):
            raise errors.unsupported_media_type(request.headers.get("Content-Type", ""))
        body = await read_body(request)
        patch = decode_body(body, ct)
        dry = _dry_run(request)
        result, created = await self.srv.patcher.patch(request, info, ns, name, ct, patch, subresource=subresource, dry_run=dry)
        return self.render_one(request, info, result, 201 if created else 200)

    async def delete(self, request: web.Request, info: ResourceInfo, ns: str, name: str) -> web.Response:
        options = await self._delete_options(request)
        obj, gone = await self.store.delete(self.srv.storage_info(info), ns, name, options, dry_run=_dry_run(request, options))
        if not gone or (info.group, info.resource) in RETURN_DELETED_OBJECT or info.custom:
            return self.render_one(request, info, obj, 200)
        meta = obj.get("metadata", {})
        return responses.obj_response(responses.success_status(info.resource, info.group, name, meta.get("uid", "")))

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        body = await read_body(request)
        options: dict[str, Any] = {}
        if body.strip():
            try:
                parsed = decode_body(body, request.headers.get("Content-Type", "application/json"))
            except StatusError:
                raise
            if isinstance(parsed, dict):
                options = parsed
        g = _int_param(request, "gracePeriodSeconds")
        if g is not None:
            options["gracePeriodSeconds"] = g
        p = _q(request, "propagationPolicy")
        if p:
            options["propagationPolicy"] = p
        o = _q(request, "orphanDependents")
        if o is not None:
            options["orphanDependents"] = o == "true"
        pol = options.get("propagationPolicy")
        if pol is not None and pol not in ("Orphan", "Background", "Foreground"):
            raise errors.invalid("DeleteOptions", "", "", [errors.FieldError("notsupported", "propagationPolicy", pol, 'supported values: "Foreground", "Background", "Orphan", "nil"')])
        return options

    async def delete_collection(self, request: web.Request, info: ResourceInfo, ns: str) -> web.Response:
        options = await self._delete_options(request)
        labels = parse_label_selector(_q(request, "labelSelector"))
        fields = self.srv.parse_fields(info, _q(request, "fieldSelector"))
        page = await self.store.list(self.srv.storage_info(info), ns, labels, fields)
        deleted: list[CachedObject] = []
        dry = _dry_run(request, options)
        for o in page.items:
            try:
                await self.store.delete(self.srv.storage_info(info), o.namespace, o.name, options, dry_run=dry)
                deleted.append(o)
            except StatusError as e:
                if e.code != 404:
                    raise
        return responses.json_response(responses.list_body(info, deleted, self.srv.cache.revision, "", None))


def _error_event(err: StatusError) -> bytes:
    return b'{"type":"ERROR","object":' + orjson.dumps(err.status()) + b"}\n"


def negotiated(request: web.Request) -> Negotiated:
    return negotiate(request.headers.get("Accept"))
