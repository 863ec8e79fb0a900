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
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .jsonvalue import go_json, go_string, sort_key

FIELD, KEY, VALUE, INDEX = 0, 1, 2, 3

# Interned field elements and parsed FieldsV1 keys.  Path elements are immutable, so sharing them is
# safe; the tables are cleared when they grow past the limit (objects with unbounded key spaces).
_CACHE_LIMIT = 1 << 16
_LEVEL_KEYS_LIMIT = 64
ELEMENT_ORDER = operator.attrgetter("_key")  # sort key of path elements (their order, without __lt__ calls)
_FIELDS: dict[str, PathElement] = {}
_PARSED: dict[str, PathElement] = {}
_KEYS: dict[tuple[Any, ...], PathElement] = {}
_VALUES: dict[tuple[Any, ...], PathElement] = {}
_ORDER: dict[str, tuple[Any, ...]] = {}  # canonical FieldsV1 keys and their PathElement order
_LEVELS: dict[tuple[str, ...], bool] = {}  # FieldsV1 key sequences: canonical and in order?


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def _canonical_key(key: str) -> tuple[Any, ...] | None:
    """The upstream order of a FieldsV1 key if it is spelled as ``serialize`` spells it, else None."""
    order = _ORDER.get(key)
    if order is None:
        try:
            pe = PathElement.parse(key)
        except ValueError:
            return None
        if pe.serialize() != key:
            return None
        order = pe._key
        if len(_ORDER) >= _CACHE_LIMIT:
            _ORDER.clear()
        _ORDER[key] = order
    return order


class UnknownPathElementError(ValueError):
    """A FieldsV1 key with a prefix this version does not know (skipped, like upstream)."""


class PathElement:
    """One step of a field path.  Immutable, hashable and totally ordered."""

    __slots__ = ("_hash", "_key", "_ser", "kind", "value")

    def __init__(self, kind: int, value: Any, key: tuple[Any, ...]) -> None:
        self.kind = kind
        self.value = value
        self._key = (kind, key)
        self._hash = hash(self._key)
        self._ser: str | None = None

    @classmethod
    def field(cls, name: str) -> PathElement:
        """A field name element; interned (field names repeat across every object of a kind)."""
        pe = _FIELDS.get(name)
        if pe is None:
            pe = cls(FIELD, name, (name,))
            if len(_FIELDS) >= _CACHE_LIMIT:
                _FIELDS.clear()
            _FIELDS[name] = pe
        return pe

    @classmethod
    def key(cls, pairs: Iterable[tuple[str, Any]]) -> PathElement:
        """A list-map key; the key fields are sorted by name as upstream does.  Interned."""
        ordered = tuple(pairs)
        if len(ordered) > 1:
            ordered = tuple(sorted(ordered, key=_first))
        key = tuple((name, sort_key(v)) for name, v in ordered)
        pe = _KEYS.get(key)
        if pe is None:
            pe = cls(KEY, ordered, key)
            if len(_KEYS) >= _CACHE_LIMIT:
                _KEYS.clear()
            _KEYS[key] = pe
        return pe

    @classmethod
    def single_key(cls, name: str, value: Any) -> PathElement:
        """``key([(name, value)])``, the usual one-field list-map key, without the sorting."""
        key = ((name, (1, value) if type(value) is str else sort_key(value)),)
        pe = _KEYS.get(key)
        if pe is None:
            pe = cls(KEY, ((name, value),), key)
            if len(_KEYS) >= _CACHE_LIMIT:
                _KEYS.clear()
            _KEYS[key] = pe
        return pe

    @classmethod
    def of_value(cls, value: Any) -> PathElement:
        """A set item's element.  Interned."""
        key = sort_key(value)
        pe = _VALUES.get(key)
        if pe is None:
            pe = cls(VALUE, value, (key,))
            if len(_VALUES) >= _CACHE_LIMIT:
                _VALUES.clear()
            _VALUES[key] = pe
        return pe

    @classmethod
    def index(cls, index: int) -> PathElement:
        if 0 <= index < len(_INDEXES):
            return _INDEXES[index]
        return cls(INDEX, index, (index,))

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, PathElement) and self._key == other._key)

    def __hash__(self) -> int:
        return self._hash

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
        """The FieldsV1 key: ``f:``, ``k:``, ``v:`` or ``i:`` prefixed (computed once per element)."""
        text = self._ser
        if text is None:
            if self.kind == FIELD:
                text = "f:" + str(self.value)
            elif self.kind == KEY:
                text = "k:" + go_json(dict(self.value))
            elif self.kind == VALUE:
                text = "v:" + go_json(self.value)
            else:
                text = f"i:{self.value}"
            self._ser = text
        return text

    @classmethod
    def parse(cls, text: str) -> PathElement:
        """Inverse of :meth:`serialize` (memoized: managedFields repeat the same keys on every write)."""
        pe = _PARSED.get(text)
        if pe is None:
            pe = cls._parse(text)
            if len(_PARSED) >= _CACHE_LIMIT:
                _PARSED.clear()
            _PARSED[text] = pe
        return pe

    @classmethod
    def _parse(cls, text: str) -> PathElement:
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

