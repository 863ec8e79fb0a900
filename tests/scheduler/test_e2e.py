"""The scheduler inside a real `kyb server`, driven and inspected with the real kubectl.

Nodes are plain Node objects created through the API (no agent), which is all the scheduler needs. Each test
keeps to its own node labels so tests sharing a server do not see each other's nodes in their decisions.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Server, running_server

pytestmark = pytest.mark.e2e

CP_TAINT = "node-role.kubernetes.io/control-plane"


@cache
def server_args() -> list[str]:
    """No node agent and no controllers (the node lifecycle controller would taint these kubelet-less Nodes
    unreachable); skip the optional components this test does not need, where this build has them."""
    out = subprocess.run([sys.executable, "-m", "kybernetes.cli.main", "server", "--help"], capture_output=True,
                         text=True, timeout=60).stdout
    return ["--disable-agent", "--disable-controllers", *(f for f in ("--disable-proxy", "--disable-dns", "--disable-ingress") if f in out)]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("kyb-sched"), "sqlite", extra_args=server_args()) as s:
        yield s


def node_yaml(name: str, cpu: str = "2", labels: dict[str, str] | None = None, taint: str = "") -> str:
    lab = {"kubernetes.io/hostname": name, **(labels or {})}
    spec = f"spec: {{taints: [{{key: {taint}, effect: NoSchedule}}]}}" if taint else "spec: {}"
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Node
        metadata: {{name: {name}, labels: {json.dumps(lab)}}}
        {spec}
        status:
          allocatable: {{cpu: "{cpu}", memory: 8Gi, pods: "110"}}
          capacity: {{cpu: "{cpu}", memory: 8Gi, pods: "110"}}
        ---
        """)


def pod_yaml(name: str, cpu: str = "100m", selector: dict[str, str] | None = None, extra: str = "") -> str:
    sel = f"  nodeSelector: {json.dumps(selector)}\n" if selector else ""
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{sel}{extra}"
        f"  containers: [{{name: c, image: busybox, resources: {{requests: {{cpu: \"{cpu}\"}}}}}}]\n---\n"
    )


def apply(s: Server, text: str, *ns: str) -> None:
    s.kubectl("apply", *(["-n", ns[0]] if ns else []), "-f", "-", input=text)


