"""Schema-guided walks over JSON values, as structured-merge-diff's ``typed`` package.

Why: server-side apply is defined in terms of four operations on typed values -- the set of fields a
value sets (``to_field_set``), the difference between two values (``compare``), merging an applied
configuration into the live object (``merge``) and removing fields (``remove_items``).  They all walk
the value and the schema together, so list items are identified by their list-map key or set value
rather than by position, atomic lists and maps are treated as single leaves, and structs differ from
string maps in whether a key is a member of the set.

Values not matching their schema are handled by their own shape (leniency the API server relies on:
validation happens elsewhere), except in an applied configuration, where ``validate`` rejects them.

Every write runs some of these walks, so several come in a faster form that gives the same result
(``tests/machinery/patch/test_patch_fastpaths.py`` holds them to a frozen copy of the plain ones):

* ``compare`` skips subtrees that are identical on both sides (``same``), walking them only for the
  errors a keyed list there would raise (``check``, and only under schema nodes that have keyed lists);
* ``changed_fields_v1`` is ``compare``'s changed set written directly as FieldsV1, for creates;
* ``applied_field_set`` validates an applied configuration and writes its field set in one walk;
* ``unowned_fields`` and ``vanished_fields`` are the set algebra of apply's pruning, computed by walking
  the values against the other sets instead of building the field sets of whole objects first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .fieldpath import ELEMENT_ORDER, FIELD, KEY, FieldSet, Path, PathElement, path_string
from .jsonvalue import json_equal
from .schema import Kind, Node

SCALAR, MAP, LIST, ATOMIC = "scalar", "map", "list", "atomic"
_CONTAINER = (dict, list)  # (a tuple: ``dict | list`` would build a union object on every check)


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
    list_type = node.list_type
    if list_type == "atomic":
        return PathElement.index(index)
    if list_type == "map" and node.map_keys:
        if item is None:
            raise TypedError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise TypedError("associative list with keys may not have non-map elements")
        map_keys = node.map_keys
        if len(map_keys) == 1:
            key = map_keys[0]
            if key in item:
                return PathElement.single_key(key, item[key])
            return PathElement.single_key(key, _key_default(node, key))
        pairs = []
        for key in map_keys:
            if key in item:
                pairs.append((key, item[key]))
                continue
            pairs.append((key, _key_default(node, key)))
        return PathElement.key(pairs)
    if list_type in ("set", "map"):
        if isinstance(item, dict):
            raise TypedError("associative list without keys has an element that's a map type")
        if isinstance(item, list):
            raise TypedError("associative list without keys has an element that's a list type")
        return PathElement.of_value(item)
    return PathElement.index(index)


def _key_default(node: Node, key: str) -> Any:
    found, default = node.item().key_default(key)
    if not found:
        raise TypedError(
            f'associative list with keys has an element that omits key field "{key}" '
            "(and doesn't have default value)"
        )
    return default


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
    _, fields = _field_set(value, node, False)
    return fields or FieldSet()


def ensured_field_set(value: Any, node: Node) -> FieldSet:
    """``ensure_named_fields_are_members(to_field_set(value, node), node)`` in one walk."""
    _, fields = _field_set(value, node, True)
    return fields or FieldSet()


def _leaf(value: Any, node: Node) -> bool | None:
    """For a value ``_field_set`` does not walk into: whether its path is a member; else None."""
    kind = node.kind
    if isinstance(value, dict):
        if kind is Kind.SCALAR or kind is Kind.LIST or node.atomic:
            return True
        return None
    if isinstance(value, list):
        if kind is not Kind.LIST or node.list_type == "atomic":
            return True
        return None
    if value is None and (kind is Kind.OBJECT or kind is Kind.LIST):
        # an empty map or list, unless atomic
        return node.atomic if kind is Kind.OBJECT else node.list_type == "atomic"
    return True


def _field_set(value: Any, node: Node, ensure: bool) -> tuple[bool, FieldSet | None]:
    """(whether the value's own path is a member, the set below it or None when empty)."""
    leaf = _leaf(value, node)
    if leaf is not None:
        return leaf, None
    if not value:
        return False, None
    members: set[PathElement] = set()
    children: dict[PathElement, FieldSet] = {}
    if isinstance(value, dict):
        declared = node.fields() if node.kind is Kind.OBJECT else _NO_FIELDS
        field = PathElement.field
        for key, item in value.items():
            pe = field(key)
            if isinstance(item, _CONTAINER) or item is None:
                member, below = _field_set(item, node.field(key), ensure)
                if below is not None:
                    children[pe] = below
                    if ensure:
                        member = True
                if member or key not in declared:
                    members.add(pe)
            else:
                members.add(pe)
    else:
        order, groups = _indexed(node, value, "")
        item_node = node.item()
        for pe in order:
            members.add(pe)
            group = groups[pe]
            if len(group) > 1:  # duplicates are owned as a whole
                continue
            _, below = _field_set(group[0], item_node, ensure)
            if below is not None:
                children[pe] = below
    return False, (FieldSet._make(members, children) if members or children else None)


def ensure_named_fields_are_members(fields: FieldSet, node: Node) -> FieldSet:
    """Add declared struct fields that have children as members (``EnsureNamedFieldsAreMembers``).

    Level by level as the result is looked at: pruning usually looks at the top of it only."""

    def level() -> tuple[set[PathElement], dict[PathElement, FieldSet]]:
        members = set(fields.members)
        children = {}
        for pe, child in fields.children.items():
            if pe.kind == FIELD and node.has_field(pe.value):
                members.add(pe)
            sub = (
                node.field(pe.value)
                if pe.kind == FIELD
                else node.item()
                if pe.kind == KEY
                else node.nav.deduced
            )
            children[pe] = ensure_named_fields_are_members(child, sub)
        return members, children

    return FieldSet.deferred(level)


# -- pruning: field sets of values, measured against other sets --------------------------------------


def unowned_fields(value: Any, node: Node, covers: list[FieldSet]) -> FieldSet:
    """``ensured_field_set(value, node).difference(ensure_named_fields_are_members(union of covers))``.

    One walk of the value: the ensured set is only built where no cover reaches, the ensured union
    never.  Covers are read as FieldsV1 dicts (those decoded lazily are theirs, never expanded).
    """
    raws = [raw for raw in (cover.to_fields_v1() for cover in covers) if raw]
    _, _, rest = _unowned(value, node, raws)
    return rest or FieldSet()


def _unowned(value: Any, node: Node, raws: list[dict[str, Any]]) -> tuple[bool, bool, FieldSet | None]:
    """(``_field_set``'s member flag, whether the ensured set is non-empty, the part of it no cover
    level in ``raws`` holds, as the ensured union of the covers would)."""
    leaf = _leaf(value, node)
    if leaf is not None:
        return leaf, False, None
    if not value:
        return False, False, None
    if not raws:
        _, fields = _field_set(value, node, True)
        return False, fields is not None, fields
    members: set[PathElement] = set()
    children: dict[PathElement, FieldSet] = {}
    nonempty = False
    if isinstance(value, dict):
        declared = node.fields() if node.kind is Kind.OBJECT else _NO_FIELDS
        for name, item in value.items():
            key = "f:" + name
            is_declared = name in declared
            if isinstance(item, _CONTAINER) or item is None:
                below = [sub for raw in raws if (sub := raw.get(key))]
                flag, below_nonempty, rest = _unowned(item, node.field(name), below)
                if rest is not None:
                    children[PathElement.field(name)] = rest
                if not (flag or below_nonempty or not is_declared):
                    continue
            nonempty = True
            for raw in raws:
                sub = raw.get(key)
                if sub is not None and (is_declared or not sub or "." in sub):
                    break  # covered: a member of a cover, or a declared field with children there
            else:
                members.add(PathElement.field(name))
    else:
        order, groups = _indexed(node, value, "")
        item_node = node.item()
        for pe in order:
            nonempty = True
            key = pe.serialize()
            below = []
            covered = False
            for raw in raws:
                sub = raw.get(key)
                if sub is not None:
                    if not sub or "." in sub:
                        covered = True
                    if sub:
                        below.append(sub)
            if not covered:
                members.add(pe)
            group = groups[pe]
            if len(group) > 1:  # duplicates are owned as a whole
                continue
            _, _, rest = _unowned(group[0], item_node, below)
            if rest is not None:
                children[pe] = rest
    return False, nonempty, (FieldSet._make(members, children) if members or children else None)


def vanished_fields(before: Any, after: Any, node: Node) -> FieldSet:
    """``ensured_field_set(before).difference(ensured_field_set(after))`` for ``after`` made from
    ``before`` by removing items: walks only where they differ (subtrees they share are skipped)."""
    rest, _, _ = _vanished(before, after, node)
    return rest or FieldSet()


def _vanished(a: Any, b: Any, node: Node) -> tuple[FieldSet | None, bool, bool]:
    """(ensured(a) - ensured(b), whether ensured(a) is non-empty, whether ensured(b) is)."""
    if a is b:
        nonempty = _nonempty(a, node)
        return None, nonempty, nonempty
    if b is ABSENT:
        _, fields = _field_set(a, node, True)
        return fields, fields is not None, False
    a_leaf, b_leaf = _leaf(a, node), _leaf(b, node)
    if (
        a_leaf is not None
        or b_leaf is not None
        or not a
        or not b
        or isinstance(a, dict) is not isinstance(b, dict)
    ):
        _, a_fields = _field_set(a, node, True)
        _, b_fields = _field_set(b, node, True)
        if a_fields is None:
            return None, False, b_fields is not None
        diff = a_fields if b_fields is None else a_fields.difference(b_fields)
        return (None if diff.empty() else diff), True, b_fields is not None
    members: set[PathElement] = set()
    children: dict[PathElement, FieldSet] = {}
    if isinstance(a, dict):
        declared = node.fields() if node.kind is Kind.OBJECT else _NO_FIELDS
        field = PathElement.field
        a_nonempty = b_nonempty = False
        for key, item in a.items():
            other = b.get(key, ABSENT)
            if item is other:
                if not (a_nonempty and b_nonempty) and _member(key, item, node, declared):
                    a_nonempty = b_nonempty = True
                continue
            child = node.field(key)
            rest, item_nonempty, other_nonempty = _vanished(item, other, child)
            pe = field(key)
            if rest is not None:
                children[pe] = rest
            in_a = key not in declared or item_nonempty or _leaf(item, child) is True
            in_b = other is not ABSENT and (key not in declared or other_nonempty or _leaf(other, child) is True)
            a_nonempty = a_nonempty or in_a
            b_nonempty = b_nonempty or in_b
            if in_a and not in_b:
                members.add(pe)
        if not b_nonempty:
            for key, item in b.items():
                if key not in a and _member(key, item, node, declared):
                    b_nonempty = True
                    break
    else:
        a_order, a_groups = _indexed(node, a, "")
        b_order, b_groups = _indexed(node, b, "")
        a_nonempty, b_nonempty = bool(a_order), bool(b_order)
        item_node = node.item()
        for pe in a_order:
            group = a_groups[pe]
            others = b_groups.get(pe)
            if others is None:
                members.add(pe)
            if len(group) > 1:
                continue
            if others is None or len(others) > 1:
                _, rest = _field_set(group[0], item_node, True)
            elif group[0] is others[0]:
                continue
            else:
                rest, _, _ = _vanished(group[0], others[0], item_node)
            if rest is not None:
                children[pe] = rest
    return (FieldSet._make(members, children) if members or children else None), a_nonempty, b_nonempty


def _member(key: str, item: Any, node: Node, declared: Mapping[str, Node]) -> bool:
    """Whether map key ``key`` is a member of the ensured set of its map."""
    if key not in declared:
        return True
    child = node.field(key)
    leaf = _leaf(item, child)
    return leaf if leaf is not None else _nonempty(item, child)


def _nonempty(value: Any, node: Node) -> bool:
    """Whether ``ensured_field_set(value, node)`` is non-empty (stops at the first member)."""
    if _leaf(value, node) is not None or not value:
        return False
    if isinstance(value, list):
        return True  # every item of a walked list is a member
    declared = node.fields() if node.kind is Kind.OBJECT else _NO_FIELDS
    return any(_member(key, item, node, declared) for key, item in value.items())


_NO_FIELDS: dict[str, Node] = {}


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


def same(lhs: Any, rhs: Any) -> bool:
    """A cheap proof that two JSON values are identical (False means "look closer", not "differ").

    Containers are equal under Python's ``==`` and serialize to the same bytes: same keys in the same
    order, same types (``==`` alone equates ``True`` with ``1``).  Values are JSON: a NaN inside a
    container compares equal to itself here.
    """
    kind = type(lhs)
    if kind is not type(rhs):
        return False
    if kind is dict or kind is list:
        if lhs is not rhs and lhs != rhs:
            return False
        try:
            return lhs is rhs or orjson.dumps(lhs) == orjson.dumps(rhs)
        except (TypeError, orjson.JSONEncodeError):
            return False
    return bool(lhs == rhs) if kind is str or kind is int or kind is bool or lhs is None else False


def check(value: Any, node: Node) -> None:
    """Raise the TypedError that comparing ``value`` with an identical value would raise, if any.

    Identical values compare without differences, but the walk still indexes every list it reaches
    (``_indexed`` on the left side first), which fails for list-map items without their key or maps
    in sets.  Only nodes that can hold such lists are visited (:meth:`Node.keyed`).
    """
    if not node.keyed():
        return
    kind = shape(node, value)
    if kind == MAP:
        if not value:
            return
        for key, item in value.items():
            if isinstance(item, _CONTAINER) and item:
                child = node.field(key)
                if child.keyed():
                    check(item, child)
    elif kind == LIST:
        if not value:
            return
        order, groups = _indexed(node, value, "lhs: ")
        item_node = node.item()
        if not item_node.keyed():
            return
        for pe in order:
            group = groups[pe]
            if len(group) == 1:
                item = group[0]
                if isinstance(item, _CONTAINER) and item:
                    check(item, item_node)


def _compare(lhs: Any, rhs: Any, node: Node, path: Path, out: Comparison) -> None:
    if lhs is not ABSENT and rhs is not ABSENT and same(lhs, rhs):
        check(lhs, node)
        return
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
    return isinstance(value, _CONTAINER) and len(value) > 0


def _compare_children(lhs: Any, rhs: Any, node: Node, kind: str, path: Path, out: Comparison) -> None:
    if kind == MAP:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        field = PathElement.field
        for key, lval in lmap.items():
            _compare(lval, rmap.get(key, ABSENT), node.field(key), (*path, field(key)), out)
        for key, rval in rmap.items():
            if key not in lmap:
                _compare(ABSENT, rval, node.field(key), (*path, field(key)), out)
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


# -- changed fields as FieldsV1, for creation --------------------------------------------------------


def changed_fields_v1(lhs: Any, rhs: Any, node: Node) -> dict[str, Any]:
    """``compare(lhs, rhs, node)``'s modified and added fields, written as a ``fieldsV1`` object.

    The same walk as :func:`compare` (and the same TypedErrors), building the FieldsV1 JSON directly
    instead of path sets: what a create records, where ``lhs`` is the kind's zero value and nearly
    every field of ``rhs`` is added.
    """
    _, children = _changed(lhs, rhs, node)
    return children or {}


def _entry(member: bool, children: dict[str, Any] | None) -> dict[str, Any] | None:
    """The FieldsV1 value of one path element (None when the path is not in the set at all)."""
    if member:
        if children:
            out: dict[str, Any] = {".": {}}
            out.update(children)
            return out
        return {}
    return children


def _removed_only(lhs: Any, node: Node) -> None:
    """Walk a value that is gone, for the TypedErrors the comparison would raise there."""
    _compare(lhs, ABSENT, node, (), Comparison(FieldSet(), FieldSet(), FieldSet()))


def _changed(lhs: Any, rhs: Any, node: Node) -> tuple[bool, dict[str, Any] | None]:
    """(whether the path itself changed, FieldsV1 of the changed paths below it); rhs is present."""
    if lhs is ABSENT:
        return True, _added(rhs, node)
    lshape = shape(node, lhs)
    rshape = shape(node, rhs)
    if lshape != rshape:
        if lshape in (MAP, LIST):
            _compare_children(lhs, ABSENT, node, lshape, (), Comparison(FieldSet(), FieldSet(), FieldSet()))
        return True, (_added_children(rhs, node, rshape) if rshape in (MAP, LIST) else None)
    if lshape in (SCALAR, ATOMIC) or (not _non_empty(lhs) and not _non_empty(rhs)):
        return not json_equal(lhs, rhs), None
    if lshape == MAP:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        fields: dict[str, Any] = {}
        for key, lval in lmap.items():
            rval = rmap.get(key, ABSENT)
            if not isinstance(lval, _CONTAINER) and not isinstance(rval, _CONTAINER) and rval is not ABSENT:
                # Two leaves whatever the schema (null may look like an empty map or list, which
                # changes nothing here): changed when they differ.
                if not json_equal(lval, rval):
                    fields[key] = {}
                continue
            child = node.field(key)
            if rval is ABSENT:
                _removed_only(lval, child)
                continue
            member, below = _changed(lval, rval, child)
            value = _entry(member, below)
            if value is not None:
                fields[key] = value
        for key, rval in rmap.items():
            if key not in lmap:
                if isinstance(rval, _CONTAINER) and rval:
                    fields[key] = _entry(True, _added(rval, node.field(key)))
                else:
                    fields[key] = {}  # a leaf, whatever the schema says
        return False, ({"f:" + key: fields[key] for key in sorted(fields)} if fields else None)
    item_node = node.item()
    lorder, lgroups = _indexed(node, lhs if isinstance(lhs, list) else None, "lhs: ")
    rorder, rgroups = _indexed(node, rhs if isinstance(rhs, list) else None, "rhs: ")
    items: dict[PathElement, dict[str, Any]] = {}
    for pe in rorder:
        rgroup = rgroups[pe]
        lgroup = lgroups.get(pe, [])
        if len(lgroup) <= 1 and len(rgroup) <= 1:
            member, below = _changed(lgroup[0] if lgroup else ABSENT, rgroup[0], item_node)
        elif len(lgroup) >= 2 and len(rgroup) >= 2:
            member, below = not json_equal(lgroup, rgroup), None
        elif len(lgroup) >= 2:
            member, below = True, _added(rgroup[0], item_node)
        else:
            if lgroup:
                _removed_only(lgroup[0], item_node)
            member, below = True, None
        value = _entry(member, below)
        if value is not None:
            items[pe] = value
    for pe in lorder:
        if pe not in rgroups:
            lgroup = lgroups[pe]
            if len(lgroup) == 1:
                _removed_only(lgroup[0], item_node)
    return False, ({pe.serialize(): items[pe] for pe in sorted(items, key=ELEMENT_ORDER)} if items else None)


def _added(value: Any, node: Node) -> dict[str, Any] | None:
    """FieldsV1 below a value that was not there before: every path in it is added."""
    if isinstance(value, _CONTAINER) and value:
        return _added_container(value, node)
    return None


def _added_container(value: dict[str, Any] | list[Any], node: Node) -> dict[str, Any] | None:
    """:func:`_added` of a non-empty dict or list: ``shape`` decides whether it has children."""
    kind = node.kind
    if isinstance(value, dict):
        if kind is Kind.SCALAR or kind is Kind.LIST or node.atomic:
            return None  # a scalar or atomic leaf
        return _added_map(value, node)
    if kind is Kind.LIST and node.list_type != "atomic":
        return _added_list(value, node)
    return None


def _added_map(value: dict[str, Any], node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    field = node.field
    for key in sorted(value):
        item = value[key]
        below = _added_container(item, field(key)) if item and isinstance(item, _CONTAINER) else None
        out["f:" + key] = {".": {}, **below} if below else {}
    return out


def _added_list(value: list[Any], node: Node) -> dict[str, Any] | None:
    order, groups = _indexed(node, value, "rhs: ")
    item_node = node.item()
    items: dict[str, Any] = {}
    for pe in sorted(order, key=ELEMENT_ORDER):
        group = groups[pe]
        item = group[0]
        below = None
        if len(group) == 1 and item and isinstance(item, _CONTAINER):
            below = _added_container(item, item_node)
        items[pe.serialize()] = {".": {}, **below} if below else {}
    return items


def _added_children(value: Any, node: Node, kind: str) -> dict[str, Any] | None:
    """FieldsV1 below an added value of the given shape (MAP or LIST)."""
    if kind == MAP:
        return _added_map(value, node) if value else None
    return _added_list(value, node) if isinstance(value, list) and value else None


# -- merge ----------------------------------------------------------------------------------------------


def merge(lhs: Any, rhs: Any, node: Node) -> Any:
    """``TypedValue.Merge``: ``rhs`` (an applied configuration) merged over ``lhs`` (the live object)."""
    if rhs is ABSENT:
        return lhs
    if lhs is ABSENT or (rhs is not None and not isinstance(rhs, _CONTAINER)):
        return rhs  # (a scalar is a leaf under any schema)
    lshape, rshape = shape(node, lhs), shape(node, rhs)
    if lshape != rshape or lshape in (SCALAR, ATOMIC):
        return rhs
    if not _non_empty(lhs) and not _non_empty(rhs):
        return rhs
    if lshape == MAP:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        out = {}
        for k, v in lmap.items():
            r = rmap.get(k, ABSENT)
            out[k] = v if r is ABSENT else merge(v, r, node.field(k))
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
    if _valid(value, node):
        return
    for path, message in _problems(value, node, ()):
        raise TypedError(f"{path_string(path)}: {message}" if path else message)


class _Invalid(Exception):
    """Raised inside :func:`_applied_fields` at the first problem ``validate`` would report."""


def applied_field_set(value: Any, node: Node) -> FieldSet:
    """``validate(value, node)`` (same TypedErrors) and then ``to_field_set(value, node)``, in one walk.

    The set is built as its canonical FieldsV1 dict and decoded lazily, so the parts of it nobody
    looks at (everything when an apply changes nothing) are written back as they are.
    """
    try:
        _, fields = _applied_fields(value, node)
    except _Invalid:
        validate(value, node)
        return to_field_set(value, node)  # not reached: validate raised
    return FieldSet._lazy(fields) if fields else FieldSet()


def _applied_fields(value: Any, node: Node) -> tuple[bool, dict[str, Any] | None]:
    """(whether the path is a member, FieldsV1 below it) as ``_field_set``; ``_Invalid`` where
    ``_problems`` yields."""
    kind = node.kind
    if value is None:
        if kind is Kind.OBJECT:
            return node.atomic, None
        if kind is Kind.LIST:
            return node.list_type == "atomic", None
        return True, None
    if isinstance(value, dict):
        if kind is Kind.SCALAR or kind is Kind.LIST:
            raise _Invalid
        if node.atomic:
            return True, None
        if not value:
            return False, None
        declared = node.fields() if kind is Kind.OBJECT else _NO_FIELDS
        out: dict[str, Any] = {}
        for key in sorted(value):
            item = value[key]
            child = node.field(key)
            if item is None or isinstance(item, _CONTAINER):
                member, below = _applied_fields(item, child)
                if member or key not in declared:
                    out["f:" + key] = {".": {}, **below} if below else {}
                elif below:
                    out["f:" + key] = below
            elif child.kind is Kind.OBJECT or child.kind is Kind.LIST:
                raise _Invalid
            else:
                out["f:" + key] = {}
        return False, out or None
    if isinstance(value, list):
        if kind is Kind.OBJECT or kind is Kind.SCALAR:
            raise _Invalid
        if kind is not Kind.LIST or node.list_type == "atomic":
            return True, None
        if not value:
            return False, None
        try:
            order, groups = _indexed(node, value, "")
        except TypedError:
            raise _Invalid from None
        item_node = node.item()
        items: list[tuple[PathElement, dict[str, Any] | None]] = []
        for pe in order:
            group = groups[pe]
            if len(group) > 1:
                raise _Invalid
            items.append((pe, _applied_fields(group[0], item_node)[1]))
        items.sort(key=_first_key)
        return False, {pe.serialize(): ({".": {}, **below} if below else {}) for pe, below in items}
    if kind is Kind.OBJECT or kind is Kind.LIST:
        raise _Invalid
    return True, None


def _first_key(item: tuple[PathElement, Any]) -> tuple[Any, ...]:
    return item[0]._key


def _valid(value: Any, node: Node) -> bool:
    """Whether ``_problems`` finds nothing (the same walk, without paths and messages)."""
    if value is None:
        return True
    kind = node.kind
    if kind is Kind.SCALAR:
        return not isinstance(value, _CONTAINER)
    if isinstance(value, dict):
        if kind is Kind.LIST:
            return False
        if node.atomic:
            return True
        for key, item in value.items():
            if item is None:
                continue
            child = node.field(key)
            if isinstance(item, _CONTAINER):
                if not _valid(item, child):
                    return False
            elif child.kind is Kind.OBJECT or child.kind is Kind.LIST:
                return False
        return True
    if isinstance(value, list):
        if kind is Kind.OBJECT:
            return False
        if kind is not Kind.LIST or node.list_type == "atomic":
            return True
        try:
            order, groups = _indexed(node, value, "")
        except TypedError:
            return False
        item_node = node.item()
        for pe in order:
            group = groups[pe]
            if len(group) > 1 or not _valid(group[0], item_node):
                return False
        return True
    return kind is not Kind.OBJECT and kind is not Kind.LIST


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
    if kind is Kind.SCALAR and isinstance(value, _CONTAINER):
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