_INDEXES = tuple(PathElement(INDEX, i, (i,)) for i in range(256))


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
    """A set of paths stored as a tree.  Operations return new sets; ``insert`` mutates.

    Results of the set operations share unchanged subtrees with their operands (and may be an operand
    itself), so sets are treated as immutable once built.

    A set decoded from a FieldsV1 object in upstream's canonical form (what :meth:`to_fields_v1`
    writes, so every ``managedFields`` entry the server wrote) is *lazy*: a level is turned into
    members and children only when something looks at it, and a level nobody looked at is written
    back by :meth:`to_fields_v1` as the very dict it was read from.  Updates and applies touch a few
    paths of objects whose managers own hundreds, so most of every decoded set is never expanded.
    """

    __slots__ = ("_children", "_members", "_raw", "_thunk")

    def __init__(
        self, members: Iterable[PathElement] = (), children: Mapping[PathElement, FieldSet] | None = None
    ) -> None:
        self._members: set[PathElement] | None = set(members)
        self._children: dict[PathElement, FieldSet] | None = dict(children) if children else {}
        self._raw: dict[str, Any] | None = None
        self._thunk: Callable[[], tuple[set[PathElement], dict[PathElement, FieldSet]]] | None = None

    @classmethod
    def _make(cls, members: set[PathElement], children: dict[PathElement, FieldSet]) -> FieldSet:
        """A set owning the given containers (no copies)."""
        out = cls.__new__(cls)
        out._members = members
        out._children = children
        out._raw = None
        out._thunk = None
        return out

    @classmethod
    def _lazy(cls, raw: dict[str, Any]) -> FieldSet:
        """A set backed by a canonical, non-empty FieldsV1 level (``"."`` entries are ignored)."""
        out = cls.__new__(cls)
        out._members = None
        out._children = None
        out._raw = raw
        out._thunk = None
        return out

    @classmethod
    def deferred(cls, level: Callable[[], tuple[set[PathElement], dict[PathElement, FieldSet]]]) -> FieldSet:
        """A set whose members and children ``level`` computes, when first needed.

        For sets derived level by level from another (``ensure_named_fields_are_members``) of which
        callers often look at a few levels only.  ``level`` must return new containers."""
        out = cls.__new__(cls)
        out._members = None
        out._children = None
        out._raw = None
        out._thunk = level
        return out

    def _expand(self) -> None:
        raw, thunk = self._raw, self._thunk
        if raw is None:
            if thunk is not None:
                self._members, self._children = thunk()
                self._thunk = None
            return
        members: set[PathElement] = set()
        children: dict[PathElement, FieldSet] = {}
        parse = PathElement.parse
        for key, value in raw.items():
            if key == ".":
                continue
            pe = parse(key)
            if not value:
                members.add(pe)
                continue
            if "." in value:
                members.add(pe)
            children[pe] = FieldSet._lazy(value)
        self._members = members
        self._children = children
        self._raw = None

    def is_lazy(self) -> bool:
        """Whether this set still stands for the canonical FieldsV1 dict it was decoded from."""
        return self._raw is not None

    @property
    def members(self) -> set[PathElement]:
        """Paths of this level owned themselves."""
        members = self._members
        if members is None:
            self._expand()
            members = self._members
            assert members is not None
        return members

    @property
    def children(self) -> dict[PathElement, FieldSet]:
        """Paths continuing below an element of this level."""
        children = self._children
        if children is None:
            self._expand()
            children = self._children
            assert children is not None
        return children

    @classmethod
    def from_paths(cls, paths: Iterable[Iterable[PathElement] | Path]) -> FieldSet:
        out = cls()
        for p in paths:
            out.insert(tuple(p))
        return out

    def copy(self) -> FieldSet:
        if self._raw is not None:
            return FieldSet._lazy(self._raw)
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
        if self._raw is not None:
            return False  # a lazy level is never empty
        if self.members:
            return False
        return all(c.empty() for c in self.children.values())

    def __bool__(self) -> bool:
        return not self.empty()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        if self is other or (self._raw is not None and self._raw is other._raw):
            return True
        if self.members != other.members:
            return False
        mine = {pe: c for pe, c in self.children.items() if not c.empty()}
        theirs = {pe: c for pe, c in other.children.items() if not c.empty()}
        return mine.keys() == theirs.keys() and all(mine[pe] == theirs[pe] for pe in mine)

    __hash__ = None  # type: ignore[assignment]

    def union(self, other: FieldSet) -> FieldSet:
        """Paths of either set.  Returns an operand when the other adds nothing to it."""
        if self is other:
            return self
        big, small = self, other
        if len(big.children) < len(small.children):
            big, small = small, big
        big_members, small_members = big.members, small.members
        members = big_members if small_members <= big_members else big_members | small_members
        big_children = big.children
        children: dict[PathElement, FieldSet] | None = None
        for pe, c in small.children.items():
            mine = big_children.get(pe)
            merged = c if mine is None else mine.union(c)
            if merged is not mine:
                if children is None:
                    children = dict(big_children)
                children[pe] = merged
        if children is None:
            if members is big_members:
                return big
            children = dict(big_children)
        return FieldSet._make(members if members is not big_members else set(members), children)

    def intersection(self, other: FieldSet) -> FieldSet:
        if self is other:
            return self
        small, big = self.children, other.children
        if len(small) > len(big):
            small, big = big, small
        children = {}
        for pe, c in small.items():
            theirs = big.get(pe)
            if theirs is not None:
                sub = c.intersection(theirs)
                if not sub.empty():
                    children[pe] = sub
        return FieldSet._make(self.members & other.members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """Paths of self not in other (a member stays if only other's children mention it).

        Returns ``self`` when other removes nothing (and self has no empty children)."""
        if self is other:
            return FieldSet()
        members = self.members
        other_members = other.members
        if other_members and not members.isdisjoint(other_members):
            members = members - other_members
        other_children = other.children
        children = {}
        same = members is self.members
        for pe, c in self.children.items():
            theirs = other_children.get(pe)
            sub = c if theirs is None else c.difference(theirs)
            if sub.empty():
                same = False
                continue
            if sub is not c:
                same = False
            children[pe] = sub
        if same:
            return self
        return FieldSet._make(members if members is not self.members else set(members), children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Paths of self not in other and not below a member of other.

        Returns ``self`` when other removes nothing (and self has no empty children)."""
        members = self.members
        other_members = other.members
        if other_members and not members.isdisjoint(other_members):
            members = members - other_members
        other_children = other.children
        children = {}
        same = members is self.members
        for pe, c in self.children.items():
            if pe in other_members:
                same = False
                continue
            theirs = other_children.get(pe)
            sub = c if theirs is None else c.recursive_difference(theirs)
            if sub.empty():
                same = False
                continue
            if sub is not c:
                same = False
            children[pe] = sub
        if same:
            return self
        return FieldSet._make(members if members is not self.members else set(members), children)

    def iterate(self, prefix: Path = ()) -> Iterator[Path]:
        """Members of this level first, then each child's paths, in upstream's order."""
        for pe in sorted(self.members, key=ELEMENT_ORDER):
            yield (*prefix, pe)
        children = self.children
        for pe in sorted(children, key=ELEMENT_ORDER):
            yield from children[pe].iterate((*prefix, pe))

    def paths(self) -> list[Path]:
        return list(self.iterate())

    def __repr__(self) -> str:
        return "FieldSet(" + ", ".join(path_string(p) for p in self.iterate()) + ")"

    # -- FieldsV1 --------------------------------------------------------------------------------------

    def to_fields_v1(self) -> dict[str, Any]:
        """The ``fieldsV1`` JSON object, in upstream's key order.

        Parts of a lazily decoded set that were never expanded are the decoded dicts themselves: the
        result may share them with the managedFields the set was read from (treat both as read-only).
        """
        return self._emit(include_self=False)

    def _emit(self, include_self: bool) -> dict[str, Any]:
        raw = self._raw
        if raw is not None:
            if ("." in raw) == include_self:
                return raw
            if include_self:
                return {".": {}, **raw}
            return {k: v for k, v in raw.items() if k != "."}
        out: dict[str, Any] = {}
        members = self.members
        children = {pe: c for pe, c in self.children.items() if not c.empty()}
        if include_self and (members or children):
            out["."] = {}
        for pe in sorted(members | children.keys(), key=ELEMENT_ORDER):
            child = children.get(pe)
            if child is not None:
                out[pe.serialize()] = child._emit(include_self=pe in members)
            else:
                out[pe.serialize()] = {}
        return out

    @classmethod
    def from_fields_v1(cls, data: Mapping[str, Any] | None) -> FieldSet:
        """Parse a ``fieldsV1`` JSON object; unknown path element prefixes are skipped."""
        if not data:
            return cls()
        if type(data) is dict and _canonical(data, nested=False):
            return cls._lazy(data)
        children, _ = _read_v1(data)
        return children or cls()


def _canonical(data: dict[str, Any], nested: bool) -> bool:
    """Whether a (non-empty) FieldsV1 level is exactly what ``_emit`` writes for the set it decodes to.

    Known, canonically spelled keys in strictly increasing upstream order, every value a dict, and
    ``"."`` only first, empty and next to children (never at the top).  Such a level can stand for its
    set as is; anything else (including every invalid input) is decoded eagerly by ``_read_v1``.
    Whether a sequence of keys is canonical and ordered is remembered per sequence: the same levels
    (a container's fields, a Pod's spec) recur in every object of a kind.
    """
    keys = tuple(data)
    if keys[0] == ".":
        dot = data["."]
        if not nested or len(keys) == 1 or type(dot) is not dict or dot:
            return False
        keys = keys[1:]
    ordered = _LEVELS.get(keys)
    if ordered is None:
        ordered = _ordered_keys(keys)
        if len(keys) <= _LEVEL_KEYS_LIMIT:  # (big maps are not shapes that recur)
            if len(_LEVELS) >= _CACHE_LIMIT:
                _LEVELS.clear()
            _LEVELS[keys] = ordered
    if not ordered:
        return False
    for value in data.values():
        if type(value) is not dict or (value and not _canonical(value, nested=True)):
            return False
    return True


def _ordered_keys(keys: tuple[str, ...]) -> bool:
    previous: tuple[Any, ...] | None = None
    for key in keys:
        order = _canonical_key(key)
        if order is None or (previous is not None and not previous < order):
            return False
        previous = order
    return True


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
