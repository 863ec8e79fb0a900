"""Encoding responses: objects, lists, Tables, PartialObjectMetadata and Status bodies.

Objects come out of the watch cache already encoded, so a list is a byte concatenation; only the Table and
metadata-only forms decode objects again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.cache import CachedObject
from kybernetes.apiserver.request import Negotiated
from kybernetes.machinery.errors import StatusError

JSON_CT = "application/json"


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON_CT, headers=headers)


def obj_response(obj: dict[str, Any], status: int = 200) -> web.Response:
    return json_response(orjson.dumps(obj), status)


def status_response(err: StatusError) -> web.Response:
    return json_response(orjson.dumps(err.status()), err.code, err.headers or None)


WARNINGS_KEY = "kybernetes.warnings"


def add_warning(request: web.Request, text: str) -> None:
    """Queue a warning for the response to `request`; kubectl prints it as `Warning: <text>` on stderr.

    Any layer that has the request can warn (field validation, deprecations, admission); the dispatcher adds the
    queued texts as `Warning: 299 - "<text>"` headers, deduplicated, when it sends the response.
    """
    queued: list[str] | None = request.get(WARNINGS_KEY)
    if queued is None:
        queued = []
        request[WARNINGS_KEY] = queued
    if text and text not in queued:
        queued.append(text)


def warning_header(text: str) -> str:
    """RFC 7234 warning value with upstream's quoting: only `"` and `\\` are escaped.

    Line breaks cannot travel in a header; Go's HTTP server turns them into spaces, and so does this.
    """
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def attach_warnings(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    """Add the warnings queued for `request` to `resp` (streams already started keep their headers)."""
    queued: list[str] | None = request.get(WARNINGS_KEY)
    if queued and not resp.prepared:
        for text in queued:
            resp.headers.add("Warning", warning_header(text))
    return resp


def success_status(resource: str, group: str, name: str, uid: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def list_body(info: ResourceInfo, items: list[CachedObject], rv: int, cont: str, remaining: int | None) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    head = orjson.dumps({"kind": info.list_kind, "apiVersion": info.api_version, "metadata": meta})
    return head[:-1] + b',"items":[' + b",".join(o.raw for o in items) + b"]}"


def partial_metadata(obj: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj.get("metadata", {}),
    }


def partial_list_body(items: list[CachedObject], rv: int, cont: str, version: str = "v1") -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
    return orjson.dumps(
        {
            "kind": "PartialObjectMetadataList",
            "apiVersion": f"meta.k8s.io/{version}",
            "metadata": meta,
            "items": [partial_metadata(o.decode(), version) for o in items],
        }
    )


def table(
    info: ResourceInfo,
    objs: list[dict[str, Any]],
    neg: Negotiated,
    include_object: str,
    rv: int | None,
    cont: str = "",
    no_headers: bool = False,
    extra_columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    list_meta: dict[str, Any] = {}
    if rv is not None:
        list_meta["resourceVersion"] = str(rv)
    if cont:
        list_meta["continue"] = cont
    try:
        from kybernetes.apiserver.printers import table_for
    except ImportError:
        t = _default_table(objs, include_object)
    else:
        t = table_for(
            info.group,
            info.resource,
            objs,
            include_object=include_object,
            list_meta=list_meta,
            no_headers=no_headers,
            extra_columns=extra_columns,
        )
    t["apiVersion"] = f"meta.k8s.io/{neg.table_version}"
    t["metadata"] = list_meta
    return t


def _default_table(objs: list[dict[str, Any]], include_object: str) -> dict[str, Any]:
    rows = []
    for o in objs:
        meta = o.get("metadata", {})
        row: dict[str, Any] = {"cells": [meta.get("name", ""), meta.get("creationTimestamp", "")]}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = partial_metadata(o)
        rows.append(row)
    return {
        "kind": "Table",
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
            {"name": "Created At", "type": "date", "format": "", "description": "Creation time", "priority": 0},
        ],
        "rows": rows,
    }


def now() -> datetime:
    return datetime.now(UTC)
