"""apps, batch, autoscaling and policy printers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.apiserver.printers import table_for

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ts(hours=2), **extra}


def cells(group: str, resource: str, obj: dict[str, Any]) -> list[Any]:
    cells_: list[Any] = table_for(group, resource, [obj], now=NOW)["rows"][0]["cells"]
    return cells_


def columns(group: str, resource: str) -> list[tuple[str, str, int]]:
    return [
        (c["name"], c["type"], c["priority"]) for c in table_for(group, resource, [])["columnDefinitions"]
    ]


TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox:1.36"}]
    },
}


# ---------------------------------------------------------------------------------------------
# apps
# ---------------------------------------------------------------------------------------------


def test_deployment() -> None:
    assert columns("apps", "deployments") == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Up-to-date", "string", 0),
        ("Available", "string", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ]
    d = {
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2},
    }
    assert cells("apps", "deployments", d) == [
        "web",
        "2/3",
        3,
        2,
        "120m",
        "nginx,sidecar",
        "nginx:1.27,busybox:1.36",
        "app=web,!canary,tier in (edge,front)",
    ]


def test_deployment_defaults_and_selector_edge_cases() -> None:
    assert cells("apps", "deployments", {"metadata": meta("bare")}) == [
        "bare",
        "0/1",
        0,
        0,
        "120m",
        "",
        "",
        "",
    ]
    zero = {"metadata": meta("zero"), "spec": {"replicas": 0, "selector": {}}}
    assert cells("apps", "deployments", zero)[1] == "0/0"
    assert cells("apps", "deployments", zero)[7] == ""
    bad = {
        "metadata": meta("bad"),
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}},
    }
    assert cells("apps", "deployments", bad)[7] == "<invalid>"


def test_replica_set() -> None:
    assert columns("apps", "replicasets") == [
        ("Name", "string", 0),
        ("Desired", "integer", 0),
        ("Current", "integer", 0),
        ("Ready", "integer", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ]
    rs = {
        "metadata": meta("web-5d4f8c7b9"),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f8c7b9"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert cells("apps", "replicasets", rs) == [
        "web-5d4f8c7b9",
        2,
        2,
        1,
        "120m",
        "nginx,sidecar",
        "nginx:1.27,busybox:1.36",
        "app=web,pod-template-hash=5d4f8c7b9",
    ]
    empty = {"metadata": meta("e"), "spec": {"selector": {}}}
    assert cells("apps", "replicasets", empty)[7] == "<none>"
    invalid = {
        "metadata": meta("i"),
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
    }
    assert cells("apps", "replicasets", invalid)[7] == "<error>"


def test_stateful_set() -> None:
    assert columns("apps", "statefulsets") == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
    ]
    sts = {
        "metadata": meta("db"),
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"readyReplicas": 3},
    }
    assert cells("apps", "statefulsets", sts) == [
        "db",
        "3/3",
        "120m",
        "nginx,sidecar",
        "nginx:1.27,busybox:1.36",
    ]


def test_daemon_set() -> None:
    assert columns("apps", "daemonsets") == [
        ("Name", "string", 0),
        ("Desired", "integer", 0),
        ("Current", "integer", 0),
        ("Ready", "integer", 0),
        ("Up-to-date", "integer", 0),
        ("Available", "integer", 0),
        ("Node Selector", "string", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ]
    ds = {
        "metadata": meta("kube-proxy"),
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "template": {
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.33.1"}],
                }
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert cells("apps", "daemonsets", ds) == [
        "kube-proxy",
        3,
        3,
        2,
        3,
        2,
        "kubernetes.io/os=linux",
        "120m",
        "kube-proxy",
        "registry.k8s.io/kube-proxy:v1.33.1",
        "k8s-app=kube-proxy",
    ]
    assert cells("apps", "daemonsets", {"metadata": meta("x")})[6] == "<none>"


def test_controller_revision() -> None:
    assert columns("apps", "controllerrevisions") == [
        ("Name", "string", 0),
        ("Controller", "string", 0),
        ("Revision", "string", 0),
        ("Age", "string", 0),
    ]
    cr = {
        "metadata": meta(
            "db-6c8d9",
            ownerReferences=[
                {"apiVersion": "v1", "kind": "Pod", "name": "other"},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True},
            ],
        ),
        "revision": 4,
    }
    assert cells("apps", "controllerrevisions", cr) == ["db-6c8d9", "statefulset.apps/db", 4, "120m"]
    core_owner = {
        "metadata": meta(
            "x", ownerReferences=[{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": True}]
        ),
        "revision": 1,
    }
    assert cells("apps", "controllerrevisions", core_owner)[1] == "pod/p"
    assert cells("apps", "controllerrevisions", {"metadata": meta("orphan")})[1:3] == ["<none>", 0]


# ---------------------------------------------------------------------------------------------
# batch
# ---------------------------------------------------------------------------------------------


def job(spec: dict[str, Any], status: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "metadata": meta("pi", **metadata),
        "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}}, **spec},
        "status": status,
    }


def test_job_columns() -> None:
    assert columns("batch", "jobs") == [
        ("Name", "string", 0),
        ("Status", "string", 0),
        ("Completions", "string", 0),
        ("Duration", "string", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ]


def test_job_complete() -> None:
    j = job(
        {
            "completions": 1,
            "parallelism": 1,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
        },
        {
            "succeeded": 1,
            "startTime": ts(hours=2),
            "completionTime": ts(hours=1, minutes=59, seconds=48),
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"},
            ],
        },
    )
    assert cells("batch", "jobs", j) == [
        "pi",
        "Complete",
        "1/1",
        "12s",
        "120m",
        "pi",
        "perl:5.34",
        "batch.kubernetes.io/controller-uid=u1",
    ]


@pytest.mark.parametrize(
    ("spec", "status", "metadata", "expected"),
    [
        (
            {"completions": 5, "parallelism": 2},
            {"succeeded": 2, "startTime": ts(minutes=3)},
            {},
            ["Running", "2/5", "3m"],
        ),
        (
            {"parallelism": 3},
            {"succeeded": 0, "startTime": ts(seconds=30)},
            {},
            ["Running", "0/1 of 3", "30s"],
        ),
        ({"parallelism": 1}, {}, {}, ["Running", "0/1", ""]),
        ({}, {}, {}, ["Running", "0/1", ""]),
        (
            {"completions": 1},
            {
                "startTime": ts(minutes=10),
                "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}],
            },
            {},
            ["Failed", "0/1", "10m"],
        ),
        (
            {"completions": 1},
            {"startTime": ts(minutes=1)},
            {"deletionTimestamp": ts(seconds=1)},
            ["Terminating", "0/1", "60s"],
        ),
        (
            {"completions": 1, "suspend": True},
            {"conditions": [{"type": "Suspended", "status": "True"}]},
            {},
            ["Suspended", "0/1", ""],
        ),
        (
            {"completions": 1},
            {"startTime": ts(minutes=1), "conditions": [{"type": "FailureTarget", "status": "True"}]},
            {},
            ["FailureTarget", "0/1", "60s"],
        ),
        (
            {"completions": 1},
            {"conditions": [{"type": "Complete", "status": "False"}, {"type": "Complete", "status": "True"}]},
            {},
            ["Running", "0/1", ""],
        ),
    ],
)
def test_job_status_matrix(
    spec: dict[str, Any], status: dict[str, Any], metadata: dict[str, Any], expected: list[str]
) -> None:
    assert cells("batch", "jobs", job(spec, status, **metadata))[1:4] == expected


def test_cron_job() -> None:
    assert columns("batch", "cronjobs") == [
        ("Name", "string", 0),
        ("Schedule", "string", 0),
        ("Timezone", "string", 0),
        ("Suspend", "boolean", 0),
        ("Active", "integer", 0),
        ("Last Schedule", "string", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ]
    cj = {
        "metadata": meta("hello"),
        "spec": {
            "schedule": "*/5 * * * *",
            "timeZone": "Europe/Paris",
            "suspend": False,
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}
            },
        },
        "status": {
            "active": [{"name": "hello-28573", "namespace": "default"}],
            "lastScheduleTime": ts(minutes=4),
        },
    }
    assert cells("batch", "cronjobs", cj) == [
        "hello",
        "*/5 * * * *",
        "Europe/Paris",
        "False",
        1,
        "4m",
        "120m",
        "hello",
        "busybox",
        "<none>",
    ]
    fresh = {"metadata": meta("fresh"), "spec": {"schedule": "@daily", "suspend": True}}
    assert cells("batch", "cronjobs", fresh)[:7] == ["fresh", "@daily", "<none>", "True", 0, "<none>", "120m"]
    assert cells("batch", "cronjobs", {"metadata": meta("u"), "spec": {}})[3] == "<unset>"


# ---------------------------------------------------------------------------------------------
# autoscaling
# ---------------------------------------------------------------------------------------------


def test_hpa_columns() -> None:
    assert columns("autoscaling", "horizontalpodautoscalers") == [
        ("Name", "string", 0),
        ("Reference", "string", 0),
        ("Targets", "string", 0),
        ("MinPods", "string", 0),
        ("MaxPods", "string", 0),
        ("Replicas", "string", 0),
        ("Age", "string", 0),
    ]


def hpa(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": meta("web"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 10,
            **spec,
        },
        "status": status or {},
    }


def test_hpa_v2_cpu_utilization() -> None:
    h = hpa(
        {
            "minReplicas": 2,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
        {
            "currentReplicas": 3,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": 42, "averageValue": "210m"},
                    },
                }
            ],
        },
    )
    assert cells("autoscaling", "horizontalpodautoscalers", h) == [
        "web",
        "Deployment/web",
        "cpu: 42%/80%",
        "2",
        10,
        3,
        "120m",
    ]


def test_hpa_metric_formats() -> None:
    h = hpa(
        {
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "1024Mi"},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "rps"},
                        "target": {"type": "AverageValue", "averageValue": "1k"},
                    },
                },
                {
                    "type": "External",
                    "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}},
                },
            ]
        },
        {
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "512Mi"}}},
            ]
        },
    )
    assert cells("autoscaling", "horizontalpodautoscalers", h)[2:4] == [
        "memory: 512Mi/1Gi, <unknown>/1k + 1 more...",
        "<unset>",
    ]
    more = hpa(
        {
            "metrics": [
                {"type": "Object", "object": {"target": {"type": "AverageValue", "averageValue": "500m"}}},
                {"type": "External", "external": {"target": {"type": "AverageValue", "averageValue": "2"}}},
            ]
        },
        {
            "currentMetrics": [
                {"type": "Object", "object": {"current": {"averageValue": "250m"}}},
                {"type": "External"},
            ]
        },
    )
    assert cells("autoscaling", "horizontalpodautoscalers", more)[2] == "250m/500m (avg), <unknown>/2 (avg)"
    container = hpa(
        {
            "metrics": [
                {
                    "type": "ContainerResource",
                    "containerResource": {
                        "name": "cpu",
                        "container": "app",
                        "target": {"type": "Utilization"},
                    },
                },
                {"type": "Mystery"},
            ]
        }
    )
    assert (
        cells("autoscaling", "horizontalpodautoscalers", container)[2]
        == "cpu: <unknown>/<auto>, <unknown type>"
    )
    assert cells("autoscaling", "horizontalpodautoscalers", hpa({}))[2] == "<none>"


def test_hpa_autoscaling_v1_shape() -> None:
    h = hpa(
        {"minReplicas": 1, "targetCPUUtilizationPercentage": 50},
        {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12},
    )
    assert cells("autoscaling", "horizontalpodautoscalers", h)[2:6] == ["cpu: 12%/50%", "1", 10, 1]
    pending = hpa({"targetCPUUtilizationPercentage": 50})
    assert cells("autoscaling", "horizontalpodautoscalers", pending)[2] == "cpu: <unknown>/50%"


# ---------------------------------------------------------------------------------------------
# policy
# ---------------------------------------------------------------------------------------------


def test_pod_disruption_budget() -> None:
    assert columns("policy", "poddisruptionbudgets") == [
        ("Name", "string", 0),
        ("Min Available", "string", 0),
        ("Max Unavailable", "string", 0),
        ("Allowed Disruptions", "integer", 0),
        ("Age", "string", 0),
    ]
    pdb = {"metadata": meta("zk"), "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}}
    assert cells("policy", "poddisruptionbudgets", pdb) == ["zk", "2", "N/A", 1, "120m"]
    pct = {"metadata": meta("web"), "spec": {"maxUnavailable": "25%"}}
    assert cells("policy", "poddisruptionbudgets", pct) == ["web", "N/A", "25%", 0, "120m"]


def test_scale_subresource() -> None:
    cols = table_for("apps", "deployments/scale", [])["columnDefinitions"]
    assert [(c["name"], c["type"], c["format"]) for c in cols] == [
        ("Name", "string", ""),
        ("Desired", "integer", ""),
        ("Available", "integer", ""),
        ("Age", "string", ""),
    ]
    scale = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": meta("web"),
        "spec": {"replicas": 5},
        "status": {"replicas": 3, "selector": "app=web"},
    }
    for group, resource in (
        ("apps", "deployments/scale"),
        ("apps", "replicasets/scale"),
        ("apps", "statefulsets/scale"),
        ("", "replicationcontrollers/scale"),
    ):
        assert cells(group, resource, scale) == ["web", 5, 3, "120m"]
