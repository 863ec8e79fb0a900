"""Plugin decisions on plain dicts, checked against upstream's semantics and messages (no API server)."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.scheduler.algorithm import num_feasible_nodes_to_find
from kybernetes.scheduler.framework import Code, Status, fit_error_message
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.resources import parse_quantity, pod_requests

from .helpers import Harness, node, pod

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


# ----------------------------------------------------------------------------- resources
@pytest.mark.parametrize(
    ("q", "milli", "want"),
    [("100m", True, 100), ("1", True, 1000), ("1.5", True, 1500), ("2Gi", False, 2 * 2**30), ("1G", False, 10**9),
     ("128974848", False, 128974848), ("129e6", False, 129000000), ("123Mi", False, 123 * 2**20), ("0.1", True, 100),
     ("1k", False, 1000), ("1m", False, 1), (2, True, 2000)],
)
def test_parse_quantity(q: str, milli: bool, want: int) -> None:
    assert parse_quantity(q, milli=milli) == want


def test_pod_requests_init_containers_sidecars_and_overhead() -> None:
    spec = {
        "containers": [{"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                       {"resources": {"requests": {"cpu": "500m"}}}],
        "initContainers": [{"resources": {"requests": {"cpu": "2", "memory": "100Mi"}}},
                           {"restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "10Mi"}}}],
        "overhead": {"cpu": "50m"},
    }
    r = pod_requests(spec)
    # init max: the 2-cpu init container (no sidecar running yet); sum: 1 cpu + sidecar 100m; plus overhead.
    assert r["cpu"] == 2000 + 50
    assert r["memory"] == 2**30 + 10 * 2**20
    nz = pod_requests({"containers": [{"resources": {}}]}, non_zero=True)
    assert nz == {"cpu": 100, "memory": 200 * 2**20}


# ----------------------------------------------------------------------------- resource fit
def test_resource_fit_and_least_allocated() -> None:
    h = Harness([node("small", cpu="1"), node("big", cpu="8"), node("mid", cpu="4")])
    d = h.schedule(pod("p", cpu="2"))
    assert d.node == "big"  # LeastAllocated: most free capacity left
    assert d.failed["small"].reasons == ("Insufficient cpu",)
    d = h.schedule(pod("huge", cpu="16", memory="64Gi"))
    assert not d.ok
    assert d.message() == "0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory."
    assert all(st.code == Code.UNRESOLVABLE for st in d.failed.values())  # larger than any node


def test_resource_fit_pods_count_and_extended_resources() -> None:
    h = Harness([node("n1", pods=1), node("gpu", extra={"example.com/gpu": "2"})])
    h.place(pod("running"), "n1")
    d = h.schedule(pod("p", containers=[{"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "1"}}}]))
    assert d.node == "gpu"
    assert d.failed["n1"].reasons == ("Too many pods", "Insufficient example.com/gpu")
    d = h.schedule(pod("p2", containers=[{"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "3"}}}]))
    assert d.message() == "0/2 nodes are available: 1 Too many pods, 2 Insufficient example.com/gpu."


def test_balanced_allocation_prefers_even_usage() -> None:
    h = Harness([node("cpu-heavy", cpu="4", memory="4Gi"), node("even", cpu="4", memory="4Gi")],
                plugins=["NodeResourcesFit", "NodeResourcesBalancedAllocation", "DefaultBinder"])
    h.place(pod("x", cpu="2", memory="256Mi"), "cpu-heavy")
    h.place(pod("y", cpu="1", memory="1Gi"), "even")
    d = h.schedule(pod("p", cpu="1", memory="1Gi"))
    assert d.node == "even"
    assert d.scores["NodeResourcesBalancedAllocation"][1] > d.scores["NodeResourcesBalancedAllocation"][0]


# ----------------------------------------------------------------------------- node selection
def test_node_selector() -> None:
    h = Harness([node("hdd", labels={"disk": "hdd"}), node("ssd", labels={"disk": "ssd"})])
    assert h.schedule(pod("p", nodeSelector={"disk": "ssd"})).node == "ssd"
    d = h.schedule(pod("q", nodeSelector={"disk": "nvme"}))
    assert d.message() == "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."


def _required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def test_required_node_affinity_operators() -> None:
    h = Harness([node("a", labels={"zone": "z1", "gen": "3"}), node("b", labels={"zone": "z2", "gen": "5"}),
                 node("c", labels={"zone": "z3"})])
    def expr(k: str, op: str, *v: str) -> dict[str, Any]:
        return {"matchExpressions": [{"key": k, "operator": op, "values": list(v)}]}

    assert h.schedule(pod("in", affinity=_required(expr("zone", "In", "z2")))).node == "b"
    assert h.schedule(pod("gt", affinity=_required(expr("gen", "Gt", "4")))).node == "b"
    assert h.schedule(pod("dne", affinity=_required({"matchExpressions": [{"key": "gen", "operator": "DoesNotExist"}]}))).node == "c"
    # Terms are ORed; expressions inside a term ANDed.
    d = h.schedule(pod("or", affinity=_required(expr("zone", "In", "z9"), expr("zone", "NotIn", "z1", "z2"))))
    assert d.node == "c"
    d = h.schedule(pod("and", affinity=_required({"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["z1", "z2"]}, {"key": "gen", "operator": "Lt", "values": ["4"]}]})))
    assert d.node == "a"


def test_match_fields_narrows_candidates() -> None:
    h = Harness([node(f"n{i}") for i in range(5)])
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n3"]}]}
    d = h.schedule(pod("ds", affinity=_required(term)))
    assert d.node == "n3"
    d = h.schedule(pod("ds2", cpu="100", affinity=_required(term)))
    assert d.message() == (
        "0/5 nodes are available: 1 Insufficient cpu, 4 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    )


def test_preferred_node_affinity() -> None:
    h = Harness([node("a", labels={"tier": "cheap"}), node("b", labels={"tier": "fast"})])
    aff = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fast"]}]}},
        {"weight": 1, "preference": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["cheap"]}]}}]}}
    d = h.schedule(pod("p", affinity=aff))
    assert d.node == "b"
    assert d.scores["NodeAffinity"] == [10, 100]


# ----------------------------------------------------------------------------- taints
def test_taints_and_tolerations() -> None:
    h = Harness([node("cp", taints=[CP_TAINT]), node("gpu", taints=[{"key": "gpu", "value": "yes", "effect": "NoExecute"}])])
    d = h.schedule(pod("p"))
    assert d.message() == (
        "0/2 nodes are available: 1 node(s) had untolerated taint {gpu: yes}, "
        "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
    )
    tol = [{"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoExecute"}]
    assert h.schedule(pod("g", tolerations=tol)).node == "gpu"
    assert h.schedule(pod("all", tolerations=[{"operator": "Exists"}])).ok
    assert not h.schedule(pod("wrong", tolerations=[{"key": "gpu", "value": "no"}])).ok


def test_prefer_no_schedule_scores_lower() -> None:
    h = Harness([node("soft", taints=[{"key": "spot", "effect": "PreferNoSchedule"}]), node("clean")])
    d = h.schedule(pod("p"))
    assert d.node == "clean"
    assert d.scores["TaintToleration"] == [0, 100]
    d = h.schedule(pod("t", tolerations=[{"key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"}]))
    assert d.scores["TaintToleration"] == [100, 100]


def test_unschedulable_node() -> None:
    h = Harness([node("cordoned", unschedulable=True)])
    d = h.schedule(pod("p"))
    assert d.message() == "0/1 nodes are available: 1 node(s) were unschedulable."
    tol = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]
    assert h.schedule(pod("q", tolerations=tol)).node == "cordoned"


def test_first_failing_filter_gives_the_reason() -> None:
    """A tainted, full node reports its taint (TaintToleration runs before NodeResourcesFit)."""
    h = Harness([node("cp", cpu="1", taints=[CP_TAINT])] + [node(f"w{i}", cpu="1") for i in range(2)])
    d = h.schedule(pod("p", cpu="2"))
    assert d.message() == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu."
    )


# ----------------------------------------------------------------------------- host ports
def test_host_ports() -> None:
    h = Harness([node("a"), node("b")])
    h.place(pod("web", ports=[{"containerPort": 80, "hostPort": 8080}]), "a")
    h.place(pod("dns", ports=[{"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"}]), "b")
    assert h.schedule(pod("p", ports=[{"containerPort": 80, "hostPort": 8080}])).node == "b"
    # Same port, other protocol, or another specific IP: no conflict.
    assert h.schedule(pod("udp", ports=[{"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.2"}])).ok
    d = h.schedule(pod("both", ports=[{"containerPort": 1, "hostPort": 8080}, {"containerPort": 2, "hostPort": 53, "protocol": "UDP"}]))
    assert d.message() == "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."


# ----------------------------------------------------------------------------- topology spread
def _zones() -> list[dict[str, Any]]:
    return [node(f"{z}-{i}", labels={"topology.kubernetes.io/zone": z}) for z in ("a", "b") for i in range(2)]


def _spread(key: str, hard: bool = True, skew: int = 1, **extra: object) -> list[dict[str, Any]]:
    return [{"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule" if hard else "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"app": "web"}}, **extra}]


def test_topology_spread_hard() -> None:
    h = Harness([*_zones(), node("nolabel")])
    h.place(pod("w1", labels={"app": "web"}), "a-0")
    h.place(pod("w2", labels={"app": "web"}), "a-1")
    h.place(pod("other", labels={"app": "db"}), "b-0")
    d = h.schedule(pod("p", labels={"app": "web"}, topologySpreadConstraints=_spread("topology.kubernetes.io/zone")))
    assert d.node.startswith("b-")
    assert d.failed["a-0"].reasons == ("node(s) didn't match pod topology spread constraints",)
    assert d.failed["nolabel"].reasons == ("node(s) didn't match pod topology spread constraints (missing required label)",)


def test_topology_spread_min_domains() -> None:
    h = Harness(_zones())
    h.place(pod("w1", labels={"app": "web"}), "a-0")
    # Two zones exist but minDomains=3: the global minimum counts as 0, so skew in zone a would be 2 > 1.
    c = _spread("topology.kubernetes.io/zone", minDomains=3)
    d = h.schedule(pod("p", labels={"app": "web"}, topologySpreadConstraints=c))
    assert d.node.startswith("b-")
    h.place(pod("w2", labels={"app": "web"}), "b-0")
    d = h.schedule(pod("q", labels={"app": "web"}, topologySpreadConstraints=c))
    assert not d.ok


def test_topology_spread_soft_prefers_emptier_domain() -> None:
    h = Harness(_zones())
    for i in range(3):
        h.place(pod(f"w{i}", labels={"app": "web"}), "a-0")
    d = h.schedule(pod("p", labels={"app": "web"}, topologySpreadConstraints=_spread("topology.kubernetes.io/zone", hard=False)))
    assert d.node.startswith("b-")
    d = h.schedule(pod("h", labels={"app": "web"}, topologySpreadConstraints=_spread("kubernetes.io/hostname", hard=False)))
    assert d.node != "a-0"


def test_topology_spread_keeps_replicas_apart() -> None:
    h = Harness(_zones())
    placed = [h.schedule_and_assume(pod(f"r{i}", labels={"app": "web"}, topologySpreadConstraints=_spread("kubernetes.io/hostname")))
              for i in range(4)]
    assert sorted(placed) == ["a-0", "a-1", "b-0", "b-1"]


# ----------------------------------------------------------------------------- inter-pod affinity
def _pod_aff(kind: str, app: str, key: str = "kubernetes.io/hostname", required: bool = True, weight: int = 10) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}
    if required:
        return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": weight, "podAffinityTerm": term}]}}


def test_required_pod_affinity() -> None:
    h = Harness(_zones())
    h.place(pod("db", labels={"app": "db"}), "b-1")
    assert h.schedule(pod("p", affinity=_pod_aff("podAffinity", "db"))).node == "b-1"
    assert h.schedule(pod("z", affinity=_pod_aff("podAffinity", "db", "topology.kubernetes.io/zone"))).node.startswith("b-")
    d = h.schedule(pod("none", affinity=_pod_aff("podAffinity", "cache")))
    assert d.message() == "0/4 nodes are available: 4 node(s) didn't match pod affinity rules."
    # Other namespaces do not count unless the term names them.
    d = h.schedule(pod("ns", namespace="other", affinity=_pod_aff("podAffinity", "db")))
    assert not d.ok


def test_first_pod_with_self_affinity_may_go_anywhere() -> None:
    h = Harness(_zones())
    assert h.schedule(pod("first", labels={"app": "cache"}, affinity=_pod_aff("podAffinity", "cache"))).ok


def test_required_pod_anti_affinity_both_directions() -> None:
    h = Harness(_zones())
    h.place(pod("w", labels={"app": "web"}), "a-0")
    d = h.schedule(pod("p", labels={"app": "web"}, affinity=_pod_aff("podAntiAffinity", "web", "topology.kubernetes.io/zone")))
    assert d.node.startswith("b-")
    assert d.failed["a-1"].reasons == ("node(s) didn't match pod anti-affinity rules",)
    # An existing pod's anti-affinity repels a newcomer that matches it.
    h.place(pod("loner", labels={"app": "loner"}, affinity=_pod_aff("podAntiAffinity", "web")), "b-0")
    d = h.schedule(pod("q", labels={"app": "web"}))
    assert d.failed["b-0"].reasons == ("node(s) didn't satisfy existing pods anti-affinity rules",)


def test_preferred_pod_affinity_and_anti_affinity() -> None:
    h = Harness(_zones())
    h.place(pod("db", labels={"app": "db"}), "a-1")
    assert h.schedule(pod("p", affinity=_pod_aff("podAffinity", "db", required=False))).node == "a-1"
    d = h.schedule(pod("q", affinity=_pod_aff("podAntiAffinity", "db", "topology.kubernetes.io/zone", required=False)))
    assert d.node.startswith("b-")


# ----------------------------------------------------------------------------- messages and sampling
def test_fit_error_message_shape() -> None:
    failed = {f"n{i}": Status(Code.UNSCHEDULABLE, ("Insufficient cpu",)) for i in range(2)}
    failed.update({f"c{i}": Status(Code.UNRESOLVABLE, ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",))
                   for i in range(3)})
    post = "preemption: " + fit_error_message(5, {k: Status(Code.UNRESOLVABLE, ("Preemption is not helpful for scheduling",)) for k in failed})
    assert fit_error_message(5, failed, post_filter_msg=post) == (
        "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/5 nodes are available: 5 Preemption is not "
        "helpful for scheduling."
    )


@pytest.mark.parametrize(("nodes", "want"), [(50, 50), (100, 100), (1000, 420), (5000, 500), (6000, 300), (20000, 1000)])
def test_num_feasible_nodes_to_find(nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(nodes) == want


def test_only_a_sample_of_large_clusters_is_filtered_round_robin() -> None:
    h = Harness([node(f"n{i:04d}") for i in range(1000)])
    d = h.schedule(pod("p"))
    assert len(d.feasible) == 420 and d.evaluated == 420
    d2 = h.schedule(pod("q"))
    assert {n.name for n in d.feasible}.isdisjoint({n.name for n in d2.feasible})


def test_podinfo_defaults() -> None:
    p = PodInfo(pod("p", cpu="250m"))
    assert p.scheduler_name == "default-scheduler"
    assert (p.cpu, p.nz_cpu, p.nz_mem) == (250, 250, 200 * 2**20)


def test_vector_path_matches_list_path() -> None:
    """The numpy fast path must pick from the same feasible nodes with the same totals as the list path."""
    import random

    rnd = random.Random(7)
    nodes = [node(f"n{i:03d}", cpu=str(rnd.choice([1, 2, 4, 8])), memory=f"{rnd.choice([2, 4, 16])}Gi",
                  pods=rnd.choice([3, 110]), unschedulable=(i % 17 == 0), labels={"zone": f"z{i % 3}", "disk": rnd.choice(["ssd", "hdd"])},
                  taints=[{"key": "t", "effect": "NoSchedule"}] if i % 13 == 0 else None) for i in range(250)]
    fast, slow = Harness(nodes, explain=False), Harness(nodes, explain=True)
    for i in range(300):
        p = pod(f"p{i}", cpu=rnd.choice([None, "100m", "500m", "1", "3"]), memory=rnd.choice([None, "100Mi", "1Gi", "3Gi"]),
                tolerations=[{"key": "t", "operator": "Exists"}] if i % 5 == 0 else [],
                nodeSelector={"disk": "ssd"} if i % 4 == 0 else {},
                labels={"app": "web"} if i % 2 else {},
                topologySpreadConstraints=_spread("zone", skew=2) if i % 7 == 0 else _spread("kubernetes.io/hostname", hard=False) if i % 7 == 1 else [],
                affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["z1"]}]}]}}} if i % 3 == 0
                else _pod_aff("podAntiAffinity", "web") if i % 11 == 1
                else _pod_aff("podAffinity", "web", "zone", required=False) if i % 11 == 2
                else _pod_aff("podAffinity", "web", "zone") if i % 11 == 3
                else {})
        df, dsl = fast.schedule(p), slow.schedule(p)
        assert [n.name for n in df.feasible] == [n.name for n in dsl.feasible]
        assert list(df.totals) == list(dsl.totals)
        assert df.ok == dsl.ok
        if df.ok:
            pi = PodInfo(p)
            fast.cache.assume(pi, df.node)
            slow.cache.assume(pi, df.node)
        else:
            assert df.message() == dsl.message()


def test_scheduler_explain_and_priority_resolution() -> None:
    from kybernetes.client.rest import Client
    from kybernetes.scheduler.scheduler import Scheduler

    s = Scheduler(Client("https://127.0.0.1:9"))
    for n in (node("a", cpu="1"), node("b", cpu="4", taints=[CP_TAINT])):
        s._node_added(n)
    s._pc_changed({"metadata": {"name": "high"}, "value": 1000})
    s._pc_changed({"metadata": {"name": "low"}, "value": -5, "globalDefault": True})
    s.priority_classes.store["low"] = {"metadata": {"name": "low"}, "value": -5, "globalDefault": True}
    s._recompute_default_priority()
    assert s.priority_of(pod("p", priorityClassName="high")) == 1000
    assert s.priority_of(pod("p", priorityClassName="system-node-critical")) == 2000001000
    assert s.priority_of(pod("p")) == -5
    assert s.priority_of(pod("p", priority=7)) == 7
    d = s.explain(pod("p", cpu="2"))
    assert not d.ok
    assert {k: v.reasons for k, v in d.failed.items()} == {
        "a": ("Insufficient cpu",), "b": ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",)}
    assert s.explain(pod("q", cpu="500m")).node == "a"
    assert not s.cache.pods  # explaining assumes nothing


def test_no_nodes_message() -> None:
    d = Harness([]).schedule(pod("p"))
    assert not d.ok and d.message() == "no nodes available to schedule pods"


def test_system_default_spreading_for_controlled_pods() -> None:
    from kybernetes.machinery.selectors import selector_from_object

    def setup(default: bool) -> Harness:
        h = Harness([node("big", cpu="64"), node("small", cpu="2")])
        if default:
            h.handle.default_selector = lambda p: selector_from_object({"matchLabels": {"app": "web"}}) if p.labels.get("app") == "web" else None
        for i in range(2):
            h.place(pod(f"w{i}", cpu="100m", labels={"app": "web"}), "big")
        return h

    # LeastAllocated alone prefers the big node; the default hostname spreading (weight 2) outweighs it.
    assert setup(False).schedule(pod("p", cpu="100m", labels={"app": "web"})).node == "big"
    d = setup(True).schedule(pod("p", cpu="100m", labels={"app": "web"}))
    assert d.node == "small"
    assert d.scores["PodTopologySpread"] == [40, 100]  # round(2 x log 4 + 2) = 5 vs 2: 100 x (5+2-5)/5


def test_default_selector_from_services_and_owner() -> None:
    from kybernetes.client.rest import Client
    from kybernetes.scheduler.scheduler import Scheduler

    s = Scheduler(Client("https://127.0.0.1:9"))
    s.services._upsert({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}})
    s.services._upsert({"metadata": {"name": "other", "namespace": "default"}, "spec": {"selector": {"app": "db"}}})
    s.replicasets._upsert({"metadata": {"name": "web-1", "namespace": "default"},
                           "spec": {"selector": {"matchLabels": {"app": "web", "pod-template-hash": "1"}}}})
    p = pod("w", labels={"app": "web", "pod-template-hash": "1"})
    p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "controller": True}]
    sel = s.default_selector(PodInfo(p))
    assert sel is not None and sel.matches({"app": "web", "pod-template-hash": "1"})
    assert not sel.matches({"app": "web", "pod-template-hash": "2"})
    assert s.default_selector(PodInfo(pod("lonely", labels={"app": "cache"}))) is None
