"""Schema navigation for the patch engines.

Why: strategic merge patch needs, for every field, its patch merge key and patch strategy, and server-side
apply needs the structured-merge-diff view of the same type (list-map keys, sets, atomic lists and maps).
Both come from the OpenAPI extensions of the upstream definitions.  The definitions graph is large and a
request touches only a few types, so ``$ref`` targets are resolved lazily and the children of a
definition are cached once per definition, not once per place that references it.

The built-in navigator reads the OpenAPI v2 document shipped with the package and overlays the
``default`` values of the per-group OpenAPI v3 documents (v2 has none): structured-merge-diff uses them
for list-map keys that a client omitted (``ports`` keyed by ``containerPort`` + ``protocol`` defaulting
to ``TCP``) and ``default: {}`` is how openapi-gen marks a non-pointer struct, which decides the Go zero
value that upstream compares a created object against.

Custom resources get a navigator from their structural schema (:func:`structural_root`): they have list
types and map keys but no strategic-merge metadata, and upstream rejects SMP on them with 415;
``Node.smp_supported`` tells the caller.
"""

from __future__ import annotations

import copy
import enum
import functools
import gzip
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import orjson

JSON = Any

RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_MISSING: Any = object()


class Kind(enum.Enum):
    """What shape of JSON value a node describes."""

    OBJECT = "object"  # a struct (declared fields) and/or a string-keyed map (element type)
    LIST = "list"
    SCALAR = "scalar"
    UNTYPED = "untyped"  # no schema: maps are granular (or atomic), lists atomic, shape from the value


class Node:
    """One field's type: the referencing property's extensions plus the resolved definition."""

    __slots__ = (
        "_children",
        "_elements",
        "_item",
        "_keyed",
        "_zero",
        "atomic",
        "def_name",
        "default",
        "has_default",
        "kind",
        "list_type",
        "map_keys",
        "merge_key",
        "nav",
        "patch_strategies",
        "target",
    )

    def __init__(
        self,
        nav: Navigator,
        prop: Mapping[str, Any],
        *,
        default: Any = _MISSING,
        untyped_atomic: bool = False,
    ) -> None:
        self.nav = nav
        target, def_name = nav.resolve(prop)
        self.target: Mapping[str, Any] = target if target is not None else {}
        self.def_name = def_name
        if "default" in prop:
            default = prop["default"]
        self.has_default = default is not _MISSING
        self.default = default if self.has_default else None
        self._children: dict[str, Node] | None = None
        self._item: Node | None = None
        self._elements: Node | None = None
        self._keyed: bool | None = None
        self._zero: dict[str, Any] | None = None

        def ext(name: str) -> Any:
            value = prop.get(name)
            return self.target.get(name) if value is None else value

        strategies = ext("x-kubernetes-patch-strategy") or ""
        self.patch_strategies = frozenset(s.strip() for s in strategies.split(",") if s.strip())
        self.merge_key: str | None = ext("x-kubernetes-patch-merge-key")
        if target is None or def_name == RAW_EXTENSION or untyped_atomic:
            self.kind = Kind.UNTYPED
            self.atomic = untyped_atomic or def_name == RAW_EXTENSION
        else:
            self.kind = _classify(self.target)
            self.atomic = ext("x-kubernetes-map-type") == "atomic"
        self.list_type, self.map_keys = self._list_semantics(ext)

    def _list_semantics(self, ext: Any) -> tuple[str, tuple[str, ...]]:
        """structured-merge-diff's list relationship: explicit list type, else the patch strategy."""
        if self.kind is not Kind.LIST:
            return "atomic", ()
        list_type = ext("x-kubernetes-list-type")
        if list_type in ("atomic", "set"):
            return str(list_type), ()
        if list_type == "map":
            return "map", tuple(ext("x-kubernetes-list-map-keys") or ())
        if "merge" in self.patch_strategies:
            return ("map", (self.merge_key,)) if self.merge_key else ("set", ())
        return "atomic", ()

    def __repr__(self) -> str:
        return f"<Node {self.kind.value} {self.def_name or ''}>"

    # -- strategic merge patch -------------------------------------------------------------------------

    @property
    def smp_supported(self) -> bool:
        """False for custom resources: upstream answers SMP on them with 415."""
        return self.nav.smp_supported

    @property
    def patch_strategy(self) -> str:
        """The SMP strategy besides ``retainKeys``: ``merge``, ``replace`` or ``""``."""
        rest = self.patch_strategies - {"retainKeys"}
        return next(iter(rest)) if len(rest) == 1 else ""

    @property
    def retain_keys(self) -> bool:
        return "retainKeys" in self.patch_strategies

    # -- navigation -------------------------------------------------------------------------------------

    def fields(self) -> Mapping[str, Node]:
        """Declared fields (struct properties), built on first use and shared per definition."""
        if self._children is None:
            if self.def_name is not None:
                self._children = self.nav._definition_children(self.def_name, self.target)
            else:
                self._children = self.nav._build_children(None, self.target)
        return self._children

    def has_field(self, name: str) -> bool:
        return self.kind is Kind.OBJECT and name in self.fields()

    def field(self, name: str) -> Node:
        """The node of a map key: the declared field, else the map value type, else untyped."""
        if self.kind is Kind.OBJECT:
            children = self._children
            child = (children if children is not None else self.fields()).get(name)
            if child is not None:
                return child
            return self._elements or self.values()
        if self.kind is Kind.UNTYPED:
            return self if self.atomic else self.nav.deduced
        return self.nav.deduced

    def values(self) -> Node:
        """The map value node (``additionalProperties``); untyped when undeclared."""
        if self._elements is None:
            extra = self.target.get("additionalProperties")
            if isinstance(extra, Mapping):
                self._elements = Node(self.nav, extra)
            else:
                self._elements = self.nav.untyped_atomic if self.atomic else self.nav.deduced
        return self._elements

    def has_values(self) -> bool:
        """Whether undeclared keys are part of the type (a map, or preserve-unknown-fields)."""
        extra = self.target.get("additionalProperties")
        return bool(extra) or bool(self.target.get("x-kubernetes-preserve-unknown-fields"))

    def item(self) -> Node:
        """The list item node."""
        if self._item is None:
            items = self.target.get("items") if self.kind is Kind.LIST else None
            if isinstance(items, list):
                items = items[0] if items else None
            if isinstance(items, Mapping):
                self._item = Node(self.nav, items)
            else:
                self._item = self.nav.untyped_atomic
        return self._item

    @property
    def required(self) -> frozenset[str]:
        return frozenset(self.target.get("required") or ())

    def keyed(self) -> bool:
        """Whether values of this node may hold lists whose items are told apart by key or value.

        Walking such a value can fail (an item without its key, a map in a set); walking anything
        else cannot, so the typed walks skip it when they only need to know that.  Conservative (never
        False for a node that can hold one): recursive types may count as keyed when they are not.
        """
        keyed = self._keyed
        if keyed is None:
            self._keyed = True  # a cycle back here is answered conservatively
            keyed = self._keyed = self._compute_keyed()
        return keyed

    def _compute_keyed(self) -> bool:
        if self.kind is Kind.LIST:
            return self.list_type != "atomic"
        if self.kind is not Kind.OBJECT or self.atomic:
            return False  # scalars, atomic maps and untyped values (lists atomic) never index lists
        if any(child.keyed() for child in self.fields().values()):
            return True
        return self.values().keyed()

    def zero(self) -> dict[str, Any]:
        """:func:`zero_value` of this node, computed once and shared: callers must not modify it."""
        zero = self._zero
        if zero is None:
            zero = self._zero = zero_value(self)
        return zero

    def key_default(self, key: str) -> tuple[bool, Any]:
        """For a list-map item node: the default of a key field, used when an item omits the key."""
        if self.kind is Kind.OBJECT:
            child = self.fields().get(key)
            if child is not None and child.has_default:
                return True, child.default
        return False, None


