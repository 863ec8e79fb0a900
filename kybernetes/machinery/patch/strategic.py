"""Strategic merge patch: applying ``application/strategic-merge-patch+json`` on the server.

Why: kubectl (``apply``, ``edit``, ``set image``, ``rollout restart``, ``taint``, ``cordon``...) computes
these patches client-side and the server must apply them exactly as upstream's
``strategicpatch.StrategicMergeMapPatch``: lists with a merge key merge item by item, lists without one
are replaced, and directives steer the rest:

* ``$patch: replace|delete`` on a map, ``{"$patch": "delete", "<key>": ...}`` / ``{"$patch": "replace"}``
  inside a merging list;
* ``$retainKeys: [...]`` clears the fields of a map not listed (``retainKeys`` strategies: volumes,
  deployment strategy);
* ``$setElementOrder/<list>: [...]`` fixes the order of the merged list;
* ``$deleteFromPrimitiveList/<list>: [...]`` removes scalars from a merging primitive list;
* ``null`` deletes a key.

The order of merged list items follows upstream exactly, including its surprise: without a
``$setElementOrder`` directive, items new to the list are placed before the items the patch did not
mention.  Errors carry upstream's HTTP status (400 for malformed directives, 422 for lists of lists,
500 for anything else, 415 when the type has no SMP metadata, i.e. custom resources).
"""

from __future__ import annotations

from typing import Any

from .errors import SMPUnsupportedError, StrategicMergePatchError, bad_request, describe, invalid
from .jsonvalue import deep_copy, json_equal, sort_key
from .schema import Node

DIRECTIVE = "$patch"
REPLACE, MERGE, DELETE = "replace", "merge", "delete"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

_DROP: Any = object()


def apply_strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any], node: Node
) -> dict[str, Any]:
    """Apply ``patch`` to ``original`` using the SMP metadata of ``node``; inputs are not modified."""
    if not node.smp_supported:
        raise SMPUnsupportedError(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        )
    if not isinstance(patch, dict) or not isinstance(original, dict):
        raise bad_request("invalid JSON document")
    return _merge_map(deep_copy(original), deep_copy(patch), node)


def _error(message: str) -> StrategicMergePatchError:
    return StrategicMergePatchError(message)


def _no_merge_key(item: Any, key: str) -> StrategicMergePatchError:
    return _error(f"map: {describe(item)} does not contain declared merge key: {key}")


def _bad_type(expected: str, value: Any) -> StrategicMergePatchError:
    return _error(f"expected a {expected}, but received a {_go_type(value)}")


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "<nil>"


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise bad_request("invalid patch format of primitive list")
        raise bad_request("invalid patch format of setElementOrder list")
    return rest


