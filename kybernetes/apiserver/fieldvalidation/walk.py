"""Walking a request body against the built-in schema: unknown fields, duplicate keys and pruning.

Why a walk of our own: upstream decodes JSON into Go structs, and the strict decoder (sigs.k8s.io/json) notes every
key that has no struct field ("unknown field") and every key seen twice in one object ("duplicate field") while it
goes, in document order, naming them by their path (`spec.template.spec.containers[0].foo`). Decoding then simply
drops what had no field, so a stored built-in object never carries unknown fields. Here the schema navigator of the
patch engines stands in for the Go types: a struct is a schema node with `properties`, a map one with
`additionalProperties`, and objects with neither (FieldsV1, RawExtension, preserve-unknown-fields) are opaque.
"""

from __future__ import annotations

from typing import Any

from kybernetes.machinery.patch import PathElement, path_string
from kybernetes.machinery.patch.schema import Kind, Node


class Pairs(list[tuple[str, Any]]):
    """A JSON object as the (key, value) pairs it was written with, duplicates and order kept."""


def struct_fields(node: Node) -> dict[str, Node] | None:
    """The declared fields when `node` is a struct whose unknown keys are errors, else None."""
    if node.kind is not Kind.OBJECT or node.target.get("x-kubernetes-preserve-unknown-fields"):
        return None
    if not node.target.get("properties"):
        return None
    return dict(node.fields())


def _map_values(node: Node) -> Node | None:
    """The value node of a map (`additionalProperties`), None when the object is not a map."""
    if node.kind is Kind.OBJECT and isinstance(node.target.get("additionalProperties"), dict):
        return node.values()
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def scan_pairs(node: Node | None, value: Any, path: str = "") -> list[str]:
    """Strict-decoding errors of a body parsed into `Pairs`, in document order, as upstream words them.

    With `node` None only duplicate keys are reported (a body decoded into a plain map, like a patch).
    """
    out: list[str] = []
    _scan(node, value, path, out)
    return out


def _scan(node: Node | None, value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, Pairs):
        fields = struct_fields(node) if node is not None else None
        values = _map_values(node) if node is not None else None
        seen: set[str] = set()
        for key, child in value:
            where = _join(path, key)
            if key in seen:
                out.append(f'duplicate field "{where}"')
            seen.add(key)
            child_node: Node | None = None
            if fields is not None:
                child_node = fields.get(key)
                if child_node is None:
                    if values is None:
                        out.append(f'unknown field "{where}"')
                        continue
                    child_node = values
            elif values is not None:
                child_node = values
            _scan(child_node, child, where, out)
    elif isinstance(value, list):
        item = node.item() if node is not None and node.kind is Kind.LIST else None
        for i, child in enumerate(value):
            _scan(item, child, f"{path}[{i}]", out)


def prune_unknown(node: Node, obj: Any, path: str = "") -> list[str]:
    """Remove the keys `node` does not declare from `obj` in place; returns their paths (upstream's wording)."""
    out: list[str] = []
    _prune(node, obj, path, out)
    return out


def _prune(node: Node, value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, dict):
        fields = struct_fields(node)
        values = _map_values(node)
        if fields is None:
            if values is not None:
                for key, child in value.items():
                    _prune(values, child, _join(path, key), out)
            return
        for key in list(value):
            child_node = fields.get(key) or values
            if child_node is None:
                out.append(_join(path, key))
                del value[key]
            else:
                _prune(child_node, value[key], _join(path, key), out)
    elif isinstance(value, list) and node.kind is Kind.LIST:
        item = node.item()
        for i, child in enumerate(value):
            _prune(item, child, f"{path}[{i}]", out)


def undeclared_fields(node: Node, obj: Any) -> list[str]:
    """Paths of undeclared fields in structured-merge-diff's form (`.spec.containers[name="x"].foo`).

    Server-side apply converts the applied configuration to a typed value first and fails on the first such
    field with `<path>: field not declared in schema`, whatever fieldValidation says.
    """
    out: list[str] = []
    _undeclared(node, obj, (), out)
    return out


def _undeclared(node: Node, value: Any, path: tuple[PathElement, ...], out: list[str]) -> None:
    if isinstance(value, dict):
        fields = struct_fields(node)
        values = _map_values(node)
        if fields is None:
            if values is not None:
                for key, child in value.items():
                    _undeclared(values, child, (*path, PathElement.field(key)), out)
            return
        for key, child in value.items():
            child_node = fields.get(key) or values
            here = (*path, PathElement.field(key))
            if child_node is None:
                out.append(path_string(here))
            else:
                _undeclared(child_node, child, here, out)
    elif isinstance(value, list) and node.kind is Kind.LIST:
        item = node.item()
        for i, child in enumerate(value):
            _undeclared(item, child, (*path, _list_element(node, child, i)), out)


def _list_element(node: Node, item: Any, index: int) -> PathElement:
    if node.list_type == "map" and node.map_keys and isinstance(item, dict):
        pairs = [(k, item[k]) for k in node.map_keys if k in item]
        if pairs:
            return PathElement.key(pairs)
    if node.list_type == "set" and not isinstance(item, dict | list):
        return PathElement.of_value(item)
    return PathElement.index(index)
