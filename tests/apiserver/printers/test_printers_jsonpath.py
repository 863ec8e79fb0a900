"""The JSONPath subset used by CRD additionalPrinterColumns."""

from __future__ import annotations

import pytest

from kybernetes.apiserver.printers.jsonpath import JSONPath, JSONPathError, find

OBJ = {
    "metadata": {
        "name": "x",
        "labels": {"app.kubernetes.io/name": "web"},
        "creationTimestamp": "2024-05-01T00:00:00Z",
    },
    "spec": {"replicas": 3, "ratio": 0.5, "enabled": True, "tags": ["a", "b", "c"], "nested": {"k": "v"}},
    "status": {
        "conditions": [
            {"type": "Progressing", "status": "True", "priority": 1},
            {"type": "Ready", "status": "False", "reason": "Waiting", "priority": 5},
        ],
        "items": [{"name": "i1", "value": 1}, {"name": "i2", "value": 2}],
    },
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.replicas", [3]),
        ("{.spec.replicas}", [3]),
        ("$.spec.replicas", [3]),
        (".spec.missing", []),
        (".spec.replicas.deeper", []),
        (".metadata.creationTimestamp", ["2024-05-01T00:00:00Z"]),
        (".metadata.labels['app.kubernetes.io/name']", ["web"]),
        ('.metadata.labels["app.kubernetes.io/name"]', ["web"]),
        (".spec.tags[0]", ["a"]),
        (".spec.tags[-1]", ["c"]),
        (".spec.tags[5]", []),
        (".spec.tags[0:2]", ["a", "b"]),
        (".spec.tags[*]", ["a", "b", "c"]),
        (".spec.nested.*", ["v"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["False"]),
        (".status.conditions[?(@.type=='Ready')].reason", ["Waiting"]),
        ('.status.conditions[?(@.type!="Ready")].type', ["Progressing"]),
        (".status.conditions[?(@.priority>2)].type", ["Ready"]),
        (".status.conditions[?(@.priority<=1)].type", ["Progressing"]),
        (".status.conditions[?(@.reason)].type", ["Ready"]),
        ('.status.conditions[?(@.type=="Missing")].status', []),
        (".status.items[*].name", ["i1", "i2"]),
        ("..value", [1, 2]),
        (".", [OBJ]),
    ],
)
def test_find(path: str, expected: list[object]) -> None:
    assert find(path, OBJ) == expected


def test_first() -> None:
    assert JSONPath(".status.items[*].name").first(OBJ) == (True, "i1")
    assert JSONPath(".nope").first(OBJ) == (False, None)


def test_filters_on_non_objects_do_not_crash() -> None:
    assert find('.spec.tags[?(@.x=="y")]', OBJ) == []
    assert find(".spec.replicas[0]", OBJ) == []
    assert find(".spec.nested[0]", OBJ) == []


@pytest.mark.parametrize(
    "path", ["spec.replicas", ".spec[", ".spec[abc]", ".spec[?(@.a ~ 1)]", ".spec..", ".a[1:2:3:4]"]
)
def test_invalid_paths(path: str) -> None:
    with pytest.raises(JSONPathError):
        JSONPath(path)
