"""Shared fixtures for the patch engine tests."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.machinery.patch.schema import Navigator, Node, builtin_root

# A test type shaped like upstream's strategicpatch ``MergeItem`` test struct.
_MERGE_ITEM: dict[str, Any] = {
    "mergeItem": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "value": {"type": "string"},
            "other": {"type": "string"},
            "mergingList": {
                "type": "array",
                "items": {"$ref": "#/definitions/mergeItem"},
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge",
            },
            "nonMergingList": {"type": "array", "items": {"$ref": "#/definitions/mergeItem"}},
            "mergingIntList": {
                "type": "array",
                "items": {"type": "integer"},
                "x-kubernetes-patch-strategy": "merge",
            },
            "nonMergingIntList": {"type": "array", "items": {"type": "integer"}},
            "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
            "retainKeysMap": {
                "$ref": "#/definitions/retainKeysMergeItem",
                "x-kubernetes-patch-strategy": "retainKeys",
            },
            "retainKeysMergingList": {
                "type": "array",
                "items": {"$ref": "#/definitions/mergeItem"},
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge,retainKeys",
            },
        },
    },
    "retainKeysMergeItem": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "value": {"type": "string"},
            "other": {"type": "string"},
            "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
            "mergingIntList": {
                "type": "array",
                "items": {"type": "integer"},
                "x-kubernetes-patch-strategy": "merge",
            },
        },
    },
}


@pytest.fixture(scope="session")
def merge_item() -> Node:
    node = Navigator(_MERGE_ITEM).definition("mergeItem")
    assert node is not None
    return node


def root(api_version: str, kind: str) -> Node:
    node = builtin_root(api_version, kind)
    assert node is not None, (api_version, kind)
    return node


@pytest.fixture(scope="session")
def deployment() -> Node:
    return root("apps/v1", "Deployment")


@pytest.fixture(scope="session")
def pod() -> Node:
    return root("v1", "Pod")


@pytest.fixture(scope="session")
def node_kind() -> Node:
    return root("v1", "Node")
