"""Schema-guided walks over JSON values, as structured-merge-diff's ``typed`` package.

Why: server-side apply is defined in terms of four operations on typed values -- the set of fields a
value sets (``to_field_set``), the difference between two values (``compare``), merging an applied
configuration into the live object (``merge``) and removing fields (``remove_items``).  They all walk
the value and the schema together, so list items are identified by their list-map key or set value
rather than by position, atomic lists and maps are treated as single leaves, and structs differ from
string maps in whether a key is a member of the set.

Values not matching their schema are handled by their own shape (leniency the API server relies on:
validation happens elsewhere), except in an applied configuration, where ``validate`` rejects them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kybernetes.machinery.patch.schema import Kind, Node

from .fieldpath import FIELD, KEY, FieldSet, Path, PathElement, path_string
from .jsonvalue import json_equal

SCALAR, MAP, LIST, ATOMIC = "scalar", "map", "list", "atomic"


class _Absent:
    """Marks a value that is not there at all (as opposed to ``null``)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class TypedError(ValueError):
    """A value cannot be interpreted with its schema (e.g. a list-map item without its key)."""


def shape(node: Node, value: Any) -> str:
    """How a value is walked under a node: as a scalar leaf, an atomic leaf, a map or a list."""
    kind = node.kind
    if kind is Kind.SCALAR:
        return SCALAR
    if kind is Kind.OBJECT:
        if value is None or isinstance(value, dict):
            return ATOMIC if node.atomic else MAP
        return SCALAR
    if kind is Kind.LIST:
        if value is None or isinstance(value, list):
            return ATOMIC if node.list_type == "atomic" else LIST
        return SCALAR
    if isinstance(value, dict):
        return ATOMIC if node.atomic else MAP
    if isinstance(value, list):
        return ATOMIC
    return SCALAR


def list_item_pe(node: Node, item: Any, index: int) -> PathElement:
    """The path element of a list item: its key, its value (sets) or its index."""
    if node.list_type == "map" and node.map_keys:
        if item is None:
            raise TypedError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise TypedError("associative list with keys may not have non-map elements")
        item_node = node.item()
        pairs = []
        for key in node.map_keys:
            if key in item:
                pairs.append((key, item[key]))
                continue
            found, default = item_node.key_default(key)
            if not found:
                raise TypedError(
                    f'associative list with keys has an element that omits key field "{key}" '
                    "(and doesn't have default value)"
                )
            pairs.append((key, default))
        return PathElement.key(pairs)
    if node.list_type in ("set", "map"):
        if isinstance(item, dict):
            raise TypedError("associative list without keys has an element that's a map type")
        if isinstance(item, list):
            raise TypedError("associative list without keys has an element that's a list type")
        return PathElement.of_value(item)
    return PathElement.index(index)


def child_node(node: Node, pe: PathElement) -> Node:
    return node.field(pe.value) if pe.kind == FIELD else node.item()


def _indexed(
    node: Node, items: list[Any] | None, where: str
) -> tuple[list[PathElement], dict[PathElement, list[Any]]]:
    """Path elements in first-seen order, and every item per element (duplicates kept)."""
    order: list[PathElement] = []
    groups: dict[PathElement, list[Any]] = {}
    for i, item in enumerate(items or ()):
        try:
            pe = list_item_pe(node, item, i)
        except TypedError as exc:
            raise TypedError(f"{where}element {i}: {exc}") from None
        group = groups.get(pe)
        if group is None:
            groups[pe] = [item]
            order.append(pe)
        else:
            group.append(item)
    return order, groups


# -- to_field_set ---------------------------------------------------------------------------------------


def to_field_set(value: Any, node: Node) -> FieldSet:
    """The fields a value sets (``TypedValue.ToFieldSet``)."""
    out = FieldSet()
    _field_set(value, node, out)
    return out


def _field_set(value: Any, node: Node, out: FieldSet) -> bool:
    """Fill ``out`` with the paths below ``value``; True if the value's own path is a member."""
    kind = shape(node, value)
    if kind in (SCALAR, ATOMIC):
        return True
    if kind == LIST:
        order, groups = _indexed(node, value, "")
        item_node = node.item()
        for pe in order:
            out.members.add(pe)
            group = groups[pe]
            if len(group) > 1:  # duplicates are owned as a whole
                continue
            child = FieldSet()
            _field_set(group[0], item_node, child)
            if not child.empty():
                out.children[pe] = child
        return False
    for key, item in (value or {}).items():
        pe = PathElement.field(key)
        child = FieldSet()
        member = _field_set(item, node.field(key), child)
        if member or not node.has_field(key):
            out.members.add(pe)
        if not child.empty():
            out.children[pe] = child
    return False