def _clean(value: Any) -> Any:
    """A patch value taken as is: nulls and directives removed (maps with ``$patch`` dropped)."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return _DROP
        out = {}
        for key, item in value.items():
            if item is None or key == RETAIN_KEYS:
                continue
            if key.startswith(SET_ELEMENT_ORDER) or key.startswith(DELETE_FROM_PRIMITIVE_LIST):
                continue
            cleaned = _clean(item)
            if cleaned is not _DROP:
                out[key] = cleaned
        return out
    if isinstance(value, list):
        return [c for c in (_clean(v) for v in value) if c is not _DROP]
    return value


def _container_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


# -- maps -----------------------------------------------------------------------------------------------


def _merge_map(original: Any, patch: dict[str, Any], node: Node) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _map_directive(patch)
    target: dict[str, Any] = original if isinstance(original, dict) else {}
    _apply_retain_keys(target, patch)
    _merge_ordered_lists(target, patch, node)
    for key in list(patch):
        value = patch[key]
        delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if delete_list:
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
        if value is None:
            target.pop(key, None)
            continue
        if key not in target or _container_kind(target[key]) != _container_kind(value):
            if not delete_list:
                cleaned = _clean(value)
                if cleaned is _DROP:
                    target.pop(key, None)
                else:
                    target[key] = cleaned
            continue
        child = node.field(key)
        current = target[key]
        if isinstance(value, dict):
            if child.patch_strategy == REPLACE:
                cleaned = _clean(value)
                target[key] = {} if cleaned is _DROP else cleaned
            else:
                target[key] = _merge_map(current, value, child)
        elif isinstance(value, list):
            target[key] = _merge_list_field(current, value, child, delete_list)
        else:
            target[key] = value
    return target


def _map_directive(patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch[DIRECTIVE]
    if directive == REPLACE:
        del patch[DIRECTIVE]
        cleaned = _clean(patch)
        return {} if cleaned is _DROP else dict(cleaned)
    if directive == DELETE:
        return {}
    raise _error(f"unknown patch type: {directive} in map: {describe(patch)}")


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise bad_request("invalid patch format of retainKeys")
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_FROM_PRIMITIVE_LIST) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if key not in keep:
            raise bad_request("invalid patch format of retainKeys")
    for key in list(original):
        if key not in keep:
            del original[key]


# -- lists ----------------------------------------------------------------------------------------------


def _merge_list_field(original: list[Any], patch: list[Any], node: Node, delete_list: bool) -> list[Any]:
    if node.patch_strategy == MERGE or delete_list:
        return _merge_list(original, patch, node, node.merge_key or "", delete_list)
    cleaned = _clean(patch)
    return list(cleaned)


def _element_kind(*lists: list[Any]) -> str | None:
    kind: str | None = None
    for items in lists:
        for item in items:
            if isinstance(item, list):
                raise invalid("lists of lists are not supported")
            this = "map" if isinstance(item, dict) else _go_type(item).replace("int64", "float64")
            if kind is None:
                kind = this
            elif kind != this:
                raise _error(f"list element types are not identical: {describe(list(lists))}")
    return kind


def _key_of(item: Any, merge_key: str) -> Any:
    """The merge-key value of a map item, or the item itself for primitives (hashable form)."""
    if merge_key:
        if not isinstance(item, dict):
            raise _bad_type("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        return sort_key(item[merge_key])
    return sort_key(item)


def _merge_list(
    original: list[Any], patch: list[Any], node: Node, merge_key: str, delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        if delete_list:
            drop = {sort_key(v) for v in patch}
            return [v for v in original if sort_key(v) not in drop]
        merged = _dedupe(original + patch)
        merge_key = ""
    else:
        if not merge_key:
            raise _error(f"cannot merge lists without merge key for {node.def_name or 'list'}")
        original, patch = _special_elements(original, patch, merge_key)
        merged = _merge_items(list(original), patch, merge_key, node.item())
    return _normalize_order(merged, patch, original, merge_key)


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in items:
        key = sort_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Handle ``$patch`` items: deletes remove from original, replace makes the patch the list."""
    plain = []
    replace = False
    for item in patch:
        directive = item.get(DIRECTIVE, _DROP)
        if directive is _DROP:
            plain.append(item)
        elif directive == DELETE:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            value = item[merge_key]
            kept = []
            for existing in original:
                if not isinstance(existing, dict):
                    raise _error("value for key is not a map")
                if merge_key in existing and json_equal(existing[merge_key], value):
                    continue
                kept.append(existing)
            original = kept
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise _error("merging lists cannot yet be specified in the patch")
        else:
            raise _error(f"unknown patch type: {directive} in map: {describe(item)}")
    if replace:
        return [c for c in (_clean(v) for v in plain) if c is not _DROP], []
    return original, plain


def _merge_items(original: list[Any], patch: list[Any], merge_key: str, item_node: Node) -> list[Any]:
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        value = item[merge_key]
        for i, existing in enumerate(original):
            if not isinstance(existing, dict):
                raise _error(f"value for key {i} is not a map")
            if merge_key in existing and json_equal(existing[merge_key], value):
                original[i] = _merge_map(existing, item, item_node)
                break
        else:
            cleaned = _clean(item)
            if cleaned is not _DROP:
                original.append(cleaned)
    return original


