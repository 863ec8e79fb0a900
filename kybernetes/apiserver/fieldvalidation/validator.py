"""The field validator: which findings a write has, and what each fieldValidation mode does with them.

The hook is called with the object about to be stored (already converted to its storage version) after the body
was decoded (create, update), patched (JSON, merge, strategic) or applied (server-side apply). Unknown fields are
always pruned from that object. Findings are worded after the body the client sent: the raw bytes the handler kept
give the duplicate keys and the document order, the schema of the request's version names the unknown fields.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.fieldvalidation import report
from kybernetes.apiserver.fieldvalidation.duplicates import parse_pairs, yaml_duplicate_keys
from kybernetes.apiserver.fieldvalidation.walk import prune_unknown, scan_pairs, undeclared_fields
from kybernetes.apiserver.handlers import RAW_BODY_KEY
from kybernetes.apiserver.request import (
    APPLY_PATCH,
    JSON,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    media_type,
)
from kybernetes.apiserver.responses import add_warning
from kybernetes.machinery.patch import builtin_root
from kybernetes.machinery.patch.schema import Node

_JSON_BODIES = ("", JSON, "*/*", "text/plain")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FieldValidator:
    """Strict decoding for built-in kinds, after the fact."""

    def validate(self, request: web.Request, info: ResourceInfo, obj: dict[str, Any], mode: str) -> None:
        node = builtin_root(str(obj.get("apiVersion") or info.api_version), str(obj.get("kind") or info.kind))
        if node is None:
            return
        content_type = media_type(request.headers.get("Content-Type"))
        if request.method == "PATCH" and content_type == APPLY_PATCH:
            self._apply(request, info, obj, node, mode)
        elif request.method == "PATCH":
            self._patch(request, obj, node, mode, content_type)
        else:
            self._decode(request, info, obj, node, mode, content_type)

    # -------------------------------------------------------------- create, update
    def _decode(
        self, request: web.Request, info: ResourceInfo, obj: dict[str, Any], node: Node, mode: str, content_type: str
    ) -> None:
        unknown = prune_unknown(node, obj)
        if mode == "Ignore":
            return
        findings = [f'unknown field "{p}"' for p in unknown]
        raw = request.get(RAW_BODY_KEY)
        if content_type in _JSON_BODIES and isinstance(raw, bytes):
            pairs = parse_pairs(raw)
            body_node = builtin_root(info.api_version, info.kind)
            if pairs is not None and body_node is not None:
                findings = scan_pairs(body_node, pairs)
        if not findings:
            return
        if mode == "Strict":
            raise report.decode_error(info.kind, info.version, findings)
        for text in findings:
            add_warning(request, text)

    # ----------------------------------------------------------------- patches
    def _patch(self, request: web.Request, obj: dict[str, Any], node: Node, mode: str, content_type: str) -> None:
        patched_json = report.compact_json(obj) if mode == "Strict" and content_type != STRATEGIC_PATCH else ""
        unknown = prune_unknown(node, obj)
        if mode == "Ignore":
            return
        findings: list[str] = []
        raw = request.get(RAW_BODY_KEY)
        if content_type in (MERGE_PATCH, STRATEGIC_PATCH) and isinstance(raw, bytes):
            pairs = parse_pairs(raw)
            if pairs is not None:
                findings = scan_pairs(None, pairs)
        findings += [f'unknown field "{p}"' for p in unknown]
        if not findings:
            return
        if mode == "Strict":
            if content_type == STRATEGIC_PATCH:
                value = report.go_format(orjson.loads(raw)) if isinstance(raw, bytes) else ""
            else:
                value = patched_json
            raise report.patch_error(findings, value)
        for text in findings:
            add_warning(request, text)

    # ------------------------------------------------------------ server-side apply
    def _apply(self, request: web.Request, info: ResourceInfo, obj: dict[str, Any], node: Node, mode: str) -> None:
        raw = request.get(RAW_BODY_KEY)
        applied = _load_yaml(raw) if isinstance(raw, bytes) else None
        body_node = builtin_root(info.api_version, info.kind)
        if isinstance(applied, dict) and body_node is not None:
            undeclared = undeclared_fields(body_node, applied)
            if undeclared:
                meta = applied.get("metadata") if isinstance(applied.get("metadata"), dict) else {}
                assert isinstance(meta, dict)
                where = report.gvknn(applied, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
                raise report.apply_undeclared_error(where, undeclared)
        prune_unknown(node, obj)
        if mode == "Ignore" or not isinstance(raw, bytes):
            return
        duplicates = yaml_duplicate_keys(raw)
        if not duplicates:
            return
        if mode == "Strict":
            raise report.apply_duplicates_error(duplicates)
        add_warning(request, report.yaml_duplicates_text(duplicates))


def _load_yaml(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError:
        return None
