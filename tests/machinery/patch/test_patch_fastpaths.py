"""The managedFields fast paths behave exactly like the engines as first written.

``smd_reference`` is a frozen copy of the original, straightforward engines; for random objects
(schema-shaped, with a share of malformed parts: items without their list-map key, maps in sets,
wrong shapes, duplicates, ``true`` next to ``1``), every call here runs both and requires the same
result, byte for byte (key order included, since FieldsV1 order is part of the format), or the same
exception with the same message.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kybernetes.machinery.patch import fieldpath as fast_fieldpath
from kybernetes.machinery.patch import typed as fast_typed
from kybernetes.machinery.patch.errors import PatchError
from kybernetes.machinery.patch.schema import Kind, Navigator, Node, builtin_root, structural_root

# The package re-exports the function ``apply`` under the submodule's name.
fast_apply_mod = importlib.import_module("kybernetes.machinery.patch.apply")
sys.path.insert(0, str(Path(__file__).parent))
ref_apply_mod = importlib.import_module("smd_reference.apply")
ref_fieldpath = importlib.import_module("smd_reference.fieldpath")
ref_typed = importlib.import_module("smd_reference.typed")

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

CRD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["id", "zone"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "zone": {"type": "string", "default": "a"},
                            "v": {"type": "string"},
                            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                        },
                    },
                },
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "atomicMap": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "plain": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
            },
        },
        "status": {"type": "object", "properties": {"n": {"type": "integer"}}},
    },
}

ITEM_SCHEMA: dict[str, Any] = {
    "item": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "value": {"type": "string"},
            "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
            "mergingList": {
                "type": "array",
                "items": {"$ref": "#/definitions/item"},
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge",
            },
            "mergingIntList": {
                "type": "array",
                "items": {"type": "integer"},
                "x-kubernetes-patch-strategy": "merge",
            },
            "nonMergingList": {"type": "array", "items": {"$ref": "#/definitions/item"}},
        },
    }
}


def _root(api_version: str, kind: str) -> Node:
    node = builtin_root(api_version, kind)
    assert node is not None
    return node


_ITEM = Navigator(ITEM_SCHEMA).definition("item")
assert _ITEM is not None
KINDS: list[tuple[str, str, Node | None]] = [
    ("v1", "ConfigMap", _root("v1", "ConfigMap")),
    ("apps/v1", "Deployment", _root("apps/v1", "Deployment")),
    ("v1", "Pod", _root("v1", "Pod")),
    ("example.com/v1", "Widget", structural_root(CRD_SCHEMA)),
    ("example.com/v1", "Item", _ITEM),
    ("example.com/v1", "Untyped", None),
]

SCALARS = ["a", "b", "", "x<y", 0, 1, 2, 1.5, True, False, None]
NAMES = ["a", "b", "c"]


def _json_value(data: st.DataObject, depth: int) -> Any:
    choice = data.draw(st.integers(0, 5 if depth > 0 else 2))
    if choice <= 2:
        return data.draw(st.sampled_from(SCALARS))
    if choice == 3:
        return [_json_value(data, depth - 1) for _ in range(data.draw(st.integers(0, 2)))]
    return {data.draw(st.sampled_from(NAMES)): _json_value(data, depth - 1) for _ in range(data.draw(st.integers(0, 2)))}


def gen(data: st.DataObject, node: Node, depth: int) -> Any:
    """A value for ``node``: mostly well-formed, sometimes not."""
    if depth <= 0 or data.draw(st.integers(0, 19)) == 0:
        return _json_value(data, 1)
    if node.kind is Kind.OBJECT:
        declared = sorted(node.fields())
        # Fields that can hold keyed lists (where walks can fail) are drawn more often.
        keyed = [name for name in declared if node.field(name).keyed()]
        out: dict[str, Any] = {}
        count = data.draw(st.integers(0, 4))
        for _ in range(count):
            pick = data.draw(st.integers(0, 5))
            if keyed and pick >= 3:
                key = data.draw(st.sampled_from(keyed))
            elif declared and pick > 0:
                key = data.draw(st.sampled_from(declared[:40]))
            else:
                key = data.draw(st.sampled_from(["extra", "x", "name"]))
            out[key] = gen(data, node.field(key), depth - 1)
        return out
    if node.kind is Kind.LIST:
        item = node.item()
        items = []
        for _ in range(data.draw(st.integers(0, 3))):
            value = gen(data, item, depth - 1)
            if node.list_type == "map" and node.map_keys:
                if not isinstance(value, dict) or data.draw(st.integers(0, 9)) == 0:
                    value = data.draw(st.sampled_from([None, "s", {}]))
                if isinstance(value, dict):
                    for key in node.map_keys:
                        if data.draw(st.integers(0, 6)) > 0:
                            value[key] = data.draw(st.sampled_from([*NAMES, 80, 443]))
            elif node.list_type in ("set", "map"):
                value = data.draw(st.sampled_from(["p", "q", 1, True, None, 1.0, {"d": 1}, ["l"]]))
            items.append(value)
        return items
    if node.kind is Kind.SCALAR:
        return data.draw(st.sampled_from(SCALARS))
    return _json_value(data, 2)


def mutate(data: st.DataObject, value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with a few random edits (most subtrees kept as they are)."""
    roll = data.draw(st.integers(0, 9))
    if roll == 0 and depth > 0:
        return _json_value(data, 1)
    if isinstance(value, dict) and value:
        out = dict(value)
        key = data.draw(st.sampled_from(sorted(out)))
        edit = data.draw(st.integers(0, 5))
        if edit == 0:
            del out[key]
        elif edit == 1:
            out[data.draw(st.sampled_from(["new", *NAMES]))] = _json_value(data, 1)
        else:
            out[key] = mutate(data, out[key], depth + 1)
        return out
    if isinstance(value, list) and value:
        out_list = list(value)
        i = data.draw(st.integers(0, len(out_list) - 1))
        edit = data.draw(st.integers(0, 4))
        if edit == 0:
            del out_list[i]
        elif edit == 1:
            out_list.append(copy.deepcopy(out_list[i]))
        elif edit == 2:
            out_list.reverse()
        else:
            out_list[i] = mutate(data, out_list[i], depth + 1)
        return out_list
    if roll < 5:
        return data.draw(st.sampled_from(SCALARS))
    return value


