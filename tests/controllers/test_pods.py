"""Pod facts shared by the workload controllers: availability and which pods go first on scale-down."""

from __future__ import annotations

from typing import Any

from kybernetes.controllers.pods import deletion_order, is_available, pod_from_template


def pod(name: str, *, node: str = "", phase: str = "Running", ready_at: str | None = None, created: str = "2024-01-01T00:00:00Z", restarts: int = 0) -> dict[str, Any]:
    conds = [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}] if ready_at else [{"type": "Ready", "status": "False"}]
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"nodeName": node},
        "status": {"phase": phase, "conditions": conds, "containerStatuses": [{"restartCount": restarts}]},
    }


def test_available_needs_min_ready_seconds_of_readiness() -> None:
    p = pod("a", ready_at="2024-01-01T00:00:10Z")
    t = 1704067210.0  # 00:00:10
    assert is_available(p, 0, t)
    assert not is_available(p, 5, t + 4)
    assert is_available(p, 5, t + 5)
    assert not is_available(pod("b"), 0, t)


def test_deletion_order_matches_upstream_ranking() -> None:
    pods = [
        pod("ready-old", node="n1", ready_at="2024-01-01T00:00:00Z"),
        pod("ready-new", node="n2", ready_at="2024-01-01T00:05:00Z"),
        pod("unscheduled", phase="Pending"),
        pod("pending", node="n1", phase="Pending"),
        pod("not-ready", node="n1"),
        pod("crowded", node="n3", ready_at="2024-01-01T00:00:00Z"),
        pod("restarty", node="n2", ready_at="2024-01-01T00:05:00Z", restarts=5),
    ]
    order = [p["metadata"]["name"] for p in deletion_order(pods, {"n1": 3, "n2": 2, "n3": 9})]
    # then more siblings on the node first (n3: 9, n1: 3, n2: 2); among equals, more restarts first.
    assert order == ["unscheduled", "pending", "not-ready", "crowded", "ready-old", "restarty", "ready-new"]


def test_pod_from_template_copies_metadata_and_owns() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs", "namespace": "ns", "uid": "u1"}}
    t = {"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}, "finalizers": ["f"]}, "spec": {"containers": [{"name": "c"}]}}
    p = pod_from_template(t, owner, "rs-")
    assert p["metadata"] == {
        "namespace": "ns",
        "labels": {"a": "b"},
        "annotations": {"x": "y"},
        "finalizers": ["f"],
        "generateName": "rs-",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": True, "blockOwnerDeletion": True}],
    }
    p["spec"]["containers"][0]["name"] = "changed"
    assert t["spec"]["containers"][0]["name"] == "c", "the template must not be shared with the pod"
