"""Core-group printers: exact column definitions and cells as upstream prints them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.apiserver.printers import table_for

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(**delta: float) -> str:
    """A timestamp `delta` before NOW."""
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ts(minutes=5), **extra}


def cells(resource: str, obj: dict[str, Any], group: str = "") -> list[Any]:
    table = table_for(group, resource, [obj], now=NOW)
    cells_: list[Any] = table["rows"][0]["cells"]
    return cells_


def columns(resource: str, group: str = "") -> list[tuple[str, str, int]]:
    table = table_for(group, resource, [], now=NOW)
    return [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]]


# ---------------------------------------------------------------------------------------------
# pods
# ---------------------------------------------------------------------------------------------


def pod(status: dict[str, Any], spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("web-0", **metadata),
        "spec": spec if spec is not None else {"containers": [{"name": "app", "image": "nginx"}]},
        "status": status,
    }


def running(name: str = "app", ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ts(minutes=4)}},
        **extra,
    }


def test_pod_columns() -> None:
    assert columns("pods") == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Status", "string", 0),
        ("Restarts", "string", 0),
        ("Age", "string", 0),
        ("IP", "string", 1),
        ("Node", "string", 1),
        ("Nominated Node", "string", 1),
        ("Readiness Gates", "string", 1),
    ]
    name_col = table_for("", "pods", [])["columnDefinitions"][0]
    assert name_col["format"] == "name"
    assert name_col["description"].startswith("Name must be unique within a namespace.")


def test_pod_pending_unscheduled() -> None:
    assert cells("pods", pod({"phase": "Pending"})) == [
        "web-0",
        "0/1",
        "Pending",
        "0",
        "5m",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    ]


def test_pod_running_with_wide_cells() -> None:
    p = pod(
        {
            "phase": "Running",
            "podIP": "10.244.1.7",
            "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}],
            "nominatedNodeName": "node-b",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "example.com/gate", "status": "True"},
            ],
            "containerStatuses": [running()],
        },
        spec={
            "nodeName": "node-a",
            "containers": [{"name": "app"}],
            "readinessGates": [{"conditionType": "example.com/gate"}, {"conditionType": "example.com/other"}],
        },
    )
    assert cells("pods", p) == ["web-0", "1/1", "Running", "0", "5m", "10.244.1.7", "node-a", "node-b", "1/2"]


def test_pod_ip_from_pod_ips_when_pod_ip_missing() -> None:
    p = pod({"phase": "Running", "podIPs": [{"ip": "fd00::9"}], "containerStatuses": [running()]})
    assert cells("pods", p)[5] == "fd00::9"


def test_pod_container_creating() -> None:
    p = pod(
        {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
            ],
        },
        spec={"nodeName": "node-a", "containers": [{"name": "app"}]},
    )
    assert cells("pods", p)[:5] == ["web-0", "0/1", "ContainerCreating", "0", "5m"]


def test_pod_crash_loop_back_off_with_last_restart() -> None:
    p = pod(
        {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s"}},
                    "lastState": {
                        "terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ts(minutes=5)}
                    },
                }
            ],
        }
    )
    assert cells("pods", p)[:5] == ["web-0", "0/1", "CrashLoopBackOff", "5 (5m ago)", "5m"]


def test_pod_running_after_restarts() -> None:
    p = pod(
        {
            "phase": "Running",
            "containerStatuses": [
                running(restarts=2, lastState={"terminated": {"exitCode": 137, "finishedAt": ts(minutes=5)}})
            ],
        }
    )
    assert cells("pods", p)[1:4] == ["1/1", "Running", "2 (5m ago)"]


def test_pod_restarts_use_latest_termination_across_containers() -> None:
    p = pod(
        {
            "phase": "Running",
            "containerStatuses": [
                running("a", restarts=1, lastState={"terminated": {"finishedAt": ts(hours=3)}}),
                running("b", restarts=2, lastState={"terminated": {"finishedAt": ts(seconds=90)}}),
            ],
        },
        spec={"containers": [{"name": "a"}, {"name": "b"}]},
    )
    assert cells("pods", p)[1:4] == ["2/2", "Running", "3 (90s ago)"]


def test_pod_restarts_without_termination_time() -> None:
    p = pod({"phase": "Running", "containerStatuses": [running(restarts=3)]})
    assert cells("pods", p)[3] == "3"


@pytest.mark.parametrize(
    ("init_statuses", "expected_status"),
    [
        # neither init container has finished
        (
            [
                {"name": "init-a", "state": {"running": {}}},
                {"name": "init-b", "state": {"waiting": {"reason": "PodInitializing"}}},
            ],
            "Init:0/2",
        ),
        ([{"name": "init-a", "state": {"waiting": {}}}], "Init:0/2"),
        (
            [
                {"name": "init-a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "init-b", "state": {"running": {}}},
            ],
            "Init:1/2",
        ),
        ([{"name": "init-a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}], "Init:CrashLoopBackOff"),
        ([{"name": "init-a", "state": {"waiting": {"reason": "ImagePullBackOff"}}}], "Init:ImagePullBackOff"),
        ([{"name": "init-a", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}], "Init:Error"),
        ([{"name": "init-a", "state": {"terminated": {"exitCode": 2}}}], "Init:ExitCode:2"),
        ([{"name": "init-a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}], "Init:Signal:9"),
    ],
)
def test_pod_init_containers(init_statuses: list[dict[str, Any]], expected_status: str) -> None:
    p = pod(
        {
            "phase": "Pending",
            "initContainerStatuses": init_statuses,
            "containerStatuses": [
                {"name": "app", "ready": False, "state": {"waiting": {"reason": "PodInitializing"}}}
            ],
        },
        spec={"initContainers": [{"name": "init-a"}, {"name": "init-b"}], "containers": [{"name": "app"}]},
    )
    assert cells("pods", p)[1:3] == ["0/1", expected_status]


def test_pod_init_restarts_count_while_initializing() -> None:
    p = pod(
        {
            "phase": "Pending",
            "initContainerStatuses": [
                {
                    "name": "init-a",
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(minutes=2)}},
                }
            ],
            "containerStatuses": [
                {"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
            ],
        },
        spec={"initContainers": [{"name": "init-a"}], "containers": [{"name": "app"}]},
    )
    assert cells("pods", p)[1:4] == ["0/1", "Init:CrashLoopBackOff", "3 (2m ago)"]


def test_pod_with_restartable_init_container_sidecar() -> None:
    p = pod(
        {
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [
                {
                    "name": "proxy",
                    "ready": True,
                    "started": True,
                    "restartCount": 1,
                    "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(minutes=3)}},
                }
            ],
            "containerStatuses": [running()],
        },
        spec={
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}],
        },
    )
    assert cells("pods", p)[1:4] == ["2/2", "Running", "1 (3m ago)"]


def test_pod_completed_and_row_conditions() -> None:
    p = pod(
        {
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "state": {
                        "terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ts(minutes=1)}
                    },
                }
            ],
        }
    )
    row = table_for("", "pods", [p], now=NOW)["rows"][0]
    assert row["cells"][1:4] == ["0/1", "Completed", "0"]
    assert row["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]


def test_pod_failed_row_conditions_and_container_reason() -> None:
    p = pod(
        {
            "phase": "Failed",
            "containerStatuses": [
                {"name": "app", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}
            ],
        }
    )
    row = table_for("", "pods", [p], now=NOW)["rows"][0]
    assert row["cells"][2] == "OOMKilled"
    assert row["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
    ]


def test_running_pod_has_no_row_conditions() -> None:
    row = table_for("", "pods", [pod({"phase": "Running"})], now=NOW)["rows"][0]
    assert "conditions" not in row


@pytest.mark.parametrize(
    ("terminated", "expected"),
    [({"exitCode": 3}, "ExitCode:3"), ({"exitCode": 143, "signal": 15}, "Signal:15")],
)
def test_pod_terminated_without_reason(terminated: dict[str, Any], expected: str) -> None:
    p = pod({"phase": "Running", "containerStatuses": [{"name": "app", "state": {"terminated": terminated}}]})
    assert cells("pods", p)[2] == expected


@pytest.mark.parametrize(("has_ready", "expected"), [(True, "Running"), (False, "NotReady")])
def test_pod_completed_container_but_another_running(has_ready: bool, expected: str) -> None:
    p = pod(
        {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if has_ready else "False"}],
            "containerStatuses": [
                running("a"),
                {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            ],
        },
        spec={"containers": [{"name": "a"}, {"name": "b"}]},
    )
    assert cells("pods", p)[1:3] == ["1/2", expected]


def test_pod_terminating() -> None:
    p = pod({"phase": "Running", "containerStatuses": [running()]}, deletionTimestamp=ts(seconds=10))
    assert cells("pods", p)[1:3] == ["1/1", "Terminating"]


def test_pod_terminal_phase_is_not_terminating() -> None:
    p = pod(
        {
            "phase": "Succeeded",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"reason": "Completed"}}}],
        },
        deletionTimestamp=ts(seconds=10),
    )
    assert cells("pods", p)[2] == "Completed"


def test_pod_node_lost() -> None:
    p = pod(
        {"phase": "Running", "reason": "NodeLost", "containerStatuses": [running()]},
        deletionTimestamp=ts(hours=1),
    )
    assert cells("pods", p)[2] == "Unknown"


def test_pod_evicted_uses_status_reason() -> None:
    p = pod({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."})
    assert cells("pods", p)[1:3] == ["0/1", "Evicted"]


def test_pod_scheduling_gated() -> None:
    p = pod(
        {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
        },
        spec={"containers": [{"name": "app"}], "schedulingGates": [{"name": "example.com/gate"}]},
    )
    assert cells("pods", p)[2] == "SchedulingGated"


# ---------------------------------------------------------------------------------------------
# services
# ---------------------------------------------------------------------------------------------


def svc(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": meta("web"), "spec": spec, "status": status or {}}


def test_service_columns() -> None:
    assert columns("services") == [
        ("Name", "string", 0),
        ("Type", "string", 0),
        ("Cluster-IP", "string", 0),
        ("External-IP", "string", 0),
        ("Port(s)", "string", 0),
        ("Age", "string", 0),
        ("Selector", "string", 1),
    ]


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        (
            {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}, {"port": 9153}],
                "selector": {"k8s-app": "kube-dns"},
            },
            None,
            ["web", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP,9153/TCP", "5m", "k8s-app=kube-dns"],
        ),
        (
            {
                "type": "NodePort",
                "clusterIP": "10.96.7.1",
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
                "selector": {"b": "2", "a": "1"},
            },
            None,
            ["web", "NodePort", "10.96.7.1", "<none>", "80:30080/TCP", "5m", "a=1,b=2"],
        ),
        (
            {"type": "LoadBalancer", "clusterIP": "10.96.7.2", "ports": [{"port": 443, "nodePort": 31443}]},
            None,
            ["web", "LoadBalancer", "10.96.7.2", "<pending>", "443:31443/TCP", "5m", "<none>"],
        ),
        (
            {"type": "LoadBalancer", "clusterIP": "10.96.7.3", "ports": [{"port": 80, "protocol": "TCP"}]},
            {
                "loadBalancer": {
                    "ingress": [
                        {"hostname": "a-very-long-load-balancer-name.elb.example.com"},
                        {"ip": "203.0.113.10"},
                        {"ip": "203.0.113.10"},
                    ]
                }
            },
            [
                "web",
                "LoadBalancer",
                "10.96.7.3",
                "203.0.113.10,a-very-long-load-balancer-name.elb.example.com",
                "80/TCP",
                "5m",
                "<none>",
            ],
        ),
        (
            {
                "type": "LoadBalancer",
                "clusterIP": "10.96.7.4",
                "externalIPs": ["198.51.100.1"],
                "ports": [{"port": 80}],
            },
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.11"}]}},
            ["web", "LoadBalancer", "10.96.7.4", "203.0.113.11,198.51.100.1", "80/TCP", "5m", "<none>"],
        ),
        (
            {"type": "ClusterIP", "clusterIP": "10.96.7.5", "externalIPs": ["198.51.100.7", "198.51.100.8"]},
            None,
            ["web", "ClusterIP", "10.96.7.5", "198.51.100.7,198.51.100.8", "<none>", "5m", "<none>"],
        ),
        (
            {"type": "ExternalName", "externalName": "db.example.com"},
            None,
            ["web", "ExternalName", "<none>", "db.example.com", "<none>", "5m", "<none>"],
        ),
        (
            {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432, "protocol": "TCP"}]},
            None,
            ["web", "ClusterIP", "None", "<none>", "5432/TCP", "5m", "<none>"],
        ),
        (
            {"type": "Mystery", "clusterIPs": ["fd00::1", "10.0.0.1"]},
            None,
            ["web", "Mystery", "fd00::1", "<unknown>", "<none>", "5m", "<none>"],
        ),
    ],
)
def test_service_cells(spec: dict[str, Any], status: dict[str, Any] | None, expected: list[Any]) -> None:
    assert cells("services", svc(spec, status)) == expected


# ---------------------------------------------------------------------------------------------
# nodes
# ---------------------------------------------------------------------------------------------


def node(
    labels: dict[str, str], conditions: list[dict[str, Any]], unschedulable: bool = False
) -> dict[str, Any]:
    return {
        "metadata": {"name": "node-a", "labels": labels, "creationTimestamp": ts(days=12, hours=3)},
        "spec": {"unschedulable": unschedulable} if unschedulable else {},
        "status": {
            "conditions": conditions,
            "addresses": [
                {"type": "Hostname", "address": "node-a"},
                {"type": "InternalIP", "address": "192.168.1.10"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.33.1",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0-18-amd64",
                "containerRuntimeVersion": "containerd://1.7.13",
            },
        },
    }


READY = {"type": "Ready", "status": "True"}


def test_node_columns() -> None:
    assert columns("nodes") == [
        ("Name", "string", 0),
        ("Status", "string", 0),
        ("Roles", "string", 0),
        ("Age", "string", 0),
        ("Version", "string", 0),
        ("Internal-IP", "string", 1),
        ("External-IP", "string", 1),
        ("OS-Image", "string", 1),
        ("Kernel-Version", "string", 1),
        ("Container-Runtime", "string", 1),
    ]


def test_node_ready_control_plane() -> None:
    n = node(
        {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "node-a"},
        [{"type": "MemoryPressure", "status": "False"}, READY],
    )
    assert cells("nodes", n) == [
        "node-a",
        "Ready",
        "control-plane",
        "12d",
        "v1.33.1",
        "192.168.1.10",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.1.0-18-amd64",
        "containerd://1.7.13",
    ]


@pytest.mark.parametrize(
    ("labels", "conditions", "unschedulable", "status", "roles"),
    [
        ({}, [{"type": "Ready", "status": "False"}], False, "NotReady", "<none>"),
        ({}, [{"type": "Ready", "status": "Unknown"}], False, "NotReady", "<none>"),
        ({}, [], False, "Unknown", "<none>"),
        ({}, [READY], True, "Ready,SchedulingDisabled", "<none>"),
        ({}, [], True, "Unknown,SchedulingDisabled", "<none>"),
        (
            {
                "node-role.kubernetes.io/worker": "",
                "node-role.kubernetes.io/control-plane": "",
                "kubernetes.io/role": "master",
            },
            [READY],
            False,
            "Ready",
            "control-plane,master,worker",
        ),
        ({"node-role.kubernetes.io/": "x", "kubernetes.io/role": ""}, [READY], False, "Ready", "<none>"),
        # the last condition of a type wins
        ({}, [{"type": "Ready", "status": "False"}, READY], False, "Ready", "<none>"),
    ],
)
def test_node_status_and_roles(
    labels: dict[str, str], conditions: list[dict[str, Any]], unschedulable: bool, status: str, roles: str
) -> None:
    assert cells("nodes", node(labels, conditions, unschedulable))[1:3] == [status, roles]


def test_node_wide_defaults() -> None:
    n = {
        "metadata": {"name": "bare"},
        "status": {"addresses": [{"type": "ExternalIP", "address": "203.0.113.5"}]},
    }
    assert cells("nodes", n) == [
        "bare",
        "Unknown",
        "<none>",
        "<unknown>",
        "",
        "<none>",
        "203.0.113.5",
        "<unknown>",
        "<unknown>",
        "<unknown>",
    ]


# ---------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------


def test_event_columns() -> None:
    assert columns("events") == [
        ("Last Seen", "string", 0),
        ("Type", "string", 0),
        ("Reason", "string", 0),
        ("Object", "string", 0),
        ("Subobject", "string", 1),
        ("Source", "string", 1),
        ("Message", "string", 0),
        ("First Seen", "string", 1),
        ("Count", "string", 1),
        ("Name", "string", 1),
    ]
    assert table_for("", "events", [])["columnDefinitions"][9]["format"] == "name"
    assert columns("events", "events.k8s.io") == columns("events")


def test_core_event() -> None:
    ev = {
        "metadata": meta("web-0.17c1a2b3"),
        "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
        "reason": "BackOff",
        "message": "Back-off restarting failed container app\n",
        "type": "Warning",
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": ts(hours=1),
        "lastTimestamp": ts(seconds=30),
        "count": 12,
    }
    assert cells("events", ev) == [
        "30s",
        "Warning",
        "BackOff",
        "pod/web-0",
        "spec.containers{app}",
        "kubelet, node-a",
        "Back-off restarting failed container app",
        "60m",
        12,
        "web-0.17c1a2b3",
    ]


def test_event_new_api_fields() -> None:
    ev = {
        "metadata": meta("ns.17c1"),
        "involvedObject": {"kind": "Namespace"},
        "reason": "Scheduled",
        "message": "ok",
        "type": "Normal",
        "eventTime": "2024-05-01T11:58:00.000000Z",
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-node-a",
    }
    assert cells("events", ev) == [
        "2m",
        "Normal",
        "Scheduled",
        "namespace",
        "",
        "default-scheduler, default-scheduler-node-a",
        "ok",
        "2m",
        1,
        "ns.17c1",
    ]


def test_event_series() -> None:
    ev = {
        "metadata": meta("e"),
        "involvedObject": {"kind": "Node", "name": "node-a"},
        "eventTime": "2024-05-01T10:00:00.000000Z",
        "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:00.000000Z"},
        "source": {"component": "kubelet"},
    }
    row = cells("events", ev)
    assert row[0] == "60s"
    assert row[3] == "node/node-a"
    assert row[5] == "kubelet"
    assert row[7] == "120m"
    assert row[8] == 7


def test_events_k8s_io_shape() -> None:
    ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": meta("web-0.17c1"),
        "regarding": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
        "note": "Pulled image",
        "reason": "Pulled",
        "type": "Normal",
        "eventTime": None,
        "reportingController": "kubelet",
        "reportingInstance": "node-a",
        "deprecatedFirstTimestamp": ts(minutes=3),
        "deprecatedLastTimestamp": ts(minutes=1),
        "deprecatedCount": 2,
        "deprecatedSource": {"component": "kubelet", "host": "node-a"},
    }
    table = table_for("events.k8s.io", "events", [ev], now=NOW, include_object="Object")
    assert table["rows"][0]["cells"] == [
        "60s",
        "Normal",
        "Pulled",
        "pod/web-0",
        "spec.containers{app}",
        "kubelet, node-a",
        "Pulled image",
        "3m",
        2,
        "web-0.17c1",
    ]
    # the row still carries the object as served, not the translated one
    assert table["rows"][0]["object"] is ev


# ---------------------------------------------------------------------------------------------
# simple core kinds
# ---------------------------------------------------------------------------------------------


def test_namespace() -> None:
    assert columns("namespaces") == [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)]
    ns = {"metadata": {"name": "kube-system", "creationTimestamp": ts(days=3)}, "status": {"phase": "Active"}}
    assert cells("namespaces", ns) == ["kube-system", "Active", "3d"]
    ns["metadata"]["deletionTimestamp"] = ts(seconds=1)  # type: ignore[index]
    ns["status"] = {"phase": "Terminating"}
    assert cells("namespaces", ns)[1] == "Terminating"


def test_secret() -> None:
    assert columns("secrets") == [
        ("Name", "string", 0),
        ("Type", "string", 0),
        ("Data", "string", 0),
        ("Age", "string", 0),
    ]
    s = {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "eA==", "tls.key": "eA=="}}
    assert cells("secrets", s) == ["tls", "kubernetes.io/tls", 2, "5m"]
    assert cells("secrets", {"metadata": meta("empty")}) == ["empty", "Opaque", 0, "5m"]


def test_configmap_counts_binary_data() -> None:
    assert columns("configmaps") == [("Name", "string", 0), ("Data", "string", 0), ("Age", "string", 0)]
    cm = {"metadata": meta("kube-root-ca.crt"), "data": {"ca.crt": "..."}, "binaryData": {"b": "AA=="}}
    assert cells("configmaps", cm) == ["kube-root-ca.crt", 2, "5m"]


def test_service_account() -> None:
    assert columns("serviceaccounts") == [
        ("Name", "string", 0),
        ("Secrets", "string", 0),
        ("Age", "string", 0),
    ]
    assert cells("serviceaccounts", {"metadata": meta("default")}) == ["default", 0, "5m"]
    sa = {"metadata": meta("builder"), "secrets": [{"name": "builder-token"}]}
    assert cells("serviceaccounts", sa) == ["builder", 1, "5m"]


def test_endpoints() -> None:
    assert columns("endpoints") == [("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)]
    assert cells("endpoints", {"metadata": meta("none")}) == ["none", "<none>", "5m"]
    ep = {
        "metadata": meta("kube-dns"),
        "subsets": [
            {
                "addresses": [{"ip": "10.244.0.2"}, {"ip": "10.244.0.3"}],
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "metrics", "port": 9153}],
            }
        ],
    }
    assert cells("endpoints", ep)[1] == "10.244.0.2:53,10.244.0.3:53,10.244.0.2:9153 + 1 more..."
    v6 = {"metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 80}]}]}
    assert cells("endpoints", v6)[1] == "[fd00::5]:80"
    headless = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}]}
    assert cells("endpoints", headless)[1] == "10.0.0.1,10.0.0.2"
    not_ready = {
        "metadata": meta("nr"),
        "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.9"}], "ports": [{"port": 80}]}],
    }
    assert cells("endpoints", not_ready)[1] == ""


def test_replication_controller() -> None:
    assert columns("replicationcontrollers") == [
        ("Name", "string", 0),
        ("Desired", "integer", 0),
        ("Current", "integer", 0),
        ("Ready", "integer", 0),
        ("Age", "string", 0),
        ("Containers", "string", 1),
        ("Images", "string", 1),
        ("Selector", "string", 1),
    ]
    rc = {
        "metadata": meta("frontend"),
        "spec": {
            "replicas": 3,
            "selector": {"app": "frontend"},
            "template": {
                "spec": {
                    "containers": [{"name": "php", "image": "php:8"}, {"name": "log", "image": "busybox"}]
                }
            },
        },
        "status": {"replicas": 3, "readyReplicas": 2},
    }
    assert cells("replicationcontrollers", rc) == [
        "frontend",
        3,
        3,
        2,
        "5m",
        "php,log",
        "php:8,busybox",
        "app=frontend",
    ]
    assert cells("replicationcontrollers", {"metadata": meta("bare")}) == [
        "bare",
        1,
        0,
        0,
        "5m",
        "",
        "",
        "<none>",
    ]


def test_pod_template() -> None:
    assert columns("podtemplates") == [
        ("Name", "string", 0),
        ("Containers", "string", 0),
        ("Images", "string", 0),
        ("Pod Labels", "string", 0),
    ]
    pt = {
        "metadata": meta("tmpl"),
        "template": {
            "metadata": {"labels": {"tier": "web", "app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
    }
    assert cells("podtemplates", pt) == ["tmpl", "c", "i", "app=x,tier=web"]


def test_component_status() -> None:
    assert columns("componentstatuses") == [
        ("Name", "string", 0),
        ("Status", "string", 0),
        ("Message", "string", 0),
        ("Error", "string", 0),
    ]
    ok = {
        "metadata": {"name": "etcd-0"},
        "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}],
    }
    bad = {
        "metadata": {"name": "scheduler"},
        "conditions": [{"type": "Healthy", "status": "False", "error": "refused"}],
    }
    assert cells("componentstatuses", ok) == ["etcd-0", "Healthy", "ok", ""]
    assert cells("componentstatuses", bad) == ["scheduler", "Unhealthy", "", "refused"]
    assert cells("componentstatuses", {"metadata": {"name": "x"}}) == ["x", "Unknown", "", ""]


def test_resource_quota() -> None:
    assert columns("resourcequotas") == [
        ("Name", "string", 0),
        ("Request", "string", 0),
        ("Limit", "string", 0),
        ("Age", "string", 0),
    ]
    rq = {
        "metadata": meta("compute"),
        "status": {
            "hard": {
                "requests.cpu": "1",
                "requests.memory": "1Gi",
                "limits.cpu": "2",
                "limits.memory": "2048Mi",
                "pods": "10",
            },
            "used": {"requests.cpu": "500m", "requests.memory": "512Mi", "limits.cpu": "1000m", "pods": "3"},
        },
    }
    assert cells("resourcequotas", rq) == [
        "compute",
        "pods: 3/10, requests.cpu: 500m/1, requests.memory: 512Mi/1Gi",
        "limits.cpu: 1/2, limits.memory: 0/2Gi",
        "5m",
    ]


def test_persistent_volume() -> None:
    assert columns("persistentvolumes") == [
        ("Name", "string", 0),
        ("Capacity", "string", 0),
        ("Access Modes", "string", 0),
        ("Reclaim Policy", "string", 0),
        ("Status", "string", 0),
        ("Claim", "string", 0),
        ("StorageClass", "string", 0),
        ("VolumeAttributesClass", "string", 0),
        ("Reason", "string", 0),
        ("Age", "string", 0),
        ("VolumeMode", "string", 1),
    ]
    pv = {
        "metadata": meta("pv-1"),
        "spec": {
            "capacity": {"storage": "1024Mi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "db", "name": "data-0"},
            "storageClassName": "fast",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    assert cells("persistentvolumes", pv) == [
        "pv-1",
        "1Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "db/data-0",
        "fast",
        "<unset>",
        "",
        "5m",
        "Filesystem",
    ]
    released = {
        "metadata": meta(
            "pv-2",
            annotations={"volume.beta.kubernetes.io/storage-class": "legacy"},
            deletionTimestamp=ts(seconds=1),
        ),
        "spec": {
            "accessModes": ["ReadOnlyMany", "ReadWriteOncePod"],
            "volumeAttributesClassName": "gold",
            "storageClassName": "fast",
        },
        "status": {"phase": "Released", "reason": "Reclaiming"},
    }
    assert cells("persistentvolumes", released) == [
        "pv-2",
        "0",
        "ROX,RWOP",
        "",
        "Terminating",
        "",
        "legacy",
        "gold",
        "Reclaiming",
        "5m",
        "<unset>",
    ]


def test_persistent_volume_claim() -> None:
    assert columns("persistentvolumeclaims") == [
        ("Name", "string", 0),
        ("Status", "string", 0),
        ("Volume", "string", 0),
        ("Capacity", "string", 0),
        ("Access Modes", "string", 0),
        ("StorageClass", "string", 0),
        ("VolumeAttributesClass", "string", 0),
        ("Age", "string", 0),
        ("VolumeMode", "string", 1),
    ]
    bound = {
        "metadata": meta("data-0"),
        "spec": {
            "volumeName": "pvc-1234",
            "storageClassName": "standard",
            "resources": {"requests": {"storage": "8Gi"}},
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]},
    }
    assert cells("persistentvolumeclaims", bound) == [
        "data-0",
        "Bound",
        "pvc-1234",
        "10Gi",
        "RWO",
        "standard",
        "<unset>",
        "5m",
        "Filesystem",
    ]
    pending = {
        "metadata": meta("data-1"),
        "spec": {"resources": {"requests": {"storage": "8Gi"}}},
        "status": {"phase": "Pending"},
    }
    assert cells("persistentvolumeclaims", pending) == [
        "data-1",
        "Pending",
        "",
        "",
        "",
        "",
        "<unset>",
        "5m",
        "<unset>",
    ]