def new_object(data: st.DataObject, api_version: str, kind: str, node: Node | None) -> dict[str, Any]:
    body = gen(data, node, 6) if node is not None else _json_value(data, 3)
    obj: dict[str, Any] = body if isinstance(body, dict) else {"spec": body}
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or data.draw(st.integers(0, 9)) > 0:
        meta = {"name": "obj", "namespace": "default"}
        if data.draw(st.booleans()):
            meta["labels"] = {"app": data.draw(st.sampled_from(NAMES))}
        obj["metadata"] = meta
    return obj


def persisted(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    if isinstance(meta, dict):
        meta["uid"] = "uid-1"
        meta["creationTimestamp"] = "2024-05-01T12:00:00Z"
    return out


def copies(*values: Any) -> list[Any]:
    return [copy.deepcopy(v) for v in values]


def text(value: Any) -> str:
    """Order-sensitive, type-exact rendering for comparisons."""
    return json.dumps(value, sort_keys=False)


def both(fast: Callable[[], Any], ref: Callable[[], Any]) -> Any:
    """Run both; they must return the same JSON or raise the same error.  Returns the fast result."""
    try:
        expected = ref()
    except Exception as exc:
        with pytest.raises(type(exc)) as info:
            fast()
        assert str(info.value) == str(exc)
        if isinstance(exc, PatchError):
            assert isinstance(info.value, PatchError)
            assert (info.value.status, info.value.reason) == (exc.status, exc.reason)
            assert getattr(info.value, "causes", None) == getattr(exc, "causes", None)
        return None
    got = fast()
    assert text(got) == text(expected)
    return got


kinds = st.sampled_from(KINDS)
managers = st.sampled_from(["creator", "m1", "kubectl", "before-first-apply"])
subresources = st.sampled_from(["", "", "", "status"])


@SETTINGS
@given(st.data(), kinds, managers, subresources)
def test_create_matches_reference(
    data: st.DataObject, kind: tuple[str, str, Node | None], manager: str, subresource: str
) -> None:
    api_version, name, node = kind
    obj = new_object(data, api_version, name, node)
    if data.draw(st.integers(0, 4)) == 0:
        obj["metadata"]["managedFields"] = data.draw(st.sampled_from([[], [{}], None]))
    fast_ignored, ref_ignored = ignored_sets(data.draw(st.sampled_from(IGNORED_PATHS)))
    both(
        lambda: fast_apply_mod.update_managed_fields(
            None, copy.deepcopy(obj), manager, "Update", subresource, node=node, ignored=fast_ignored, now=T0
        ),
        lambda: ref_apply_mod.update_managed_fields(
            None, copy.deepcopy(obj), manager, "Update", subresource, node=node, ignored=ref_ignored, now=T0
        ),
    )


IGNORED_PATHS = [None, None, [("status",)], [("spec",)], [("metadata", "labels")]]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def ignored_sets(paths: list[tuple[str, ...]] | None) -> tuple[Any, Any]:
    """The same ``ignored`` set for both engines (each has its own FieldSet class)."""
    if paths is None:
        return None, None
    return tuple(
        module.FieldSet.from_paths(module.make_path(*p) for p in paths) for module in (fast_fieldpath, ref_fieldpath)
    )


def with_last_applied(data: st.DataObject, config: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """Sometimes give the live object a client-side apply annotation (kubectl's upgrade path)."""
    meta = live.get("metadata")
    if not isinstance(meta, dict) or data.draw(st.integers(0, 2)) > 0:
        return live
    last = config if data.draw(st.booleans()) else mutate(data, config)
    annotations = dict(meta.get("annotations") or {}) if isinstance(meta.get("annotations"), dict) else {}
    annotations[LAST_APPLIED] = data.draw(st.sampled_from([json.dumps(last), "{", "[]", ""]))
    live = dict(live)
    live["metadata"] = {**meta, "annotations": annotations}
    return live


@SETTINGS
@given(st.data(), kinds)
def test_update_chain_matches_reference(data: st.DataObject, kind: tuple[str, str, Node | None]) -> None:
    """Create, then several updates and applies by several managers; every step is the same."""
    api_version, name, node = kind
    obj = new_object(data, api_version, name, node)
    fast = both(
        lambda: fast_apply_mod.update_managed_fields(None, copy.deepcopy(obj), "creator", node=node, now=T0),
        lambda: ref_apply_mod.update_managed_fields(None, copy.deepcopy(obj), "creator", node=node, now=T0),
    )
    live = persisted(fast)
    for step in range(data.draw(st.integers(1, 6))):
        when = T0 + timedelta(seconds=step + 1)
        manager = data.draw(managers)
        action = data.draw(st.integers(0, 3))
        fast_ignored, ref_ignored = ignored_sets(data.draw(st.sampled_from(IGNORED_PATHS)))
        if action == 3:
            config = mutate(data, {k: v for k, v in live.items() if k != "status"})
            if isinstance(config.get("metadata"), dict):
                config["metadata"] = {k: v for k, v in config["metadata"].items() if k not in ("managedFields", "uid")}
            config["apiVersion"], config["kind"] = api_version, name
            force = data.draw(st.booleans())
            current = with_last_applied(data, config, live)
            if data.draw(st.integers(0, 9)) == 0 and isinstance(current.get("metadata"), dict):
                current = {**current, "metadata": {**current["metadata"], "managedFields": [{"operation": "Bogus"}]}}
            result = both(
                partial(fast_apply_mod.apply, *copies(current, config), manager, force, node, ignored=fast_ignored, now=when),
                partial(ref_apply_mod.apply, *copies(current, config), manager, force, node, ignored=ref_ignored, now=when),
            )
        else:
            new = mutate(data, live)
            if action == 2 and isinstance(new.get("metadata"), dict):
                new["metadata"] = dict(new["metadata"])
                new["metadata"]["managedFields"] = data.draw(st.sampled_from([[], [{}], [{"manager": "x"}]]))
            sub = data.draw(subresources)
            current = live
            result = both(
                partial(
                    fast_apply_mod.update_managed_fields,
                    *copies(current, new), manager, "Update", sub, node=node, ignored=fast_ignored, now=when,
                ),
                partial(
                    ref_apply_mod.update_managed_fields,
                    *copies(current, new), manager, "Update", sub, node=node, ignored=ref_ignored, now=when,
                ),
            )
        if isinstance(result, dict) and isinstance(result.get("metadata"), dict):
            live = persisted(result) if data.draw(st.integers(0, 4)) > 0 else result


@SETTINGS
@given(st.data(), kinds)
def test_apply_create_and_reapply_match_reference(data: st.DataObject, kind: tuple[str, str, Node | None]) -> None:
    api_version, name, node = kind
    config = new_object(data, api_version, name, node)
    first = both(
        lambda: fast_apply_mod.apply(None, copy.deepcopy(config), "kubectl", False, node, now=T0),
        lambda: ref_apply_mod.apply(None, copy.deepcopy(config), "kubectl", False, node, now=T0),
    )
    if first is None:
        return
    live = persisted(first)
    again = config if data.draw(st.booleans()) else mutate(data, config)
    again["apiVersion"], again["kind"] = api_version, name
    manager = data.draw(managers)
    both(
        lambda: fast_apply_mod.apply(copy.deepcopy(live), copy.deepcopy(again), manager, False, node, now=T0),
        lambda: ref_apply_mod.apply(copy.deepcopy(live), copy.deepcopy(again), manager, False, node, now=T0),
    )


def _paths(fields: Any) -> list[str]:
    return [json.dumps([pe.serialize() for pe in p]) for p in fields.iterate()]


@SETTINGS
@given(st.data(), kinds)
def test_compare_matches_reference(data: st.DataObject, kind: tuple[str, str, Node | None]) -> None:
    api_version, name, node = kind
    node = node or Navigator({}).deduced
    lhs = new_object(data, api_version, name, node)
    rhs = mutate(data, lhs) if data.draw(st.booleans()) else new_object(data, api_version, name, node)
    try:
        expected = ref_typed.compare(lhs, rhs, node)
    except ref_typed.TypedError as exc:
        with pytest.raises(fast_typed.TypedError) as info:
            fast_typed.compare(lhs, rhs, node)
        assert str(info.value) == str(exc)
        with pytest.raises(fast_typed.TypedError):
            fast_typed.changed_fields_v1(lhs, rhs, node)
        return
    got = fast_typed.compare(lhs, rhs, node)
    for mine, theirs in ((got.removed, expected.removed), (got.modified, expected.modified), (got.added, expected.added)):
        assert _paths(mine) == _paths(theirs)
    changed = expected.modified.union(expected.added)
    assert text(fast_typed.changed_fields_v1(lhs, rhs, node)) == text(changed.to_fields_v1())


path_elements = st.one_of(
    st.sampled_from("abc").map(lambda n: ("f", n)),
    st.integers(0, 2).map(lambda i: ("i", i)),
    st.sampled_from(["x", 1, True, 1.0]).map(lambda v: ("v", v)),
    st.sampled_from(["k1", "k2"]).map(lambda v: ("k", v)),
)
raw_paths = st.lists(st.lists(path_elements, min_size=1, max_size=4), max_size=8)


def build(module: Any, paths: list[list[tuple[str, Any]]]) -> Any:
    pe_cls = module.PathElement

    def element(kind: str, value: Any) -> Any:
        if kind == "f":
            return pe_cls.field(value)
        if kind == "i":
            return pe_cls.index(value)
        if kind == "v":
            return pe_cls.of_value(value)
        return pe_cls.key([("name", value)])

    return module.FieldSet.from_paths(tuple(element(k, v) for k, v in p) for p in paths)


@SETTINGS
@given(raw_paths, raw_paths, st.booleans(), st.booleans())
def test_field_set_operations_match_reference(
    a_paths: list[Any], b_paths: list[Any], lazy_a: bool, lazy_b: bool
) -> None:
    """Set algebra on built and on lazily decoded sets gives what the plain sets give."""
    ref_a, ref_b = build(ref_fieldpath, a_paths), build(ref_fieldpath, b_paths)
    a, b = build(fast_fieldpath, a_paths), build(fast_fieldpath, b_paths)
    if lazy_a:
        a = fast_fieldpath.FieldSet.from_fields_v1(json.loads(json.dumps(a.to_fields_v1())))
    if lazy_b:
        b = fast_fieldpath.FieldSet.from_fields_v1(json.loads(json.dumps(b.to_fields_v1())))
    for op in ("union", "intersection", "difference", "recursive_difference"):
        got = getattr(a, op)(b)
        expected = getattr(ref_a, op)(ref_b)
        assert text(got.to_fields_v1()) == text(expected.to_fields_v1()), op
        assert _paths(got) == _paths(expected), op
        assert got.empty() == expected.empty()
    assert (a == b) == (ref_a == ref_b)
    assert text(a.to_fields_v1()) == text(ref_a.to_fields_v1())


fields_v1_keys = st.sampled_from(
    ["f:a", "f:b", "f:c", ".", 'k:{"name":"x"}', 'k:{"b":1,"a":2}', 'k:{"a":2,"b":1}', "v:1", "v:1.0", "v:true", "i:0", "i:1", "x:unknown", "k:[1]", "v:{", "i:x"]
)
fields_v1 = st.recursive(
    st.just({}),
    lambda inner: st.dictionaries(fields_v1_keys, st.one_of(inner, st.just(1)), max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(fields_v1)
def test_decoding_any_fields_v1_matches_reference(data: dict[str, Any]) -> None:
    """Canonical input decodes lazily, anything else eagerly; both read like the original decoder."""
    try:
        expected = ref_fieldpath.FieldSet.from_fields_v1(data)
    except ValueError as exc:
        with pytest.raises(ValueError) as info:
            fast_fieldpath.FieldSet.from_fields_v1(data)
        assert str(info.value) == str(exc)
        return
    got = fast_fieldpath.FieldSet.from_fields_v1(data)
    assert text(got.to_fields_v1()) == text(expected.to_fields_v1())
    assert _paths(got) == _paths(expected)
    again = fast_fieldpath.FieldSet.from_fields_v1(got.to_fields_v1())
    assert text(again.to_fields_v1()) == text(expected.to_fields_v1())


@SETTINGS
@given(st.data(), kinds, st.booleans())
def test_kubectl_upgrade_from_client_side_apply_matches_reference(
    data: st.DataObject, kind: tuple[str, str, Node | None], same_config: bool
) -> None:
    """kubectl's first server-side apply over an object it created with client-side apply: conflicts
    with values the last-applied annotation still matches are accepted, others are not."""
    api_version, name, node = kind
    config = new_object(data, api_version, name, node)
    annotated = copy.deepcopy(config)
    last = config if same_config else mutate(data, config)
    annotated["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(last)}
    created = both(
        partial(fast_apply_mod.update_managed_fields, *copies(None, annotated), "kubectl-client-side-apply", node=node, now=T0),
        partial(ref_apply_mod.update_managed_fields, *copies(None, annotated), "kubectl-client-side-apply", node=node, now=T0),
    )
    if created is None:
        return
    live = persisted(created)
    again = mutate(data, config)
    again["apiVersion"], again["kind"] = api_version, name
    both(
        partial(fast_apply_mod.apply, *copies(live, again), "kubectl", False, node, now=T0),
        partial(ref_apply_mod.apply, *copies(live, again), "kubectl", False, node, now=T0),
    )


def _ref_ensured(value: Any, node: Node) -> Any:
    return ref_typed.ensure_named_fields_are_members(ref_typed.to_field_set(value, node), node)


def _both_sets(data: st.DataObject, value: Any, node: Node) -> tuple[Any, Any]:
    """A field set of a variant of ``value``, for both engines (the new one sometimes lazily decoded)."""
    variant = mutate(data, value)
    try:
        ref_set = ref_typed.to_field_set(variant, node)
    except ref_typed.TypedError:
        # A mutation can make the value ill-typed; then both engines must refuse it, and there is no set to compare.
        with pytest.raises(fast_typed.TypedError):
            fast_typed.to_field_set(variant, node)
        assume(False)
    fast_set = fast_typed.to_field_set(variant, node)
    if data.draw(st.booleans()):
        fast_set = fast_fieldpath.FieldSet.from_fields_v1(json.loads(json.dumps(fast_set.to_fields_v1())))
    return fast_set, ref_set


@SETTINGS
@given(st.data(), kinds)
def test_pruning_walks_match_reference(data: st.DataObject, kind: tuple[str, str, Node | None]) -> None:
    """The value walks of pruning give the set algebra they replace."""
    api_version, name, node = kind
    node = node or Navigator({}).deduced
    value = new_object(data, api_version, name, node)
    try:
        expected_all = _ref_ensured(value, node)
    except ref_typed.TypedError:
        with pytest.raises(fast_typed.TypedError):
            fast_typed.unowned_fields(value, node, [])
        return
    pairs = [_both_sets(data, value, node) for _ in range(data.draw(st.integers(0, 3)))]
    ref_union = ref_fieldpath.FieldSet()
    for _, ref_set in pairs:
        ref_union = ref_union.union(ref_set)
    expected = expected_all.difference(ref_typed.ensure_named_fields_are_members(ref_union, node))
    got = fast_typed.unowned_fields(value, node, [fast_set for fast_set, _ in pairs])
    assert _paths(got) == _paths(expected)

    removed_fast, removed_ref = _both_sets(data, value, node)
    after = fast_typed.remove_items(value, removed_fast, node)
    after = {} if after is fast_typed.ABSENT else after
    expected_after = ref_typed.remove_items(value, removed_ref, node)
    assert text(after) == text({} if expected_after is ref_typed.ABSENT else expected_after)
    expected = expected_all.difference(_ref_ensured(after, node))
    assert _paths(fast_typed.vanished_fields(value, after, node)) == _paths(expected)

    other = mutate(data, value)  # any other value, not only a cut of this one
    try:
        expected = expected_all.difference(_ref_ensured(other, node))
    except ref_typed.TypedError:
        return
    assert _paths(fast_typed.vanished_fields(value, other, node)) == _paths(expected)


# -- the fast paths themselves, by example -----------------------------------------------------------------


def test_create_writes_the_entry_straight_from_the_zero_object() -> None:
    node = _root("v1", "ConfigMap")
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "uid": "u", "creationTimestamp": "2024-05-01T12:00:00Z"},
        "data": {"b": "2", "a": "1"},
    }
    out = fast_apply_mod.update_managed_fields(None, cm, "kubectl-create", node=node, now=T0)
    assert out["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2024-05-01T12:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}, "f:b": {}}},
        }
    ]
    assert "managedFields" not in cm["metadata"]  # the input is not modified


def test_canonical_fields_v1_is_decoded_lazily_and_written_back_as_is() -> None:
    raw = {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}}}
    fields = fast_fieldpath.FieldSet.from_fields_v1(raw)
    assert fields.is_lazy()
    assert fields.to_fields_v1() is raw
    # a set operation expands only the levels it looks at; the rest is still the decoded dicts
    less = fields.difference(fast_fieldpath.FieldSet.from_paths([fast_fieldpath.make_path("spec", "replicas")]))
    assert less.to_fields_v1() == {"f:metadata": raw["f:metadata"]}
    assert less.to_fields_v1()["f:metadata"] is raw["f:metadata"]


