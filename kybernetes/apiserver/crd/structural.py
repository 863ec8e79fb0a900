"""What a structural schema does to a custom resource before it is validated: null pruning, defaulting, pruning.

Upstream's apiextensions-apiserver decodes every custom resource through the schema of its version: non-nullable
nulls without a default are dropped, `default:` values are filled in, and fields the schema does not declare are
pruned (unless `x-kubernetes-preserve-unknown-fields`), with ObjectMeta-shaped metadata at the root and in every
`x-kubernetes-embedded-resource`. The pruned paths are what `fieldValidation=Strict` reports as unknown fields.
These functions work on plain JSON values and the CRD's `openAPIV3Schema` dicts, in place.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]

# Fields of metav1.ObjectMeta: anything else under metadata is dropped on decode, like upstream.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_META_KEYS = ("apiVersion", "kind", "metadata")


def properties(s: Schema | None) -> dict[str, Schema]:
    p = (s or {}).get("properties")
    return p if isinstance(p, dict) else {}


def additional(s: Schema | None) -> Schema | None:
    """The additionalProperties schema; `true` counts as an empty (preserving) schema."""
    a = (s or {}).get("additionalProperties")
    if a is True:
        return {"x-kubernetes-preserve-unknown-fields": True}
    return a if isinstance(a, dict) else None


def items(s: Schema | None) -> Schema | None:
    i = (s or {}).get("items")
    return i if isinstance(i, dict) else None


def preserves(s: Schema | None) -> bool:
    return bool((s or {}).get("x-kubernetes-preserve-unknown-fields"))


def embedded(s: Schema | None) -> bool:
    return bool((s or {}).get("x-kubernetes-embedded-resource"))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------------------------- pruning


def prune(obj: dict[str, Any], schema: Schema | None) -> list[str]:
    """Drop undeclared fields from a resource in place; returns the pruned paths (`spec.foo`, `metadata.x`).

    The root is a resource: apiVersion, kind and metadata stay (metadata is cut to ObjectMeta fields).
    """
    pruned: list[str] = []
    root = dict(schema or {})
    root["x-kubernetes-embedded-resource"] = True
    _prune(obj, root, "", pruned)
    return pruned


def _prune_meta(value: Any, path: str, pruned: list[str]) -> None:
    if isinstance(value, dict):
        for k in [k for k in value if k not in OBJECT_META_FIELDS]:
            pruned.append(_join(path, k))
            del value[k]


def _prune(value: Any, s: Schema | None, path: str, pruned: list[str]) -> None:
    if s is not None and preserves(s):
        _skip_prune(value, s, path, pruned)
        return
    if isinstance(value, dict):
        if s is None:
            for k in list(value):
                pruned.append(_join(path, k))
                del value[k]
            return
        props = properties(s)
        extra = additional(s)
        for k in list(value):
            v = value[k]
            if embedded(s) and k in _META_KEYS:
                if k == "metadata":
                    _prune_meta(v, _join(path, k), pruned)
                    continue
                if isinstance(v, str):
                    continue
            if k in props:
                _prune(v, props[k], _join(path, k), pruned)
            elif extra is not None:
                _prune(v, extra, _join(path, k), pruned)
            else:
                pruned.append(_join(path, k))
                del value[k]
    elif isinstance(value, list):
        sub = items(s) if s is not None else None
        for i, v in enumerate(value):
            _prune(v, sub, f"{path}[{i}]", pruned)


def _skip_prune(value: Any, s: Schema, path: str, pruned: list[str]) -> None:
    """preserve-unknown-fields: keep unknown keys, but still prune inside the declared ones."""
    if isinstance(value, dict):
        props = properties(s)
        extra = additional(s)
        for k, v in value.items():
            if embedded(s) and k in _META_KEYS:
                if k == "metadata":
                    _prune_meta(v, _join(path, k), pruned)
                continue
            if k in props:
                _prune(v, props[k], _join(path, k), pruned)
            elif extra is not None:
                _prune(v, extra, _join(path, k), pruned)
    elif isinstance(value, list):
        sub = items(s)
        if sub is not None:
            for i, v in enumerate(value):
                _skip_prune(v, sub, f"{path}[{i}]", pruned)


# ------------------------------------------------------------------------------------------ defaulting


def _non_nullable_null(v: Any, s: Schema | None) -> bool:
    return v is None and s is not None and not s.get("nullable")


def prune_nulls(value: Any, s: Schema | None) -> None:
    """Drop non-nullable nulls that have no default (those with one get defaulted instead)."""
    if s is None:
        return
    if isinstance(value, dict):
        props = properties(s)
        extra = additional(s)
        for k in list(value):
            sub = props.get(k, extra)
            if sub is None:
                continue
            v = value[k]
            if v is None and "default" not in sub and not sub.get("nullable"):
                del value[k]
            else:
                prune_nulls(v, sub)
    elif isinstance(value, list):
        sub = items(s)
        for v in value:
            prune_nulls(v, sub)


def apply_defaults(value: Any, s: Schema | None) -> None:
    """Fill in `default:` values for absent (or non-nullable null) fields, recursively, in place."""
    if s is None:
        return
    if isinstance(value, dict):
        props = properties(s)
        for k, prop in props.items():
            if "default" not in prop:
                continue
            if k not in value or _non_nullable_null(value[k], prop):
                value[k] = copy.deepcopy(prop["default"])
        extra = additional(s)
        for k, v in list(value.items()):
            if k in props:
                apply_defaults(v, props[k])
            elif extra is not None:
                if _non_nullable_null(v, extra) and "default" in extra:
                    value[k] = copy.deepcopy(extra["default"])
                apply_defaults(value[k], extra)
    elif isinstance(value, list):
        sub = items(s)
        if sub is None:
            return
        for i in range(len(value)):
            if _non_nullable_null(value[i], sub) and "default" in sub:
                value[i] = copy.deepcopy(sub["default"])
            apply_defaults(value[i], sub)


def normalize(obj: dict[str, Any], schema: Schema | None) -> list[str]:
    """The decode pipeline for one custom resource: null pruning, defaulting, pruning. Returns pruned paths."""
    prune_nulls(obj, schema)
    apply_defaults(obj, schema)
    return prune(obj, schema)
