"""The schema walks behind fieldValidation: finding, naming and pruning unknown and duplicate fields."""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.fieldvalidation.duplicates import parse_pairs, yaml_duplicate_keys
from kybernetes.apiserver.fieldvalidation.report import go_format
from kybernetes.apiserver.fieldvalidation.walk import prune_unknown, scan_pairs, undeclared_fields
from kybernetes.machinery.patch import builtin_root
from kybernetes.machinery.patch.schema import Node


def root(api_version: str, kind: str) -> Node:
    node = builtin_root(api_version, kind)
    assert node is not None
    return node


def test_unknown_and_duplicate_fields_in_document_order() -> None:
    body = (
        b'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","name":"b"},'
        b'"spec":{"replicas":1,"foo":1,"template":{"spec":{"containers":[{"name":"c","image":"i","bar":2}]}},'
        b'"replicas":2}}'
    )
    found = scan_pairs(root("apps/v1", "Deployment"), parse_pairs(body))
    assert found == [
        'duplicate field "metadata.name"',
        'unknown field "spec.foo"',
        'unknown field "spec.template.spec.containers[0].bar"',
        'duplicate field "spec.replicas"',
    ]


def test_maps_and_opaque_objects_accept_any_key() -> None:
    body = (
        b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"1","y":"2"},'
        b'"managedFields":[{"manager":"m","fieldsV1":{"f:data":{"f:x":{}}}}]},"data":{"anything":"ok"}}'
    )
    assert scan_pairs(root("v1", "ConfigMap"), parse_pairs(body)) == []


def test_duplicates_in_maps_are_named_by_their_key() -> None:
    body = b'{"metadata":{"labels":{"x":"1","x":"2"}}}'
    assert scan_pairs(root("v1", "ConfigMap"), parse_pairs(body)) == ['duplicate field "metadata.labels.x"']
    assert scan_pairs(None, parse_pairs(b'{"a":{"b":1,"b":2},"c":[{"d":1,"d":1}]}')) == [
        'duplicate field "a.b"',
        'duplicate field "c[0].d"',
    ]


def test_prune_removes_exactly_the_unknown_fields() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"a": "b"}, "bogus": 1},
        "spec": {"containers": [{"name": "c", "image": "i", "extra": True, "resources": {"limits": {"cpu": "1"}}}]},
        "top": 1,
    }
    assert prune_unknown(root("v1", "Pod"), obj) == ["metadata.bogus", "spec.containers[0].extra", "top"]
    assert obj == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]},
    }


def test_undeclared_fields_use_structured_merge_diff_paths() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x", "lifecycle": {"preStart": {}}}]}}},
        "foo": 1,
    }
    assert undeclared_fields(root("apps/v1", "Deployment"), obj) == [
        '.spec.template.spec.containers[name="web"].lifecycle.preStart',
        ".foo",
    ]


def test_yaml_duplicates_carry_lines() -> None:
    text = b"a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"
    assert yaml_duplicate_keys(text) == [
        'line 4: key "c" already set in map',
        'line 5: key "a" already set in map',
    ]
    assert yaml_duplicate_keys(b'{"x": 1, "x": 2}') == ['line 1: key "x" already set in map']


def test_go_format_of_patch_maps() -> None:
    assert go_format({"spec": {"b": [1, "x", None], "a": True}, "f": 1.5}) == "map[f:1.5 spec:map[a:true b:[1 x <nil>]]]"
