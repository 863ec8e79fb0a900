"""Printers never raise, whatever shape the stored JSON has: every field may be missing or odd."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kybernetes.apiserver.printers import PRINTERS, table_for
from kybernetes.apiserver.printers._common import Context

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CTX = Context(now=NOW)

KEYS = [
    "metadata",
    "spec",
    "status",
    "name",
    "creationTimestamp",
    "deletionTimestamp",
    "labels",
    "annotations",
    "containers",
    "initContainers",
    "containerStatuses",
    "initContainerStatuses",
    "state",
    "lastState",
    "waiting",
    "terminated",
    "running",
    "reason",
    "exitCode",
    "signal",
    "restartCount",
    "ready",
    "started",
    "restartPolicy",
    "conditions",
    "type",
    "phase",
    "ports",
    "port",
    "nodePort",
    "protocol",
    "selector",
    "matchLabels",
    "matchExpressions",
    "operator",
    "values",
    "key",
    "replicas",
    "template",
    "subsets",
    "addresses",
    "ip",
    "hostname",
    "loadBalancer",
    "ingress",
    "rules",
    "host",
    "tls",
    "capacity",
    "storage",
    "accessModes",
    "claimRef",
    "hard",
    "used",
    "metrics",
    "currentMetrics",
    "resource",
    "target",
    "averageValue",
    "averageUtilization",
    "limited",
    "queuing",
    "paramRef",
    "paramKind",
    "ownerReferences",
    "controller",
    "apiVersion",
    "kind",
    "series",
    "count",
    "involvedObject",
    "regarding",
    "source",
    "completions",
    "parallelism",
    "startTime",
    "completionTime",
    "active",
    "schedule",
    "tokenRequests",
    "data",
    "binaryData",
    "secrets",
    "subjects",
    "roleRef",
    "webhooks",
    "endpoints",
    "allocation",
    "reservedFor",
    "minAvailable",
    "maxUnavailable",
    "scaleTargetRef",
    "targetCPUUtilizationPercentage",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "True",
            "False",
            "Always",
            "Running",
            "2024-05-01T11:00:00Z",
            "0001-01-01T00:00:00Z",
            "1Gi",
            "x/y/z",
            "In",
        ]
    ),
    st.text(max_size=5),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=6),
    ),
    max_leaves=30,
)
objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=objects)
def test_row_functions_never_raise(obj: dict[str, Any]) -> None:
    # call the row functions directly: table_for's safety net must not hide a crash here
    for printer in PRINTERS.values():
        printable = printer.prepare(obj) if printer.prepare is not None else obj
        cells = printer.row(printable, CTX)
        assert isinstance(cells, list)
        if printer.conditions is not None:
            printer.conditions(printable)
        if printer.sort_key is not None:
            printer.sort_key(printable)


@settings(max_examples=100, deadline=None)
@given(
    obj=objects,
    path=st.sampled_from(
        [
            ".spec.replicas",
            '.status.conditions[?(@.type=="Ready")].status',
            ".metadata.creationTimestamp",
            "..name",
            ".spec[*]",
        ]
    ),
)
def test_crd_columns_never_raise(obj: dict[str, Any], path: str) -> None:
    for type_ in ("string", "integer", "number", "boolean", "date"):
        table_for("x", "y", [obj], now=NOW, extra_columns=[{"name": "C", "type": type_, "jsonPath": path}])


@pytest.mark.parametrize("bad", [None, 5, "x", [], {"metadata": "x"}, {"metadata": {"name": 7}}])
def test_table_for_tolerates_non_object_items(bad: Any) -> None:
    for group, resource in [*PRINTERS.keys(), ("", "limitranges")]:
        table = table_for(group, resource, [bad], now=NOW)
        assert len(table["rows"]) == 1


def test_safety_net_keeps_the_table_when_a_row_function_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from kybernetes.apiserver import printers

    def boom(obj: dict[str, Any], ctx: Context) -> list[Any]:
        raise RuntimeError("bug")

    broken = printers.Printer(PRINTERS[("", "configmaps")].columns, boom)
    monkeypatch.setitem(printers.PRINTERS, ("", "configmaps"), broken)
    table = table_for("", "configmaps", [{"metadata": {"name": "a"}}], now=NOW)
    assert table["rows"][0]["cells"] == ["a", "<unknown>", "<unknown>"]
