"""Serving /openapi/v2 (JSON and gnostic protobuf) and /openapi/v3 (index + per group-version documents).

kubectl refuses `create -f`, `apply`, `edit` and `replace` unless OpenAPI says the kind's PATCH takes
`fieldValidation`; 1.27/1.28 insist on the protobuf v2 form. The documents are the upstream ones, served as bytes
with content hashes so clients can cache them; custom resources add their own group-version documents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from kybernetes.api.resources import openapi_v2_document, openapi_v3_document, served_group_versions

V2_PROTO_TYPES = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)


def _hash(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest()[:128].upper()


class OpenAPI:
    """Holds the served documents; extra (custom resource) documents are merged in by their owners."""

    def __init__(self) -> None:
        self._v3: dict[str, tuple[bytes, str]] = {}
        self._v3_extra: dict[str, Callable[[], bytes]] = {}
        self._v2_json: tuple[bytes, str] | None = None
        self._v2_pb: tuple[bytes, str] | None = None
        self.v2_extra_definitions: dict[str, Any] = {}
        self.v2_extra_paths: dict[str, Any] = {}

    # ----------------------------------------------------------------- v3
    def v3_paths(self) -> list[str]:
        paths = [("api/v1" if not g else f"apis/{g}/{v}") for g, v in served_group_versions()]
        paths += [p for p in self._v3_extra if p not in paths]
        return sorted(paths)

    def v3_document(self, path: str) -> tuple[bytes, str] | None:
        hit = self._v3.get(path)
        if hit is not None:
            return hit
        if path in self._v3_extra:
            body = self._v3_extra[path]()
        elif path == "api/v1":
            body = openapi_v3_document("", "v1")
        elif path.startswith("apis/") and path.count("/") == 2:
            _, g, v = path.split("/")
            if (g, v) not in served_group_versions():
                return None
            body = openapi_v3_document(g, v)
        else:
            return None
        hit = (body, _hash(body))
        self._v3[path] = hit
        return hit

    def v3_index(self) -> bytes:
        out: dict[str, Any] = {"paths": {}}
        for p in self.v3_paths():
            doc = self.v3_document(p)
            if doc is None:
                continue
            out["paths"][p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={doc[1]}"}
        return orjson.dumps(out)

    def set_v3_extra(self, path: str, build: Callable[[], bytes] | None) -> None:
        self._v3.pop(path, None)
        if build is None:
            self._v3_extra.pop(path, None)
        else:
            self._v3_extra[path] = build
        self._v2_json = None
        self._v2_pb = None

    # ----------------------------------------------------------------- v2
    def _v2_doc(self) -> dict[str, Any]:
        doc = openapi_v2_document()
        if not self.v2_extra_definitions and not self.v2_extra_paths:
            return doc
        merged = dict(doc)
        merged["definitions"] = {**doc.get("definitions", {}), **self.v2_extra_definitions}
        merged["paths"] = {**doc.get("paths", {}), **self.v2_extra_paths}
        return merged

    def v2_json(self) -> tuple[bytes, str]:
        if self._v2_json is None:
            body = orjson.dumps(self._v2_doc())
            self._v2_json = (body, _hash(body))
        return self._v2_json

    def v2_protobuf(self) -> tuple[bytes, str] | None:
        if self._v2_pb is None:
            try:
                from kybernetes.machinery.protobuf.openapi_v2 import openapi_v2_protobuf
            except ImportError:
                return None
            body = openapi_v2_protobuf(self._v2_doc())
            self._v2_pb = (body, _hash(body))
        return self._v2_pb