class Navigator:
    """Builds :class:`Node` objects from a set of OpenAPI definitions."""

    def __init__(
        self,
        definitions: Mapping[str, Any],
        *,
        defaults: Mapping[str, Mapping[str, Any]] | None = None,
        smp_supported: bool = True,
    ) -> None:
        self.definitions = definitions
        self.smp_supported = smp_supported
        self._defaults = defaults or {}
        self._def_nodes: dict[str, Node] = {}
        self._def_children: dict[str, dict[str, Node]] = {}
        self._gvk: dict[tuple[str, str, str], str] | None = None
        self.deduced = Node(self, {}, untyped_atomic=False)
        self.untyped_atomic = Node(self, {}, untyped_atomic=True)

    def resolve(self, schema: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str | None]:
        """Follow ``$ref`` (v2) or a single-entry ``allOf`` (v3); returns (schema, definition name)."""
        ref: Any = schema.get("$ref")
        if ref is None:
            all_of = schema.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
                ref = all_of[0].get("$ref")
        if ref is None:
            return (schema if schema else None), None
        name = str(ref).rsplit("/", 1)[-1]
        return self.definitions.get(name), name

    def definition(self, name: str) -> Node | None:
        """The node of a named definition, or None if unknown."""
        node = self._def_nodes.get(name)
        if node is None:
            if name not in self.definitions:
                return None
            node = Node(self, {"$ref": "#/definitions/" + name})
            self._def_nodes[name] = node
        return node

    def root(self, group: str, version: str, kind: str) -> Node | None:
        """The node of a top-level kind, by ``x-kubernetes-group-version-kind``."""
        if self._gvk is None:
            index: dict[tuple[str, str, str], str] = {}
            for name, schema in self.definitions.items():
                for gvk in schema.get("x-kubernetes-group-version-kind") or ():
                    key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                    index.setdefault(key, name)
            self._gvk = index
        found = self._gvk.get((group, version, kind))
        return self.definition(found) if found else None

    def for_object(self, obj: Mapping[str, Any]) -> Node | None:
        """The root node for an object's ``apiVersion`` and ``kind``."""
        group, version = split_api_version(str(obj.get("apiVersion") or ""))
        return self.root(group, version, str(obj.get("kind") or ""))

    def _definition_children(self, name: str, target: Mapping[str, Any]) -> dict[str, Node]:
        children = self._def_children.get(name)
        if children is None:
            children = self._build_children(name, target)
            self._def_children[name] = children
        return children

    def _build_children(self, def_name: str | None, target: Mapping[str, Any]) -> dict[str, Node]:
        overlay = self._defaults.get(def_name, {}) if def_name else {}
        return {
            field: Node(self, prop, default=overlay.get(field, _MISSING))
            for field, prop in (target.get("properties") or {}).items()
        }