def _normalize_order(
    merged: list[Any], patch: list[Any], server_order: list[Any], merge_key: str
) -> list[Any]:
    """Items of the patch in patch order, the rest in live order, interleaved by live position."""
    in_patch = {_key_of(p, merge_key) for p in patch if not (isinstance(p, dict) and DIRECTIVE in p)}
    patch_items = [m for m in merged if _key_of(m, merge_key) in in_patch]
    server_only = [m for m in merged if _key_of(m, merge_key) not in in_patch]
    return _interleave(
        _sort_by(patch_items, patch, merge_key),
        _sort_by(server_only, server_order, merge_key),
        server_order,
        merge_key,
    )


def _positions(order: list[Any], merge_key: str) -> dict[Any, int]:
    positions: dict[Any, int] = {}
    for i, item in enumerate(order):
        if merge_key and not (isinstance(item, dict) and merge_key in item):
            continue
        positions.setdefault(_key_of(item, merge_key), i)
    return positions


def _sort_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    positions = _positions(order, merge_key)
    return sorted(items, key=lambda item: positions.get(_key_of(item, merge_key), len(order)))


def _interleave(
    patch_items: list[Any], server_only: list[Any], server_order: list[Any], merge_key: str
) -> list[Any]:
    """upstream ``mergeSortedSlice``: a server-only item goes first only if both are in the live list
    and it comes first there."""
    positions = _positions(server_order, merge_key)
    out = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if i >= len(server_only):
            out.append(patch_items[j])
            j += 1
        elif j >= len(patch_items):
            out.append(server_only[i])
            i += 1
        else:
            left = positions.get(_key_of(server_only[i], merge_key), -1)
            right = positions.get(_key_of(patch_items[j], merge_key), -1)
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patch_items[j])
                j += 1
    return out


# -- $setElementOrder -----------------------------------------------------------------------------------


def _merge_ordered_lists(original: dict[str, Any], patch: dict[str, Any], node: Node) -> None:
    """Merge every list that has a ``$setElementOrder/<list>`` directive and impose that order."""
    for key in list(patch):
        if not key.startswith(SET_ELEMENT_ORDER):
            continue
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_type("[]interface {}", order)
        name = _extract_key(key, SET_ELEMENT_ORDER)
        found_original, found_patch = name in original, name in patch
        current, wanted = original.get(name), patch.get(name)
        if found_original and not isinstance(current, list):
            raise _bad_type("[]interface {}", current)
        if found_patch and not isinstance(wanted, list):
            raise _bad_type("[]interface {}", wanted)
        child = node.field(name)
        merge_key = child.merge_key or ""
        _check_order(wanted or [], order, merge_key)
        if isinstance(current, list) and isinstance(wanted, list):
            merged = _merge_list_field(current, wanted, child, False)
        elif isinstance(wanted, list):
            merged = list(_clean(wanted))
        elif isinstance(current, list):
            merged = list(current)
        else:
            continue
        kind = _element_kind(current or [], wanted or [])
        key_name = merge_key if kind == "map" else ""
        in_order = {_key_of(o, key_name) for o in order}
        patch_items = [m for m in merged if _key_of(m, key_name) in in_order]
        server_only = [m for m in merged if _key_of(m, key_name) not in in_order]
        original[name] = _interleave(
            _sort_by(patch_items, order, key_name),
            _sort_by(server_only, current or [], key_name),
            current or [],
            key_name,
        )
        patch.pop(name, None)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list must follow the ``$setElementOrder`` list (deletions aside)."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_type("map[string]interface {}", item)
        items = [i for i in patch_list if i.get(DIRECTIVE) != DELETE]
    p = s = 0
    while p < len(items) and s < len(order):
        if isinstance(items[p], dict) and DIRECTIVE in items[p]:
            p += 1
            continue
        if _key_of(items[p], merge_key) == _key_of(order[s], merge_key):
            p += 1
        s += 1
    if p < len(items) and s >= len(order):
        raise _error(
            f"the order in patch list:\n{describe(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{describe(order)}"
        )