def test_non_canonical_fields_v1_is_rewritten_as_upstream_writes_it() -> None:
    raw = {"f:spec": {"f:b": {}, "f:a": {}}, "f:metadata": {".": {}}}
    fields = fast_fieldpath.FieldSet.from_fields_v1(raw)
    assert not fields.is_lazy()
    assert list(fields.to_fields_v1()) == ["f:metadata", "f:spec"]
    assert fields.to_fields_v1() == {"f:metadata": {}, "f:spec": {"f:a": {}, "f:b": {}}}


def test_update_keeps_the_fields_v1_of_managers_it_did_not_touch() -> None:
    node = _root("apps/v1", "Deployment")
    created = fast_apply_mod.update_managed_fields(None, new_deployment(), "creator", node=node, now=T0)
    live = persisted(created)
    new = copy.deepcopy(live)
    new["metadata"]["labels"] = {"x": "y"}
    out = fast_apply_mod.update_managed_fields(live, new, "labeler", node=node, now=T0)
    before = {e["manager"]: e["fieldsV1"] for e in live["metadata"]["managedFields"]}
    after = {e["manager"]: e["fieldsV1"] for e in out["metadata"]["managedFields"]}
    assert after["creator"] is new["metadata"]["managedFields"][0]["fieldsV1"]
    assert after["creator"] == before["creator"]
    assert after["labeler"] == {"f:metadata": {"f:labels": {".": {}, "f:x": {}}}}


def new_deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]},
            },
        },
    }
