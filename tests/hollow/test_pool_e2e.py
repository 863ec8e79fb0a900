"""A hollow node pool in this process against a real server: registration, heartbeats, pods as data, stopping a
node's heartbeat, and the standalone `python -m kybernetes.hollow`."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from kybernetes.hollow import HollowNodePool
from tests.controllers.support import (
    Obj,
    Watch,
    client,
    condition,
    hollow_server,
    is_ready,
    kubectl,
    name_of,
    new_namespace,
)
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e

NODES = 200


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with hollow_server(tmp_path_factory.mktemp("kyb-hollow-pool"), 0, extra=["--disable-controllers", "--disable-scheduler"]) as srv:
        yield srv


def pod(name: str, node: str, annotations: str = "{}", owner: str = "") -> str:
    refs = f"[{{apiVersion: batch/v1, kind: Job, name: j, uid: {owner}}}]" if owner else "[]"
    return textwrap.dedent(
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}, annotations: {annotations}, ownerReferences: {refs}}}
        spec: {{nodeName: {node}, restartPolicy: Never, containers: [{{name: c, image: "x:1"}}, {{name: d, image: "y:2"}}]}}
        ---
        """
    )


async def test_pool_registers_heartbeats_and_runs_pods(bare: Server) -> None:
    api = client(bare)
    pool = HollowNodePool(client(bare), NODES, name_prefix="pool-", heartbeat_interval=0.5, job_duration=0.5)
    ns = new_namespace(bare)
    try:
        t0 = time.monotonic()
        await pool.start()
        registered_in = time.monotonic() - t0
        async with Watch(api, "", "v1", "nodes", label_selector="type=hollow") as nodes, Watch(
            api, "coordination.k8s.io", "v1", "leases", "kube-node-lease"
        ) as leases, Watch(api, "", "v1", "pods", ns) as pods:
            assert len(nodes.items) == NODES, registered_in
            for n in nodes.items:
                assert is_ready(n) and n["metadata"]["labels"]["kubernetes.io/hostname"] == name_of(n)
                assert n["status"]["capacity"]["pods"] == "110"
            assert len(leases.items) == NODES
            first = {name_of(lease): lease["spec"]["renewTime"] for lease in leases.items}
            await leases.until(
                lambda ls: sum(1 for lease in ls if lease["spec"]["renewTime"] != first.get(name_of(lease))) == NODES,
                what="every lease renewed",
            )
            assert pool.heartbeats_sent >= 2 * NODES

            # A stopped node renews nothing and runs nothing.
            pool.stop_heartbeat("pool-7")
            frozen = leases.get("pool-7")["spec"]["renewTime"]  # type: ignore[index]
            seen = {name_of(lease): lease["spec"]["renewTime"] for lease in leases.items}
            await leases.until(
                lambda ls: sum(1 for lease in ls if lease["spec"]["renewTime"] != seen[name_of(lease)]) >= NODES - 1,
                what="another round of renewals",
            )
            assert leases.get("pool-7")["spec"]["renewTime"] == frozen  # type: ignore[index]

            await kubectl(bare, "-n", ns, "apply", "-f", "-", input=(
                pod("web", "pool-1")
                + pod("unready", "pool-2", '{"hollow.kybernetes.io/ready": "false"}')
                + pod("task", "pool-3", owner="00000000-0000-0000-0000-000000000001")
                + pod("crash", "pool-4", '{"hollow.kybernetes.io/duration": "0.2", "hollow.kybernetes.io/exit-code": "3"}')
                + pod("stuck", "pool-7")
            ))

            def phases(ps: list[Obj]) -> dict[str, str]:
                return {name_of(p): p["status"].get("phase", "") for p in ps}

            await pods.until(
                lambda ps: phases(ps) == {"web": "Running", "unready": "Running", "task": "Succeeded", "crash": "Failed", "stuck": "Pending"},
                what="pods through their lifecycle",
            )
            web = pods.get("web")
            assert web is not None and is_ready(web)
            node1 = nodes.get("pool-1")
            assert node1 is not None
            assert ipaddress.IPv4Address(web["status"]["podIP"]) in ipaddress.IPv4Network(node1["spec"]["podCIDR"])
            assert web["status"]["hostIP"] == node1["status"]["addresses"][0]["address"]
            assert [c["name"] for c in web["status"]["containerStatuses"]] == ["c", "d"]
            assert all(c["ready"] and "running" in c["state"] for c in web["status"]["containerStatuses"])
            assert not is_ready(pods.get("unready"))  # type: ignore[arg-type]
            crash = pods.get("crash")
            assert crash is not None and crash["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
            assert (condition(pods.get("task"), "Ready") or {}).get("reason") == "PodCompleted"  # type: ignore[arg-type]

            # Graceful deletion completes (the hollow kubelet deletes with grace 0); the stuck pod's node is dead.
            await kubectl(bare, "-n", ns, "delete", "pod", "web", "--wait=false")
            await pods.until(lambda _: pods.get("web") is None, what="web deleted")
            pool.resume_heartbeat("pool-7")
            await pods.until(lambda ps: phases(ps).get("stuck") == "Running", what="the revived node runs its pod")
    finally:
        await pool.stop()
        await api.close()


def test_standalone_module(bare: Server) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kybernetes.hollow", "--kubeconfig", str(bare.kubeconfig), "--count", "3",
         "--name-prefix", "solo-", "--first-index", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "hollow nodes ready: 3" in line, line + (proc.stdout.read() if proc.poll() is not None else "")
        nodes = json.loads(bare.kubectl("get", "nodes", "-l", "type=hollow", "-o", "json").stdout)["items"]
        assert {"solo-500", "solo-501", "solo-502"} <= {name_of(n) for n in nodes}
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