def ensure_named_fields_are_members(fields: FieldSet, node: Node) -> FieldSet:
    """Add declared struct fields that have children as members (``EnsureNamedFieldsAreMembers``)."""
    out = FieldSet(fields.members)
    for pe, child in fields.children.items():
        if pe.kind == FIELD and node.has_field(pe.value):
            out.members.add(pe)
        sub = (
            node.field(pe.value) if pe.kind == FIELD else node.item() if pe.kind == KEY else node.nav.deduced
        )
        out.children[pe] = ensure_named_fields_are_members(child, sub)
    return out


# -- compare --------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """Fields removed, modified and added going from lhs to rhs."""

    removed: FieldSet
    modified: FieldSet
    added: FieldSet

    def is_same(self) -> bool:
        return self.removed.empty() and self.modified.empty() and self.added.empty()

    def exclude(self, fields: FieldSet) -> Comparison:
        return Comparison(
            self.removed.recursive_difference(fields),
            self.modified.recursive_difference(fields),
            self.added.recursive_difference(fields),
        )


def compare(lhs: Any, rhs: Any, node: Node) -> Comparison:
    """``TypedValue.Compare``: what changed from ``lhs`` to ``rhs``."""
    result = Comparison(FieldSet(), FieldSet(), FieldSet())
    _compare(lhs, rhs, node, (), result)
    return result


def _compare(lhs: Any, rhs: Any, node: Node, path: Path, out: Comparison) -> None:
    lshape = shape(node, lhs) if lhs is not ABSENT else None
    rshape = shape(node, rhs) if rhs is not ABSENT else None
    if lshape is not None and rshape is not None and lshape != rshape:
        out.modified.insert(path)
        if lshape in (MAP, LIST):
            _compare_children(lhs, ABSENT, node, lshape, path, out)
        if rshape in (MAP, LIST):
            _compare_children(ABSENT, rhs, node, rshape, path, out)
        return
    kind = lshape or rshape
    leaf = kind in (SCALAR, ATOMIC) or (not _non_empty(lhs) and not _non_empty(rhs))
    if leaf:
        if lhs is ABSENT:
            out.added.insert(path)
        elif rhs is ABSENT:
            out.removed.insert(path)
        elif not json_equal(lhs, rhs):
            out.modified.insert(path)
        return
    _compare_children(lhs, rhs, node, str(kind), path, out)
    if lhs is ABSENT:
        out.added.insert(path)
    elif rhs is ABSENT:
        out.removed.insert(path)


def _non_empty(value: Any) -> bool:
    return isinstance(value, dict | list) and len(value) > 0


def _compare_children(lhs: Any, rhs: Any, node: Node, kind: str, path: Path, out: Comparison) -> None:
    if kind == MAP:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        for key, lval in lmap.items():
            pe = PathElement.field(key)
            _compare(lval, rmap.get(key, ABSENT), node.field(key), (*path, pe), out)
        for key, rval in rmap.items():
            if key not in lmap:
                _compare(ABSENT, rval, node.field(key), (*path, PathElement.field(key)), out)
        return
    item_node = node.item()
    lorder, lgroups = _indexed(node, lhs if isinstance(lhs, list) else None, "lhs: ")
    rorder, rgroups = _indexed(node, rhs if isinstance(rhs, list) else None, "rhs: ")
    for pe in rorder:
        rgroup = rgroups[pe]
        lgroup = lgroups.get(pe, [])
        sub = (*path, pe)
        if len(lgroup) <= 1 and len(rgroup) <= 1:
            _compare(lgroup[0] if lgroup else ABSENT, rgroup[0], item_node, sub, out)
        elif len(lgroup) >= 2 and len(rgroup) >= 2:
            if not json_equal(lgroup, rgroup):
                out.modified.insert(sub)
        elif len(lgroup) >= 2:
            _compare(ABSENT, rgroup[0], item_node, sub, out)
            out.removed.insert(sub)
        else:
            if lgroup:
                _compare(lgroup[0], ABSENT, item_node, sub, out)
            out.added.insert(sub)
    for pe in lorder:
        if pe not in rgroups:
            lgroup = lgroups[pe]
            if len(lgroup) == 1:
                _compare(lgroup[0], ABSENT, item_node, (*path, pe), out)
            else:
                out.removed.insert((*path, pe))


# -- merge ----------------------------------------------------------------------------------------------


