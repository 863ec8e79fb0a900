"""The structural schema rules a v1 CRD's `openAPIV3Schema` must follow.

Pruning, defaulting and server-side apply only work on *structural* schemas: every field has a type (or is
int-or-string / preserve-unknown-fields), the root is an object, metadata may only constrain name and
generateName, value validations (allOf/anyOf/oneOf/not) may not introduce types, and the Kubernetes extensions are
used consistently. Upstream refuses other schemas in apiextensions.k8s.io/v1; this is that check, with upstream's
field paths (`...openAPIV3Schema.properties[spec].type`) and messages.
"""

from __future__ import annotations

import copy
from enum import Enum
from typing import Any

from kybernetes.apiserver.crd import structural, validator
from kybernetes.machinery.errors import FieldError

Schema = dict[str, Any]


class Level(Enum):
    ROOT = "root"
    ITEM = "item"
    FIELD = "field"


_UNSUPPORTED = ("$ref", "definitions", "dependencies", "patternProperties", "additionalItems")


def validate_schema(schema: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    _generic(schema, path, errs)
    _structural(schema, Level.ROOT, path, errs)
    _defaults(schema, path, errs)
    return errs


def _key(path: str, k: str) -> str:
    return f"{path}.properties[{k}]"


# ------------------------------------------------------------------- extensions and unsupported keywords


def _generic(s: Any, path: str, errs: list[FieldError]) -> None:
    """ValidateCustomResourceDefinitionOpenAPISchema: keywords and extensions, at every node."""
    if not isinstance(s, dict):
        return
    for k in _UNSUPPORTED:
        if k in s:
            errs.append(FieldError("forbidden", f"{path}.{k}", detail=f"{k} is not supported"))
    if s.get("uniqueItems") is True:
        errs.append(
            FieldError(
                "forbidden",
                f"{path}.uniqueItems",
                detail="uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    add = s.get("additionalProperties")
    if add is False:
        errs.append(FieldError("forbidden", f"{path}.additionalProperties", detail="additionalProperties cannot be set to false"))
    if add is not None and structural.properties(s) and (add is False or isinstance(add, dict)):
        errs.append(
            FieldError("forbidden", f"{path}.additionalProperties", detail="additionalProperties and properties are mutual exclusive")
        )
    if isinstance(add, dict):
        _generic(add, f"{path}.additionalProperties", errs)
    for k, sub in structural.properties(s).items():
        _generic(sub, _key(path, k), errs)
    for kw in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(kw) or []):
            _generic(sub, f"{path}.{kw}[{i}]", errs)
    if isinstance(s.get("not"), dict):
        _generic(s["not"], f"{path}.not", errs)
    it = s.get("items")
    if isinstance(it, list):
        errs.append(FieldError("forbidden", f"{path}.items", detail="items must be a schema object and not an array"))
    elif isinstance(it, dict):
        _generic(it, f"{path}.items", errs)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(FieldError("invalid", f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    _map_and_list_types(s, path, errs)


def _map_and_list_types(s: Schema, path: str, errs: list[FieldError]) -> None:
    typ = s.get("type")
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None:
        if typ != "object":
            kind = "required" if not typ else "invalid"
            errs.append(FieldError(kind, f"{path}.type", typ, "must be object if x-kubernetes-map-type is specified"))
        if map_type not in ("atomic", "granular"):
            errs.append(FieldError("notsupported", f"{path}.x-kubernetes-map-type", map_type, 'supported values: "atomic", "granular"'))
    list_type = s.get("x-kubernetes-list-type")
    it = structural.items(s)
    if list_type is not None:
        if typ != "array":
            kind = "required" if not typ else "invalid"
            errs.append(FieldError(kind, f"{path}.type", typ, "must be array if x-kubernetes-list-type is specified"))
        elif list_type == "set" and it is not None:
            if it.get("type") == "array" and it.get("x-kubernetes-list-type") not in (None, "atomic"):
                errs.append(
                    FieldError("invalid", f"{path}.items.x-kubernetes-list-type", it.get("x-kubernetes-list-type"),
                               "must be atomic as item of a list with x-kubernetes-list-type=set")
                )
            if it.get("type") == "object" and it.get("x-kubernetes-map-type") != "atomic":
                errs.append(
                    FieldError("invalid", f"{path}.items.x-kubernetes-map-type", it.get("x-kubernetes-map-type"),
                               "must be atomic as item of a list with x-kubernetes-list-type=set")
                )
        if list_type not in ("atomic", "set", "map"):
            errs.append(
                FieldError("notsupported", f"{path}.x-kubernetes-list-type", list_type, 'supported values: "atomic", "set", "map"')
            )
    keys = s.get("x-kubernetes-list-map-keys") or []
    if keys:
        if list_type is None:
            errs.append(FieldError("required", f"{path}.x-kubernetes-list-type", detail="must be map if x-kubernetes-list-map-keys is non-empty"))
        elif list_type != "map":
            errs.append(FieldError("invalid", f"{path}.x-kubernetes-list-type", list_type, "must be map if x-kubernetes-list-map-keys is non-empty"))
    if list_type == "map":
        if not keys:
            errs.append(FieldError("required", f"{path}.x-kubernetes-list-map-keys", detail="must not be empty if x-kubernetes-list-type is map"))
        if it is None:
            errs.append(FieldError("required", f"{path}.items", detail="must have a schema if x-kubernetes-list-type is map"))
        elif it.get("type") != "object":
            errs.append(FieldError("invalid", f"{path}.items.type", it.get("type"), "must be object if parent array's x-kubernetes-list-type is map"))
        else:
            props = structural.properties(it)
            seen: set[str] = set()
            for k in keys:
                if k in props:
                    if props[k].get("type") in ("array", "object"):
                        errs.append(
                            FieldError("invalid", f"{_key(path + '.items', k)}.type", props[k].get("type"),
                                       "must be a scalar type if parent array's x-kubernetes-list-type is map")
                        )
                else:
                    errs.append(FieldError("invalid", f"{path}.x-kubernetes-list-map-keys", str(keys), "entries must all be names of item properties"))
                if k in seen:
                    errs.append(FieldError("invalid", f"{path}.x-kubernetes-list-map-keys", str(keys), "must not contain duplicate entries"))
                seen.add(k)


# ---------------------------------------------------------------------------------- structural rules


def _is_int_or_string_any_of(s: Schema) -> bool:
    any_of = s.get("anyOf") or []
    return sorted(str((x or {}).get("type")) for x in any_of if isinstance(x, dict)) == ["integer", "string"]


def _structural(s: Any, lvl: Level, path: str, errs: list[FieldError]) -> None:
    if not isinstance(s, dict):
        return
    typ = s.get("type")
    if typ == "array" and "items" not in s:
        errs.append(FieldError("required", f"{path}.items", detail="must be specified"))
    it = structural.items(s)
    if it is not None:
        _structural(it, Level.ITEM, f"{path}.items", errs)
    for k, sub in structural.properties(s).items():
        _structural(sub, Level.FIELD, _key(path, k), errs)
    add = structural.additional(s)
    if isinstance(s.get("additionalProperties"), dict) and add is not None:
        _structural(add, Level.FIELD, f"{path}.additionalProperties", errs)
    ios = bool(s.get("x-kubernetes-int-or-string"))
    emb = bool(s.get("x-kubernetes-embedded-resource"))
    pres = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    if ios and pres:
        errs.append(FieldError("invalid", f"{path}.x-kubernetes-preserve-unknown-fields", True, "must be false if x-kubernetes-int-or-string is true"))
    if ios and emb:
        errs.append(FieldError("invalid", f"{path}.x-kubernetes-embedded-resource", True, "must be false if x-kubernetes-int-or-string is true"))
    if ios and typ:
        errs.append(FieldError("invalid", f"{path}.type", typ, "must be empty if x-kubernetes-int-or-string is true"))
    if emb and typ != "object":
        kind = "required" if not typ else "invalid"
        errs.append(FieldError(kind, f"{path}.type", typ, "must be object if x-kubernetes-embedded-resource is true"))
    elif not typ and not emb and not ios and not pres:
        what = {
            Level.ROOT: "must not be empty at the root",
            Level.ITEM: "must not be empty for specified array items",
            Level.FIELD: "must not be empty for specified object fields",
        }[lvl]
        errs.append(FieldError("required", f"{path}.type", detail=what))
    if emb and "additionalProperties" in s:
        errs.append(FieldError("required", f"{path}.additionalProperties", detail="must not be used if x-kubernetes-embedded-resource is set"))
    if lvl is Level.ROOT and typ and typ != "object":
        errs.append(FieldError("invalid", f"{path}.type", typ, "must be object at the root"))
    props = structural.properties(s)
    if lvl is Level.ROOT:
        for k in ("kind", "apiVersion"):
            if k in props and props[k].get("type") != "string":
                errs.append(FieldError("invalid", f"{_key(path, k)}.type", props[k].get("type"), "must be string"))
    if "metadata" in props and (lvl is Level.ROOT or emb):
        _metadata(props["metadata"], _key(path, "metadata"), errs)
    if emb and not pres and not props:
        errs.append(
            FieldError(
                "required",
                f"{path}.properties",
                detail="must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
            )
        )
    for kw in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(kw) or []):
            skip_types = ios and (kw == "anyOf" or (kw == "allOf" and _is_int_or_string_any_of(sub or {})))
            _nested(sub, f"{path}.{kw}[{i}]", errs, allow_type=ios and kw == "anyOf", skip_any_of=skip_types)
    if isinstance(s.get("not"), dict):
        _nested(s["not"], f"{path}.not", errs)


def _metadata(s: Schema, path: str, errs: list[FieldError]) -> None:
    allowed = {"name", "generateName"}
    props = structural.properties(s)
    extra_keys = set(s) - {"type", "properties", "description"}
    bad_props = [k for k, v in props.items() if k not in allowed or set(v) - {"type", "description"} or v.get("type") != "string"]
    if s.get("type") not in (None, "object") or extra_keys or bad_props:
        errs.append(
            FieldError(
                "forbidden",
                path,
                detail="must not specify anything other than name and generateName, but metadata is implicitly specified",
            )
        )


_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be undefined to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
)


def _nested(s: Any, path: str, errs: list[FieldError], *, allow_type: bool = False, skip_any_of: bool = False) -> None:
    """A value validation under allOf/anyOf/oneOf/not: it may constrain values but not shape them."""
    if not isinstance(s, dict):
        return
    for k, why in _NESTED_FORBIDDEN:
        if k == "type" and allow_type:
            continue
        v = s.get(k)
        if v is None or v is False or v == "" or v == []:
            continue
        errs.append(FieldError("forbidden", f"{path}.{k}", detail=why))
    if "metadata" in structural.properties(s):
        errs.append(FieldError("forbidden", _key(path, "metadata"), detail="must not be specified in a nested context"))
    for k, sub in structural.properties(s).items():
        _nested(sub, _key(path, k), errs)
    if isinstance(s.get("items"), dict):
        _nested(s["items"], f"{path}.items", errs)
    for kw in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(kw) or []):
            _nested(sub, f"{path}.{kw}[{i}]", errs, allow_type=skip_any_of and kw == "anyOf")
    if isinstance(s.get("not"), dict):
        _nested(s["not"], f"{path}.not", errs)


# -------------------------------------------------------------------------------------------- defaults


def _defaults(s: Any, path: str, errs: list[FieldError], in_meta: bool = False) -> None:
    """Every `default` must validate against its schema and survive pruning unchanged."""
    if not isinstance(s, dict):
        return
    if "default" in s:
        d = s["default"]
        dpath = f"{path}.default"
        if in_meta:
            errs.append(FieldError("forbidden", dpath, detail="must not be set inside metadata"))
        elif d is None and not s.get("nullable"):
            errs.append(FieldError("invalid", dpath, None, "must not be null for a non-nullable field"))
        else:
            for e in validator.validate_value(d, s):
                e.field = dpath if e.field == "<nil>" else f"{dpath}.{e.field}"
                errs.append(e)
            pruned_copy = copy.deepcopy(d)
            if isinstance(pruned_copy, dict | list):
                lost: list[str] = []
                structural._prune(pruned_copy, s, "", lost)
                if lost:
                    errs.append(FieldError("invalid", dpath, str(d), "must not have unknown fields"))
    for k, sub in structural.properties(s).items():
        _defaults(sub, _key(path, k), errs, in_meta or (k == "metadata" and path.endswith("openAPIV3Schema")))
    if isinstance(s.get("additionalProperties"), dict):
        _defaults(s["additionalProperties"], f"{path}.additionalProperties", errs, in_meta)
    if isinstance(s.get("items"), dict):
        _defaults(s["items"], f"{path}.items", errs, in_meta)
