"""The Table envelope: metadata, includeObject, noHeaders, default table, CRD columns, registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.apiserver.printers import (
    CRD_DEFAULT_COLUMNS,
    PRINTERS,
    InvalidIncludeObjectError,
    printer_for,
    table_for,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cm(name: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "uid": f"uid-{name}",
            "resourceVersion": "41",
            "labels": {"app": name},
            "creationTimestamp": ts(minutes=5),
            **meta,
        },
        "data": {"k": "v"},
    }


def test_envelope_and_partial_object_metadata() -> None:
    objs = [cm("b"), cm("a")]
    table = table_for(
        "",
        "configmaps",
        objs,
        now=NOW,
        list_meta={"resourceVersion": "42", "continue": "tok", "remainingItemCount": 7},
    )
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42", "continue": "tok", "remainingItemCount": 7}
    # input order is kept
    assert [r["cells"][0] for r in table["rows"]] == ["b", "a"]
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": objs[0]["metadata"],
    }
    for col in table["columnDefinitions"]:
        assert set(col) == {"name", "type", "format", "description", "priority"}
    json.dumps(table)  # serializable as is


def test_list_meta_omits_empty_fields() -> None:
    assert (
        table_for("", "configmaps", [], list_meta={"resourceVersion": "", "continue": ""})["metadata"] == {}
    )
    assert table_for("", "configmaps", [])["metadata"] == {}
    assert table_for("", "configmaps", [], list_meta={"remainingItemCount": 0})["metadata"] == {
        "remainingItemCount": 0
    }


def test_include_object_variants() -> None:
    obj = cm("a")
    full = table_for("", "configmaps", [obj], include_object="Object")
    assert full["rows"][0]["object"] is obj
    none = table_for("", "configmaps", [obj], include_object="None")
    assert none["rows"][0]["object"] is None
    default = table_for("", "configmaps", [obj], include_object="")
    assert default["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    with pytest.raises(InvalidIncludeObjectError):
        table_for("", "configmaps", [obj], include_object="Everything")


def test_v1beta1_table_version() -> None:
    table = table_for("", "configmaps", [cm("a")], api_version="meta.k8s.io/v1beta1")
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


def test_no_headers_leaves_column_definitions_null() -> None:
    # upstream serializes the nil slice of a watch event after the first one as JSON null
    table = table_for("", "configmaps", [cm("a")], now=NOW, no_headers=True)
    assert table["columnDefinitions"] is None
    assert table["rows"][0]["cells"] == ["a", 1, "5m"]
    assert json.loads(json.dumps(table))["columnDefinitions"] is None


def test_empty_list_has_empty_rows() -> None:
    assert table_for("", "pods", [])["rows"] == []
    assert table_for("example.com", "widgets", [])["rows"] == []


def test_default_table_for_unknown_kinds() -> None:
    for group, resource in (
        ("", "limitranges"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("example.com", "widgets"),
    ):
        assert printer_for(group, resource) is None
        obj = {"metadata": {"name": "x", "creationTimestamp": "2024-05-01T10:11:12.345Z"}}
        table = table_for(group, resource, [obj], now=NOW)
        cols = table["columnDefinitions"]
        assert [(c["name"], c["type"], c["format"], c["priority"]) for c in cols] == [
            ("Name", "string", "name", 0),
            ("Created At", "date", "", 0),
        ]
        assert table["rows"][0]["cells"] == ["x", "2024-05-01T10:11:12Z"]
    no_ts = table_for("", "limitranges", [{"metadata": {"name": "y"}}])
    assert no_ts["rows"][0]["cells"] == ["y", "0001-01-01T00:00:00Z"]


def test_naive_now_is_utc() -> None:
    table = table_for("", "configmaps", [cm("a")], now=NOW.replace(tzinfo=None))
    assert table["rows"][0]["cells"][2] == "5m"


def test_registry_covers_the_built_in_kinds() -> None:
    expected = {
        ("", r)
        for r in (
            "pods",
            "podtemplates",
            "replicationcontrollers",
            "services",
            "endpoints",
            "nodes",
            "events",
            "namespaces",
            "secrets",
            "serviceaccounts",
            "configmaps",
            "persistentvolumes",
            "persistentvolumeclaims",
            "componentstatuses",
            "resourcequotas",
        )
    } | {
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "controllerrevisions"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "ingressclasses"),
        ("networking.k8s.io", "networkpolicies"),
        ("discovery.k8s.io", "endpointslices"),
        ("events.k8s.io", "events"),
        ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("storage.k8s.io", "storageclasses"),
        ("storage.k8s.io", "volumeattachments"),
        ("storage.k8s.io", "csidrivers"),
        ("storage.k8s.io", "csinodes"),
        ("certificates.k8s.io", "certificatesigningrequests"),
        ("coordination.k8s.io", "leases"),
        ("scheduling.k8s.io", "priorityclasses"),
        ("node.k8s.io", "runtimeclasses"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("apiregistration.k8s.io", "apiservices"),
    }
    assert expected <= PRINTERS.keys()
    for printer in PRINTERS.values():
        names = [c.name for c in printer.columns]
        assert len(names) == len(set(names)) or names.count("Name") == 1


def test_every_printer_fills_one_cell_per_column() -> None:
    for (group, resource), printer in PRINTERS.items():
        row = table_for(group, resource, [{"metadata": {"name": "x"}}], now=NOW)["rows"][0]
        extra = 1 if (group, resource) == ("networking.k8s.io", "ipaddresses") else 0
        assert len(row["cells"]) == len(printer.columns) + extra, (group, resource)


# ---------------------------------------------------------------------------------------------
# CRD additionalPrinterColumns
# ---------------------------------------------------------------------------------------------

WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w1", "namespace": "default", "creationTimestamp": ts(minutes=3)},
    "spec": {
        "replicas": 3,
        "ratio": 2.5,
        "paused": False,
        "tags": ["a", "b"],
        "selector": {"app": "w"},
        "big": 1000000.0,
    },
    "status": {
        "conditions": [{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "False"}],
        "lastSync": ts(seconds=42),
    },
}


def col(name: str, type_: str, path: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "jsonPath": path, **kw}


def test_crd_columns_definitions() -> None:
    extra = [
        col("Replicas", "integer", ".spec.replicas", description="Desired replicas"),
        col("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', priority=1),
        col("Age", "date", ".metadata.creationTimestamp"),
    ]
    table = table_for("example.com", "widgets", [WIDGET], now=NOW, extra_columns=extra)
    assert table["columnDefinitions"] == [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": table["columnDefinitions"][0]["description"],
            "priority": 0,
        },
        {
            "name": "Replicas",
            "type": "integer",
            "format": "",
            "description": "Desired replicas",
            "priority": 0,
        },
        {
            "name": "Ready",
            "type": "string",
            "format": "",
            "description": 'Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=="Ready")].status',
            "priority": 1,
        },
        {
            "name": "Age",
            "type": "date",
            "format": "",
            "description": "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp",
            "priority": 0,
        },
    ]
    assert table["rows"][0]["cells"] == ["w1", 3, "False", "3m"]


@pytest.mark.parametrize(
    ("type_", "path", "expected"),
    [
        ("integer", ".spec.replicas", 3),
        ("integer", ".spec.ratio", 2),
        ("integer", ".spec.paused", None),
        ("integer", ".spec.tags", None),
        ("number", ".spec.replicas", 3.0),
        ("number", ".spec.ratio", 2.5),
        ("boolean", ".spec.paused", False),
        ("boolean", ".spec.replicas", None),
        ("string", ".spec.replicas", "3"),
        ("string", ".spec.ratio", "2.5"),
        ("string", ".spec.big", "1e+06"),
        ("string", ".spec.paused", "false"),
        ("string", ".spec.tags", '["a","b"]'),
        ("string", ".spec.selector", '{"app":"w"}'),
        ("string", ".spec.tags[*]", "a"),
        ("string", ".spec.missing", None),
        ("date", ".status.lastSync", "42s"),
        ("date", ".spec.tags[0]", "<invalid>"),
        ("date", ".spec.replicas", None),
        ("string", ".metadata.name", "w1"),
        ("unknowntype", ".spec.replicas", None),
    ],
)
def test_crd_cell_types(type_: str, path: str, expected: Any) -> None:
    table = table_for("example.com", "widgets", [WIDGET], now=NOW, extra_columns=[col("C", type_, path)])
    assert table["rows"][0]["cells"] == ["w1", expected]


def test_crd_null_values() -> None:
    obj = {"metadata": {"name": "n"}, "spec": {"x": None, "when": ""}}
    extra = [col("X", "string", ".spec.x"), col("I", "integer", ".spec.x"), col("W", "date", ".spec.when")]
    assert table_for("e", "w", [obj], now=NOW, extra_columns=extra)["rows"][0]["cells"] == [
        "n",
        None,
        None,
        "<unknown>",
    ]


def test_crd_default_columns_and_no_columns() -> None:
    table = table_for("example.com", "widgets", [WIDGET], now=NOW, extra_columns=list(CRD_DEFAULT_COLUMNS))
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"] == ["w1", "3m"]
    only_name = table_for("example.com", "widgets", [WIDGET], now=NOW, extra_columns=[])
    assert [c["name"] for c in only_name["columnDefinitions"]] == ["Name"]
    assert only_name["rows"][0]["cells"] == ["w1"]


def test_crd_invalid_path_truncates_columns_like_upstream() -> None:
    extra = [
        col("A", "integer", ".spec.replicas"),
        col("B", "string", "spec.bad["),
        col("C", "string", ".metadata.name"),
    ]
    table = table_for("example.com", "widgets", [WIDGET], now=NOW, extra_columns=extra)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "A"]
    assert table["rows"][0]["cells"] == ["w1", 3]


def test_crd_columns_with_no_headers_and_include_object() -> None:
    table = table_for(
        "example.com",
        "widgets",
        [WIDGET],
        now=NOW,
        extra_columns=list(CRD_DEFAULT_COLUMNS),
        no_headers=True,
        include_object="Object",
    )
    assert table["columnDefinitions"] is None
    assert table["rows"][0]["object"] is WIDGET