def get(s: Server, ns: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(s.kubectl("get", "pod", "-n", ns, name, "-o", "json").stdout)
    return out


def describe_when(s: Server, ns: str, name: str, needle: str, version: str = "1.33") -> str:
    def once() -> str:
        out = s.kubectl("describe", "pod", "-n", ns, name, version=version).stdout
        return out if needle in out else ""

    result: str = wait_for(f"{needle!r} in describe", once)
    return result


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_impossible_pod_is_described_like_upstream(tmp_path: Path) -> None:
    with running_server(tmp_path, "sqlite", extra_args=server_args()) as s:
        apply(s, node_yaml("cp-0", cpu="8", taint=CP_TAINT) + node_yaml("cp-1", cpu="8", taint=CP_TAINT)
              + node_yaml("cp-2", cpu="8", taint=CP_TAINT) + node_yaml("w-0", cpu="2") + node_yaml("w-1", cpu="2"))
        apply(s, pod_yaml("big", cpu="3"), "default")
        want = (
            "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }. preemption: 0/5 nodes are available: "
            "5 Preemption is not helpful for scheduling."
        )
        for version in ("1.33", "1.27"):
            out = describe_when(s, "default", "big", "FailedScheduling", version)
            line = next(ln for ln in out.splitlines() if "FailedScheduling" in ln)
            assert line.split()[0] == "Warning" and "default-scheduler" in line
            assert line.rstrip().endswith(want), line
        cond = next(c for c in get(s, "default", "big")["status"]["conditions"] if c["type"] == "PodScheduled")
        assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", want)
        # Retried with backoff when the cluster changes: a big enough node arrives.
        apply(s, node_yaml("w-big", cpu="4"))
        wait_for("big scheduled", lambda: get(s, "default", "big")["spec"].get("nodeName") == "w-big")
        out = describe_when(s, "default", "big", "Successfully assigned")
        assert "Successfully assigned default/big to w-big" in out


def test_binds_through_the_binding_subresource(srv: Server) -> None:
    apply(srv, node_yaml("bind-a", labels={"pool": "bind"}) + node_yaml("bind-b", cpu="4", labels={"pool": "bind"}))
    srv.kubectl("create", "namespace", "bind")
    apply(srv, "".join(pod_yaml(f"p{i}", cpu="500m", selector={"pool": "bind"}) for i in range(6)), "bind")
    def all_bound() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = json.loads(srv.kubectl("get", "pods", "-n", "bind", "-o", "json").stdout)["items"]
        return items if items and all(p["spec"].get("nodeName") for p in items) else None

    pods = wait_for("all bound", all_bound)
    placed = [p["spec"]["nodeName"] for p in pods]
    # LeastAllocated spreads by free capacity: 6 x 500m over 2 + 4 cpus fills them 2:4.
    assert sorted(placed) == ["bind-a"] * 2 + ["bind-b"] * 4
    for p in pods:
        cond = next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
        assert cond["status"] == "True"


def test_affinity_taints_and_spread_end_to_end(srv: Server) -> None:
    apply(srv, node_yaml("aff-a", labels={"pool": "aff", "topology.kubernetes.io/zone": "za"})
          + node_yaml("aff-b", labels={"pool": "aff", "topology.kubernetes.io/zone": "zb"})
          + node_yaml("aff-t", labels={"pool": "aff", "topology.kubernetes.io/zone": "zc"}, taint="dedicated"))
    srv.kubectl("create", "namespace", "aff")
    apply(srv, pod_yaml("db", selector={"pool": "aff"}).replace("metadata: {name: db}", "metadata: {name: db, labels: {app: db}}")
          + pod_yaml("near-db", selector={"pool": "aff"}, extra=textwrap.indent(textwrap.dedent("""\
              affinity:
                podAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                  - {labelSelector: {matchLabels: {app: db}}, topologyKey: topology.kubernetes.io/zone}
              """), "  "))
          + pod_yaml("tolerant", selector={"pool": "aff", "kubernetes.io/hostname": "aff-t"},
                     extra="  tolerations: [{key: dedicated, operator: Exists}]\n"), "aff")
    db = wait_for("db bound", lambda: get(srv, "aff", "db")["spec"].get("nodeName"))
    assert db in ("aff-a", "aff-b")
    assert wait_for("near-db bound", lambda: get(srv, "aff", "near-db")["spec"].get("nodeName")) == db
    assert wait_for("tolerant bound", lambda: get(srv, "aff", "tolerant")["spec"].get("nodeName")) == "aff-t"


def test_preemption_end_to_end(srv: Server) -> None:
    apply(srv, node_yaml("pre-0", cpu="2", labels={"pool": "pre"}))
    srv.kubectl("create", "namespace", "pre")
    apply(srv, "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: kyb-high}\nvalue: 1000\n")
    apply(srv, pod_yaml("low-0", cpu="1", selector={"pool": "pre"}) + pod_yaml("low-1", cpu="1", selector={"pool": "pre"}), "pre")
    for name in ("low-0", "low-1"):
        wait_for(f"{name} bound", lambda name=name: get(srv, "pre", name)["spec"].get("nodeName"))  # type: ignore[misc]
    apply(srv, pod_yaml("vip", cpu="1500m", selector={"pool": "pre"}, extra="  priorityClassName: kyb-high\n"), "pre")
    def nominated() -> dict[str, Any] | None:
        p = get(srv, "pre", "vip")
        return p if p["status"].get("nominatedNodeName") else None

    vip = wait_for("nomination", nominated)
    assert vip["status"]["nominatedNodeName"] == "pre-0"
    # Both low pods must go (1.5 cpu needed on a 2-cpu node holding 2 x 1 cpu); nothing kubelet-side finishes them
    # here, so they stay Terminating until forced.
    victims = wait_for("victims terminating", lambda: all(get(srv, "pre", n)["metadata"].get("deletionTimestamp")
                                                           for n in ("low-0", "low-1")))
    assert victims
    events = srv.kubectl("get", "events", "-n", "pre", "--field-selector", "reason=Preempted", "-o", "json").stdout
    assert any("Preempted by pod" in e["message"] for e in json.loads(events)["items"])
    srv.kubectl("delete", "pod", "-n", "pre", "low-0", "low-1", "--force", "--grace-period=0")
    assert wait_for("vip bound", lambda: get(srv, "pre", "vip")["spec"].get("nodeName")) == "pre-0"


async def test_leader_election_keeps_one_scheduler_active(tmp_path: Path) -> None:
    import asyncio

    from kybernetes.client.rest import Client
    from kybernetes.hollow.__main__ import client_from_kubeconfig  # type: ignore[attr-defined]
    from kybernetes.scheduler.scheduler import Scheduler

    async def until(what: str, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            v = fn()
            if asyncio.iscoroutine(v):
                v = await v
            if v:
                return v
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    async def bound(c: Client, name: str) -> str:
        p = await c.get(f"/api/v1/namespaces/default/pods/{name}")
        return str(p["spec"].get("nodeName") or "")

    with running_server(tmp_path, "sqlite", extra_args=[*server_args(), "--disable-scheduler"]) as s:
        clients = [client_from_kubeconfig(s.kubeconfig) for _ in range(3)]
        fast = {"lease_duration": 4.0, "renew_deadline": 3.0, "retry_period": 0.3}
        a, b = (Scheduler(c, leader_elect=True, leader_election=fast) for c in clients[:2])
        try:
            await a.start()
            await b.start()
            leader = await until("a leader", lambda: a if a.is_active else b if b.is_active else None)
            other = b if leader is a else a
            assert not other.is_active
            s.kubectl("apply", "-f", "-", input=node_yaml("le-0"))
            s.kubectl("apply", "-f", "-", input=pod_yaml("one"))
            assert await until("one bound", lambda: bound(clients[2], "one")) == "le-0"
            await leader.stop()  # releases the Lease at once
            await until("takeover", lambda: other.is_active)
            s.kubectl("apply", "-f", "-", input=pod_yaml("two"))
            assert await until("two bound", lambda: bound(clients[2], "two")) == "le-0"
        finally:
            await a.stop()
            await b.stop()
            for c in clients:
                await c.close()


def test_scheduling_gates(srv: Server) -> None:
    apply(srv, node_yaml("gate-0", labels={"pool": "gate"}))
    srv.kubectl("create", "namespace", "gate")
    apply(srv, pod_yaml("held", selector={"pool": "gate"}, extra="  schedulingGates: [{name: example.com/wait}]\n"), "gate")
    line = wait_for("SchedulingGated status", lambda: next(
        (ln for ln in srv.kubectl("get", "pod", "-n", "gate", "held").stdout.splitlines() if "SchedulingGated" in ln), None))
    assert line.split()[0] == "held"
    assert not get(srv, "gate", "held")["spec"].get("nodeName")
    srv.kubectl("patch", "pod", "-n", "gate", "held", "--type=json", "-p", '[{"op":"remove","path":"/spec/schedulingGates"}]')
    assert wait_for("held bound", lambda: get(srv, "gate", "held")["spec"].get("nodeName")) == "gate-0"


def test_deployment_on_hollow_nodes_spreads_and_runs(tmp_path: Path) -> None:
    """Controllers create the pods, the scheduler spreads the ReplicaSet's pods (system default spreading and
    LeastAllocated), hollow kubelets run them."""
    args = [a for a in server_args() if a != "--disable-controllers"] + ["--hollow-nodes", "3"]
    with running_server(tmp_path, "sqlite", extra_args=args) as s:
        wait_for("3 hollow nodes", lambda: len(json.loads(s.kubectl("get", "nodes", "-o", "json").stdout)["items"]) >= 3)
        s.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=6")

        def running() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = json.loads(s.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
            ok = [p for p in items if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
            return ok if len(ok) == 6 else None

        pods = wait_for("6 Running pods", running, timeout=60)
        per_node: dict[str, int] = {}
        for p in pods:
            per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
        assert sorted(per_node.values()) == [2, 2, 2], per_node
