"""Validation shared by every resource: object metadata and the required fields of the OpenAPI schema.

Upstream validates ObjectMeta the same way for every kind (name format, label and annotation syntax, immutable
system fields). Required fields come from the `required` lists of the upstream OpenAPI definitions, so they do not
have to be typed in per kind; per-kind rules beyond that live in each resource's strategy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from kybernetes.api.resources import ResourceInfo, openapi_v2_document
from kybernetes.machinery.errors import FieldError
from kybernetes.machinery.meta import is_dns1123_label

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _qualified_name_errors(key: str) -> list[str]:
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    errs: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix or len(prefix) > 253 or not re.match(
            r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", prefix
        ):
            errs.append("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.match(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return errs


def validate_object_meta(
    obj: dict[str, Any],
    namespaced: bool,
    name_errors: Callable[[str], list[str]],
    old: dict[str, Any] | None,
) -> list[FieldError]:
    errs: list[FieldError] = []
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [FieldError("required", "metadata")]
    name = meta.get("name")
    if not name:
        if meta.get("generateName"):
            errs.append(FieldError("invalid", "metadata.generateName", meta["generateName"], "name or generateName is required"))
        else:
            errs.append(FieldError("required", "metadata.name", detail="name or generateName is required"))
    elif not isinstance(name, str):
        errs.append(FieldError("invalid", "metadata.name", name, "must be a string"))
    else:
        for msg in name_errors(name):
            errs.append(FieldError("invalid", "metadata.name", name, msg))
    ns = meta.get("namespace")
    if namespaced:
        if ns:
            for msg in is_dns1123_label(ns):
                errs.append(FieldError("invalid", "metadata.namespace", ns, msg))
    labels = meta.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            errs.append(FieldError("invalid", "metadata.labels", labels, "must be a map of strings"))
        else:
            for k, v in labels.items():
                for msg in _qualified_name_errors(k):
                    errs.append(FieldError("invalid", "metadata.labels", k, msg))
                if not isinstance(v, str):
                    errs.append(FieldError("invalid", "metadata.labels", v, "must be a string"))
                elif len(v) > 63 or not _LABEL_VALUE.match(v):
                    errs.append(
                        FieldError(
                            "invalid",
                            "metadata.labels",
                            v,
                            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
                            "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
                            "or 'my_value',  or '12345', regex used for validation is "
                            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                        )
                    )
    ann = meta.get("annotations")
    if ann is not None:
        if not isinstance(ann, dict):
            errs.append(FieldError("invalid", "metadata.annotations", ann, "must be a map of strings"))
        else:
            total = 0
            for k, v in ann.items():
                for msg in _qualified_name_errors(k):
                    errs.append(FieldError("invalid", "metadata.annotations", k, msg))
                if not isinstance(v, str):
                    errs.append(FieldError("invalid", f"metadata.annotations.{k}", v, "must be a string"))
                else:
                    total += len(k) + len(v)
            if total > 256 * 1024:
                errs.append(FieldError("toolong", "metadata.annotations", detail="must have at most 262144 bytes"))
    if old is not None:
        om = old.get("metadata") or {}
        if name and om.get("name") and name != om.get("name"):
            errs.append(FieldError("invalid", "metadata.name", name, "field is immutable"))
    return errs


@cache
def _definitions() -> dict[str, Any]:
    d: dict[str, Any] = openapi_v2_document().get("definitions", {})
    return d


@cache
def _definition_for(group: str, version: str, kind: str) -> str | None:
    for name, schema in _definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []) or []:
            if gvk.get("group", "") == group and gvk.get("version") == version and gvk.get("kind") == kind:
                return name
    return None


def validate_schema_required(info: ResourceInfo, obj: dict[str, Any]) -> list[FieldError]:
    """Required fields (and object/array shape) from the upstream OpenAPI definitions."""
    if info.custom:
        return []
    name = _definition_for(info.group, info.version, info.kind)
    if name is None:
        return []
    errs: list[FieldError] = []
    root = _definitions()[name]
    for k, sub in (root.get("properties") or {}).items():
        # Shallow shape check of every top-level field; deeper ones are walked only where something is required.
        v = obj.get(k)
        if v is None:
            continue
        t = _resolve(sub).get("type") or ("object" if _resolve(sub).get("properties") else None)
        if (t == "object" and not isinstance(v, dict)) or (t == "array" and not isinstance(v, list)):
            errs.append(FieldError("typeinvalid", k, _short(v), f"must be of type {t}"))
    if errs:
        return errs
    _walk(root, obj, "", errs, 0)
    return errs


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return _definitions().get(ref.rsplit("/", 1)[-1], {})  # type: ignore[no-any-return]
    return schema


_MATTERS: dict[int, bool] = {}


def _matters(schema: dict[str, Any], depth: int = 0) -> bool:
    """Whether a schema (or anything below it) has required fields: only those subtrees are walked."""
    schema = _resolve(schema)
    key = id(schema)
    hit = _MATTERS.get(key)
    if hit is not None:
        return hit
    if depth > 40:
        return False
    _MATTERS[key] = False  # cycles (e.g. JSONSchemaProps) count as not mattering while being computed
    result = bool(schema.get("required"))
    subs: list[dict[str, Any]] = list((schema.get("properties") or {}).values())
    subs += [x for x in (schema.get("items"), schema.get("additionalProperties")) if isinstance(x, dict)]
    subs += list(schema.get("allOf") or [])
    for sub in subs:
        if result:
            break
        result = _matters(sub, depth + 1)
    _MATTERS[key] = result
    return result


def _walk(schema: dict[str, Any], value: Any, path: str, errs: list[FieldError], depth: int) -> None:
    if depth > 40 or value is None:
        return
    schema = _resolve(schema)
    if not _matters(schema):
        return
    if "allOf" in schema and not schema.get("properties"):
        for s in schema["allOf"]:
            _walk(s, value, path, errs, depth + 1)
        return
    typ = schema.get("type")
    props = schema.get("properties")
    if typ == "object" or props:
        if not isinstance(value, dict):
            if props or typ == "object":
                errs.append(FieldError("typeinvalid", path or "<root>", _short(value), "must be of type object"))
            return
        for req in schema.get("required", []) or []:
            if req not in value:
                errs.append(FieldError("required", _join(path, req)))
        if props:
            for k, v in value.items():
                sub = props.get(k)
                if sub is not None:
                    _walk(sub, v, _join(path, k), errs, depth + 1)
        add = schema.get("additionalProperties")
        if isinstance(add, dict) and not props:
            for k, v in value.items():
                _walk(add, v, f"{path}[{k}]", errs, depth + 1)
    elif typ == "array":
        if not isinstance(value, list):
            errs.append(FieldError("typeinvalid", path, _short(value), "must be of type array"))
            return
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                _walk(items, v, f"{path}[{i}]", errs, depth + 1)


def _short(v: Any) -> Any:
    return v if isinstance(v, str | int | float | bool) else str(v)[:50]


def _join(path: str, k: str) -> str:
    return f"{path}.{k}" if path else k