def _classify(schema: Mapping[str, Any]) -> Kind:
    if schema.get("x-kubernetes-int-or-string"):
        return Kind.SCALAR
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    if typ == "array" or (typ is None and "items" in schema):
        return Kind.LIST
    if typ == "object" or (typ is None and ("properties" in schema or "additionalProperties" in schema)):
        return Kind.OBJECT
    if typ in ("string", "integer", "number", "boolean"):
        return Kind.SCALAR
    return Kind.UNTYPED


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def zero_value(node: Node) -> dict[str, Any]:
    """The Go zero value of a struct kind, as the unstructured converter renders it.

    Non-pointer structs (``default: {}``) are present and recursed into, required fields without a
    default are ``null`` (nil slices, pointers), defaults of required scalars are kept, and
    ``metav1.Time`` renders as ``null``.  Upstream compares created objects against this shape.
    """
    out: dict[str, Any] = {}
    if node.kind is not Kind.OBJECT:
        return out
    required = node.required
    for name, child in node.fields().items():
        if child.has_default:
            if child.default == {} and child.kind is Kind.OBJECT:
                out[name] = zero_value(child)
            else:
                out[name] = copy.deepcopy(child.default)
        elif name in required:
            out[name] = None
    if node.def_name == OBJECT_META:
        out["creationTimestamp"] = None
    return out


def _read_gz(path: Any) -> Any:
    with path.open("rb") as fh:
        return orjson.loads(gzip.decompress(fh.read()))


def _walk_v3(root: Any) -> Iterator[Any]:
    for entry in root.iterdir():
        if entry.is_dir():
            yield from _walk_v3(entry)
        elif entry.name.endswith(".json.gz"):
            yield entry


@functools.cache
def builtin_navigator() -> Navigator:
    """The navigator of all built-in Kubernetes 1.33 types (loaded once)."""
    data = resources.files("kybernetes.api") / "data"
    definitions = _read_gz(data / "swagger.json.gz")["definitions"]
    defaults: dict[str, dict[str, Any]] = {}
    for path in _walk_v3(data / "v3"):
        schemas = _read_gz(path).get("components", {}).get("schemas", {})
        for name, schema in schemas.items():
            for field, prop in (schema.get("properties") or {}).items():
                if "default" in prop:
                    defaults.setdefault(name, {})[field] = prop["default"]
    return Navigator(definitions, defaults=defaults, smp_supported=True)


def builtin_root(api_version: str, kind: str) -> Node | None:
    """The built-in node for ``apiVersion``/``kind``, or None for unknown (custom) kinds."""
    group, version = split_api_version(api_version)
    return builtin_navigator().root(group, version, kind)


def structural_root(schema: Mapping[str, Any], *, base: Navigator | None = None) -> Node:
    """A node for a custom resource from its structural (OpenAPI v3) schema.

    ``apiVersion``/``kind`` are strings and ``metadata`` is ``ObjectMeta`` as upstream does for CRDs;
    the navigator has ``smp_supported`` False.  ``base`` supplies ObjectMeta (the built-ins by default).
    """
    base = base or builtin_navigator()
    nav = Navigator(base.definitions, defaults=base._defaults, smp_supported=False)
    root = dict(schema)
    props = dict(root.get("properties") or {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    meta = props.get("metadata")
    if not isinstance(meta, Mapping) or not meta.get("properties"):
        props["metadata"] = {"$ref": "#/definitions/" + OBJECT_META, "default": {}}
    root["properties"] = props
    root.setdefault("type", "object")
    return Node(nav, root)
