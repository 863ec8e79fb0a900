"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.machinery.patch import JSONPatchError, MergePatchError, apply_json_patch, apply_merge_patch
from kybernetes.machinery.patch.merge import apply_merge_patch_object

# RFC 7386 appendix A
RFC_CASES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_CASES)
def test_rfc7386_examples(target: Any, patch: Any, expected: Any) -> None:
    before = copy.deepcopy(target)
    assert apply_merge_patch(target, patch) == expected
    assert target == before


def test_merge_patch_result_shares_nothing() -> None:
    target = {"keep": {"x": [1]}, "patch": {"y": 1}}
    out = apply_merge_patch(target, {"patch": {"z": 2}})
    out["keep"]["x"].append(2)
    assert target["keep"]["x"] == [1]


def test_merge_patch_object_requires_object() -> None:
    with pytest.raises(MergePatchError) as info:
        apply_merge_patch_object({}, ["x"])
    assert info.value.status == 400


def test_json_patch_operations() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2]}}
    ops = [
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "replace", "path": "/spec/list/0", "value": 9},
        {"op": "add", "path": "/spec/list/-", "value": 3},
        {"op": "test", "path": "/spec/list/1", "value": 2},
        {"op": "copy", "from": "/spec/list", "path": "/spec/copy"},
        {"op": "move", "from": "/spec/copy", "path": "/spec/moved"},
    ]
    out = apply_json_patch(doc, ops)
    assert out == {"metadata": {"labels": {"b": "2"}}, "spec": {"list": [9, 2, 3], "moved": [9, 2, 3]}}
    assert doc == {"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2]}}


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        ([{"op": "remove", "path": "/missing"}], 422),
        ([{"op": "replace", "path": "/missing", "value": 1}], 422),
        ([{"op": "test", "path": "/a", "value": 2}], 422),
        ([{"op": "add", "path": "/a/b/c", "value": 1}], 422),
        ([{"op": "bogus", "path": "/a"}], 400),
        ([{"path": "/a"}], 400),
        ([{"op": "add", "path": "no-slash", "value": 1}], 422),
        ({"op": "add"}, 400),
        (["not-an-op"], 400),
    ],
)
def test_json_patch_errors(ops: Any, status: int) -> None:
    with pytest.raises(JSONPatchError) as info:
        apply_json_patch({"a": 1}, ops)
    assert info.value.status == status


def test_json_patch_operation_limit() -> None:
    with pytest.raises(JSONPatchError) as info:
        apply_json_patch({}, [{"op": "test", "path": "", "value": {}}] * 10001)
    assert info.value.status == 413
