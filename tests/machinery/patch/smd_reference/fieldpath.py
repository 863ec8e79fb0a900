"""Field paths and field sets, as structured-merge-diff's ``fieldpath`` package.

Why: server-side apply records, per manager, the set of fields it owns, and stores it in
``metadata.managedFields[].fieldsV1``.  The set is a tree: each level has *members* (paths owned
themselves) and *children* (paths that continue below).  A path element is a field name (``f:name``),
a list-map key (``k:{"name":"x"}``), a set value (``v:"a"``) or a list index (``i:0``).  The FieldsV1
JSON, its ordering and the ``.spec.containers[name="x"]`` strings of conflict messages must match
upstream byte for byte, so ordering follows structured-merge-diff's ``PathElement.Compare``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .jsonvalue import go_json, go_string, sort_key

FIELD, KEY, VALUE, INDEX = 0, 1, 2, 3


class UnknownPathElementError(ValueError):
    """A FieldsV1 key with a prefix this version does not know (skipped, like upstream)."""


class PathElement:
    """One step of a field path.  Immutable, hashable and totally ordered."""

    __slots__ = ("_key", "kind", "value")

    def __init__(self, kind: int, value: Any, key: tuple[Any, ...]) -> None:
        self.kind = kind
        self.value = value
        self._key = (kind, key)

    @classmethod
    def field(cls, name: str) -> PathElement:
        return cls(FIELD, name, (name,))

    @classmethod
    def key(cls, pairs: Iterable[tuple[str, Any]]) -> PathElement:
        """A list-map key; the key fields are sorted by name as upstream does."""
        ordered = tuple(sorted(pairs, key=lambda p: p[0]))
        return cls(KEY, ordered, tuple((name, sort_key(v)) for name, v in ordered))

    @classmethod
    def of_value(cls, value: Any) -> PathElement:
        return cls(VALUE, value, (sort_key(value),))

    @classmethod
    def index(cls, index: int) -> PathElement:
        return cls(INDEX, index, (index,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathElement) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __lt__(self, other: PathElement) -> bool:
        return self._key < other._key

    def __repr__(self) -> str:
        return f"PathElement({self.serialize()})"

    def __str__(self) -> str:
        """The human form used in conflict messages: ``.name``, ``[k="v"]``, ``[=v]``, ``[0]``."""
        if self.kind == FIELD:
            return "." + str(self.value)
        if self.kind == KEY:
            return "[" + ",".join(f"{n}={go_string(v)}" for n, v in self.value) + "]"
        if self.kind == VALUE:
            return f"[={go_string(self.value)}]"
        return f"[{self.value}]"

    def serialize(self) -> str:
        """The FieldsV1 key: ``f:``, ``k:``, ``v:`` or ``i:`` prefixed."""
        if self.kind == FIELD:
            return "f:" + str(self.value)
        if self.kind == KEY:
            return "k:" + go_json(dict(self.value))
        if self.kind == VALUE:
            return "v:" + go_json(self.value)
        return f"i:{self.value}"

    @classmethod
    def parse(cls, text: str) -> PathElement:
        """Inverse of :meth:`serialize`."""
        prefix, _, rest = text.partition(":")
        if prefix == "f":
            return cls.field(rest)
        if prefix == "k":
            obj = json.loads(rest)
            if not isinstance(obj, dict):
                raise ValueError(f"key path element is not an object: {text!r}")
            return cls.key(obj.items())
        if prefix == "v":
            return cls.of_value(json.loads(rest))
        if prefix == "i":
            return cls.index(int(rest))
        raise UnknownPathElementError(text)


Path = tuple[PathElement, ...]


def path_string(path: Iterable[PathElement]) -> str:
    """``.spec.template.spec.containers[name="nginx"].image``."""
    return "".join(str(pe) for pe in path)


def make_path(*parts: str | int | PathElement) -> Path:
    """Convenience: strings are field names, ints are indexes."""
    out: list[PathElement] = []
    for part in parts:
        if isinstance(part, PathElement):
            out.append(part)
        elif isinstance(part, int):
            out.append(PathElement.index(part))
        else:
            out.append(PathElement.field(part))
    return tuple(out)


class FieldSet:
    """A set of paths stored as a tree.  Operations return new sets; ``insert`` mutates."""

    __slots__ = ("children", "members")

    def __init__(
        self, members: Iterable[PathElement] = (), children: Mapping[PathElement, FieldSet] | None = None
    ) -> None:
        self.members: set[PathElement] = set(members)
        self.children: dict[PathElement, FieldSet] = dict(children or {})

    @classmethod
    def from_paths(cls, paths: Iterable[Iterable[PathElement] | Path]) -> FieldSet:
        out = cls()
        for p in paths:
            out.insert(tuple(p))
        return out

    def copy(self) -> FieldSet:
        return FieldSet(self.members, {pe: c.copy() for pe, c in self.children.items()})

    def insert(self, path: Path) -> None:
        """Add a path.  The empty path (the whole object) is not tracked, as upstream."""
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = FieldSet()
            node = child
        node.members.add(path[-1])

    def has(self, path: Path) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node.children.get(pe) if node is not None else None
            if node is None:
                return False
        return node is not None and path[-1] in node.members

    def with_prefix(self, pe: PathElement) -> FieldSet:
        return self.children.get(pe) or FieldSet()

    def empty(self) -> bool:
        if self.members:
            return False
        return all(c.empty() for c in self.children.values())

    def __bool__(self) -> bool:
        return not self.empty()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        if self.members != other.members:
            return False
        mine = {pe: c for pe, c in self.children.items() if not c.empty()}
        theirs = {pe: c for pe, c in other.children.items() if not c.empty()}
        return mine.keys() == theirs.keys() and all(mine[pe] == theirs[pe] for pe in mine)

    __hash__ = None  # type: ignore[assignment]

    def union(self, other: FieldSet) -> FieldSet:
        children = dict(self.children)
        for pe, c in other.children.items():
            mine = children.get(pe)
            children[pe] = c if mine is None else mine.union(c)
        return FieldSet(self.members | other.members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children = {}
        for pe, c in self.children.items():
            theirs = other.children.get(pe)
            if theirs is not None:
                sub = c.intersection(theirs)
                if not sub.empty():
                    children[pe] = sub
        return FieldSet(self.members & other.members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """Paths of self not in other (a member stays if only other's children mention it)."""
        children = {}
        for pe, c in self.children.items():
            theirs = other.children.get(pe)
            sub = c if theirs is None else c.difference(theirs)
            if not sub.empty():
                children[pe] = sub
        return FieldSet(self.members - other.members, children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Paths of self not in other and not below a member of other."""
        children = {}
        for pe, c in self.children.items():
            if pe in other.members:
                continue
            theirs = other.children.get(pe)
            sub = c if theirs is None else c.recursive_difference(theirs)
            if not sub.empty():
                children[pe] = sub
        return FieldSet(self.members - other.members, children)

    def iterate(self, prefix: Path = ()) -> Iterator[Path]:
        """Members of this level first, then each child's paths, in upstream's order."""
        for pe in sorted(self.members):
            yield (*prefix, pe)
        for pe in sorted(self.children):
            yield from self.children[pe].iterate((*prefix, pe))

    def paths(self) -> list[Path]:
        return list(self.iterate())

    def __repr__(self) -> str:
        return "FieldSet(" + ", ".join(path_string(p) for p in self.iterate()) + ")"

    # -- FieldsV1 --------------------------------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        """The ``fieldsV1`` JSON object, in upstream's key order."""
        return self._emit(include_self=False)

    def _emit(self, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        children = {pe: c for pe, c in self.children.items() if not c.empty()}
        if include_self and (self.members or children):
            out["."] = {}
        for pe in sorted(self.members | children.keys()):
            child = children.get(pe)
            if child is not None:
                out[pe.serialize()] = child._emit(include_self=pe in self.members)
            else:
                out[pe.serialize()] = {}
        return out

    @classmethod
    def from_fields_v1(cls, data: Mapping[str, Any] | None) -> FieldSet:
        """Parse a ``fieldsV1`` JSON object; unknown path element prefixes are skipped."""
        if not data:
            return cls()
        children, _ = _read_v1(data)
        return children or cls()


def _read_v1(data: Mapping[str, Any]) -> tuple[FieldSet | None, bool]:
    children: FieldSet | None = None
    is_member = False
    for key, value in data.items():
        if key == ".":
            is_member = True
            continue
        try:
            pe = PathElement.parse(key)
        except UnknownPathElementError:
            continue
        if not isinstance(value, Mapping):
            raise ValueError(f"fieldsV1 entry {key!r} is not an object")
        grandchildren, child_member = _read_v1(value)
        if children is None:
            children = FieldSet()
        if child_member:
            children.members.add(pe)
        if grandchildren is not None:
            existing = children.children.get(pe)
            children.children[pe] = grandchildren if existing is None else existing.union(grandchildren)
    if children is None:
        is_member = True
    return children, is_member