def merge(lhs: Any, rhs: Any, node: Node) -> Any:
    """``TypedValue.Merge``: ``rhs`` (an applied configuration) merged over ``lhs`` (the live object)."""
    if rhs is ABSENT:
        return lhs
    if lhs is ABSENT:
        return rhs
    lshape, rshape = shape(node, lhs), shape(node, rhs)
    if lshape != rshape or lshape in (SCALAR, ATOMIC):
        return rhs
    if not _non_empty(lhs) and not _non_empty(rhs):
        return rhs
    if lshape == MAP:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        out = {k: merge(v, rmap.get(k, ABSENT), node.field(k)) for k, v in lmap.items()}
        for k, v in rmap.items():
            if k not in lmap:
                out[k] = v
        return out
    return _merge_list(lhs if isinstance(lhs, list) else [], rhs if isinstance(rhs, list) else [], node)


def _merge_list(lhs: list[Any], rhs: list[Any], node: Node) -> list[Any]:
    """Merge list items by key, keeping the live order and placing new items as the config orders them."""
    item_node = node.item()
    lorder, lgroups = _indexed(node, lhs, "lhs: ")
    rorder, rgroups = _indexed(node, rhs, "rhs: ")
    for pe in rorder:
        if len(rgroups[pe]) > 1:
            raise TypedError(f"duplicate entries for key {pe}")
    shared = [pe for pe in rorder if pe in lgroups]
    out: list[Any] = []

    def emit(pe: PathElement) -> None:
        lgroup = lgroups.get(pe)
        if pe in rgroups:
            rval = rgroups[pe][0]
            if lgroup is not None and len(lgroup) == 1:
                out.append(merge(lgroup[0], rval, item_node))
            else:
                out.append(rval)
        else:
            out.extend(lgroup or ())

    next_shared = 0
    li = ri = 0
    while li < len(lorder) or ri < len(rorder):
        if li < len(lorder) and ri < len(rorder):
            pe = lorder[li]
            if pe == rorder[ri]:
                emit(pe)
                li += 1
                ri += 1
                next_shared += 1
                continue
            if pe in rgroups and next_shared < len(shared) and shared[next_shared] != pe:
                li += 1
                continue
        if li < len(lorder) and lorder[li] not in rgroups:
            emit(lorder[li])
            li += 1
            continue
        if ri < len(rorder):
            pe = rorder[ri]
            emit(pe)
            ri += 1
            if next_shared < len(shared) and shared[next_shared] == pe:
                next_shared += 1
            continue
        li += 1  # a shared item already emitted from the config side
    return out


# -- remove ---------------------------------------------------------------------------------------------


def remove_items(value: Any, fields: FieldSet, node: Node) -> Any:
    """``TypedValue.RemoveItems``: the value without the given fields; ABSENT if nothing is left."""
    kind = shape(node, value)
    if kind == LIST and value:
        item_node = node.item()
        items = []
        for i, item in enumerate(value):
            try:
                pe = list_item_pe(node, item, i)
            except TypedError:
                pe = PathElement.index(i)
            if pe in fields.members:
                continue
            sub = fields.children.get(pe)
            if sub is not None and not sub.empty():
                item = remove_items(item, sub, item_node)
                if item is ABSENT:
                    continue
            items.append(item)
        return items if items else ABSENT
    if kind == MAP and value:
        out = {}
        for key, item in value.items():
            pe = PathElement.field(key)
            if pe in fields.members:
                continue
            sub = fields.children.get(pe)
            if sub is not None and not sub.empty():
                item = remove_items(item, sub, node.field(key))
                if item is ABSENT:
                    continue
            out[key] = item
        return out if out else ABSENT
    return value


# -- validation of applied configurations --------------------------------------------------------------


def validate(value: Any, node: Node) -> None:
    """Reject an applied configuration whose shape contradicts its schema, or with duplicate keys."""
    for path, message in _problems(value, node, ()):
        raise TypedError(f"{path_string(path)}: {message}" if path else message)


def _problems(value: Any, node: Node, path: Path) -> Iterator[tuple[Path, str]]:
    if value is None:
        return
    kind = node.kind
    if kind is Kind.OBJECT and not isinstance(value, dict):
        yield path, f"expected map, got {_type_name(value)}"
        return
    if kind is Kind.LIST and not isinstance(value, list):
        yield path, f"expected list, got {_type_name(value)}"
        return
    if kind is Kind.SCALAR and isinstance(value, dict | list):
        yield path, f"expected scalar, got {_type_name(value)}"
        return
    kind_of_walk = shape(node, value)
    if kind_of_walk == MAP:
        for key, item in value.items():
            yield from _problems(item, node.field(key), (*path, PathElement.field(key)))
    elif kind_of_walk == LIST:
        try:
            order, groups = _indexed(node, value, "")
        except TypedError as exc:
            yield path, str(exc)
            return
        for pe in order:
            if len(groups[pe]) > 1:
                yield path, f"duplicate entries for key {pe}"
                return
            yield from _problems(groups[pe][0], node.item(), (*path, pe))


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"
