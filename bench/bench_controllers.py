"""Controller and hollow-node benchmark: what the control loops cost on a real `kyb server`.

Phases (one invocation, same machine):

1. hollow pool: N hollow nodes in this process against a `kyb server` (controllers and scheduler off): time to
   register them all, then the steady heartbeat load (lease renewals per second, CPU of this process and of the
   server) at the kubelet's 10 s interval.
2. workloads: `kyb server --hollow-nodes M` with its controllers and scheduler; a Deployment of R replicas from
   zero to all available, a rolling update of all of them, then `kubectl`-style foreground deletion until every
   pod is gone. Times are wall clock seen through watches.

Run: `python -m bench.bench_controllers [--nodes 2000] [--workload-nodes 100] [--replicas 1000]`. Results go to
bench/RESULTS.md, section "controllers". Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.results import machine_line, update_section
from kybernetes.client.informer import Handlers, Informer
from kybernetes.client.rest import Client, resource_path
from kybernetes.hollow import HollowNodePool
from kybernetes.hollow.kubeconfig import client_from_kubeconfig

Obj = dict[str, Any]
QUIET = ["--disable-agent", "--disable-dns", "--disable-proxy", "--disable-ingress"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[Path, int]]:
    data = Path(tempfile.mkdtemp(prefix="kyb-bench-ctrl-"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kybernetes.cli.main", "server", "--data-dir", str(data), "--port", str(port),
         "--bind-address", "127.0.0.1", *QUIET, *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "kybernetes is ready" in line:
                break
        else:
            raise RuntimeError("server did not start")
        yield data / "kubeconfig.yaml", proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def until(inf: Informer, pred: Callable[[list[Obj]], bool], timeout: float) -> float:
    """Seconds until pred holds over the informer's cache (checked on every event)."""
    changed = asyncio.Event()
    inf.add_handlers(Handlers(on_add=lambda _o: changed.set(), on_update=lambda _o, _n: changed.set(), on_delete=lambda _o: changed.set()))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while not pred(inf.list()):
        changed.clear()
        left = t0 + timeout - loop.time()
        if left <= 0:
            raise TimeoutError
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), left)
    return loop.time() - t0


async def bench_pool(nodes: int, window: float) -> dict[str, float]:
    with server("--disable-controllers", "--disable-scheduler") as (kubeconfig, pid):
        pool = HollowNodePool(client_from_kubeconfig(kubeconfig), nodes, heartbeat_interval=10.0)
        t0 = time.monotonic()
        await pool.start()
        registered = time.monotonic() - t0
        await asyncio.sleep(12)  # let the first round of jittered heartbeats spread out
        me0, srv0, beats0 = time.process_time(), cpu_seconds(pid), pool.heartbeats_sent
        await asyncio.sleep(window)
        me1, srv1, beats1 = time.process_time(), cpu_seconds(pid), pool.heartbeats_sent
        await pool.stop()
    return {
        "register_s": registered,
        "renewals_per_s": (beats1 - beats0) / window,
        "pool_cpu_pct": 100 * (me1 - me0) / window,
        "server_cpu_pct": 100 * (srv1 - srv0) / window,
    }


def deployment(replicas: int, image: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "bench"}},
            "template": {"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [{"name": "c", "image": image}]}},
        },
    }


async def bench_workloads(nodes: int, replicas: int) -> dict[str, float]:
    with server("--hollow-nodes", str(nodes)) as (kubeconfig, _pid):
        api: Client = client_from_kubeconfig(kubeconfig)
        pods = Informer(api, "", "v1", "pods", namespace="default")
        await pods.start()
        await pods.wait_synced()
        deps = resource_path("apps", "v1", "deployments", namespace="default")

        def ready(image: str) -> Callable[[list[Obj]], bool]:
            def pred(ps: list[Obj]) -> bool:
                ok = 0
                for p in ps:
                    if p["metadata"].get("deletionTimestamp") or p["spec"]["containers"][0]["image"] != image:
                        return False
                    if any(c.get("type") == "Ready" and c.get("status") == "True" for c in p.get("status", {}).get("conditions", [])):
                        ok += 1
                return ok == replicas

            return pred

        await api.create(deps, deployment(replicas, "bench:1"))
        create_s = await until(pods, ready("bench:1"), 600)
        await api.patch(f"{deps}/bench", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "bench:2"}]}}}})
        rollout_s = await until(pods, ready("bench:2"), 600)
        await api.delete(f"{deps}/bench", {"propagationPolicy": "Foreground"})
        delete_s = await until(pods, lambda ps: not ps, 600)
        await pods.stop()
        await api.close()
    return {"create_s": create_s, "rollout_s": rollout_s, "delete_s": delete_s}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=2000)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--workload-nodes", type=int, default=100)
    ap.add_argument("--replicas", type=int, default=1000)
    a = ap.parse_args()
    load0 = os.getloadavg()[0]
    pool = await bench_pool(a.nodes, a.window)
    print("pool", pool, flush=True)
    work = await bench_workloads(a.workload_nodes, a.replicas)
    print("workloads", work, flush=True)
    load1 = os.getloadavg()[0]
    body = f"""## Controllers and hollow nodes (`python -m bench.bench_controllers`)

{machine_line()}; `kyb server` on sqlite in its own process, sharing the CPUs with this one; 1-minute load
average {load0:.1f} at the start and {load1:.1f} at the end (other work on the machine slows every number here).

| hollow pool of {a.nodes} nodes in one process | value |
|---|---:|
| register every Node and Lease (32 requests in flight) | {pool['register_s']:.1f} s |
| lease renewals per second at the 10 s kubelet interval | {pool['renewals_per_s']:.0f} |
| CPU of the pool process, steady heartbeats | {pool['pool_cpu_pct']:.0f} % of one core |
| CPU of the API server serving them | {pool['server_cpu_pct']:.0f} % of one core |

| Deployment of {a.replicas} replicas on {a.workload_nodes} hollow nodes (controllers + scheduler in `kyb server`) | seconds |
|---|---:|
| create, until every pod is Running and Ready | {work['create_s']:.1f} |
| rolling update of every pod (25 % surge / 25 % unavailable) until all new pods are Ready | {work['rollout_s']:.1f} |
| foreground deletion until every pod is gone | {work['delete_s']:.1f} |

A heartbeat is one PUT of a Lease; the pool keeps all nodes on one task with a heap of due times, so its cost is
the requests, not the node count. The workload numbers include the scheduler and every hollow pod's status
writes (bound -> Running -> Ready), i.e. about four writes per pod created.
"""
    update_section("controllers", body)


if __name__ == "__main__":
    asyncio.run(main())
