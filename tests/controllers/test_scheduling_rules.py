"""Node matching and taints, as the DaemonSet and node lifecycle controllers apply them."""

from __future__ import annotations

from typing import Any

from kybernetes.controllers.daemonset import daemon_tolerations, pin_to_node, should_run
from kybernetes.controllers.nodelifecycle import desired_taints, eviction_delay
from kybernetes.controllers.nodematch import selects_node, target_node, tolerates


def node(name: str, labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None, ready: str = "True") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def ds(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}], **spec}}}}


def test_tolerations() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert tolerates({"key": "k", "value": "v", "effect": "NoSchedule"}, taint)
    assert not tolerates({"key": "k", "value": "w"}, taint)
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert tolerates({"operator": "Exists"}, taint)


def test_node_selection() -> None:
    n = node("n1", {"disk": "ssd", "cpus": "8"})
    assert selects_node({"nodeSelector": {"disk": "ssd"}}, n)
    assert not selects_node({"nodeSelector": {"disk": "hdd"}}, n)
    aff = lambda *terms: {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}}  # noqa: E731
    assert selects_node(aff({"matchExpressions": [{"key": "cpus", "operator": "Gt", "values": ["4"]}]}), n)
    assert not selects_node(aff({"matchExpressions": [{"key": "cpus", "operator": "Lt", "values": ["4"]}]}), n)
    assert selects_node(aff({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}), n)
    assert not selects_node(aff({}), n)


def test_daemon_pods_run_where_they_tolerate_and_are_pinned() -> None:
    plain = ds({})
    assert should_run(plain, node("a")) == (True, True)
    assert should_run(plain, node("a", taints=[{"key": "x", "effect": "NoSchedule"}])) == (False, True)
    assert should_run(plain, node("a", taints=[{"key": "x", "effect": "NoExecute"}])) == (False, False)
    # Default daemon tolerations ride through node trouble.
    assert should_run(plain, node("a", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])) == (True, True)
    assert should_run(plain, node("a", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])) == (True, True)
    tolerant = ds({"tolerations": [{"key": "x", "operator": "Exists"}]})
    assert should_run(tolerant, node("a", taints=[{"key": "x", "effect": "NoSchedule"}])) == (True, True)
    assert should_run(ds({"nodeSelector": {"role": "edge"}}), node("a")) == (False, False)
    tols = daemon_tolerations({"hostNetwork": True})
    assert {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"} in tols
    spec: dict[str, Any] = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]}}}}
    pin_to_node(spec, "n7")
    assert target_node({"spec": spec}) == "n7"
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}
    ]


def test_lifecycle_taints_follow_conditions() -> None:
    keys = lambda n: sorted((t["key"], t["effect"]) for t in desired_taints(n))  # noqa: E731
    assert keys(node("a")) == []
    assert keys(node("a", ready="Unknown")) == [
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoSchedule"),
    ]
    assert keys(node("a", ready="False")) == [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/not-ready", "NoSchedule"),
    ]
    cordoned = node("a")
    cordoned["spec"]["unschedulable"] = True
    assert keys(cordoned) == [("node.kubernetes.io/unschedulable", "NoSchedule")]


def test_eviction_delay_uses_the_smallest_toleration() -> None:
    taints = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}, {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]
    pod = lambda *tols: {"spec": {"tolerations": list(tols)}}  # noqa: E731
    assert eviction_delay(pod(), taints) == 0
    assert eviction_delay(pod({"operator": "Exists"}), taints) is None
    assert eviction_delay(
        pod(
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        ),
        taints,
    ) == 30
    assert eviction_delay(pod(), [{"key": "x", "effect": "NoSchedule"}]) is None
