"""Scheduler benchmark: upstream's SchedulingBasic/5000Nodes_10000Pods shape, against baselines from the same run.

Phases (all in one invocation, so ratios compare like with like):

1. algorithm: the scheduling cycle alone, in memory (cache + default plugins + assume), no API server: the
   ceiling of the Python decision logic.
2. raw binding: POST pods/{name}/binding for pods of a side namespace, round-robin over the nodes, with the same
   client and concurrency as the scheduler but no scheduling at all: the ceiling the API server allows.
3. scheduler: a real `Scheduler` (informers, queue, plugins, async binding, events) against a real `kyb server`
   (its own process, pinned to the other CPU) holding 5000 nodes and 1000 placed pods, scheduling 10000 pending
   pods. Throughput counts from the first to the last successful binding.
4. latency (optional, needs hollow nodes): `kyb server --hollow-nodes N` with its in-process scheduler; pods are
   created at a steady rate and create -> Running (seen through a watch) is measured.

Run: `python -m bench.bench_scheduler` (add `--profile` for a cProfile of phase 3). Results go to
bench/RESULTS.md, section "scheduler". Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.results import machine_line, update_section
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.hollow.__main__ import client_from_kubeconfig  # type: ignore[attr-defined]
from kybernetes.scheduler.algorithm import Algorithm
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import CycleState, Handle
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.scheduler import Scheduler, build_framework

Obj = dict[str, Any]
NS = "bench"
RAW_NS = "bench-raw"
ZONES = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *cmd]
    return cmd


def pin_self(cpu: int) -> None:
    if (os.cpu_count() or 1) > 1 and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})


def optional_disables() -> list[str]:
    """Components this benchmark does not need (proxy, DNS, ingress), where this `kyb server` has them."""
    out = subprocess.run([sys.executable, "-m", "kybernetes.cli.main", "server", "--help"], capture_output=True, text=True).stdout
    return [f for f in ("--disable-proxy", "--disable-dns", "--disable-ingress") if f in out]


class KybServer:
    def __init__(self, data_dir: Path, extra: list[str], cpu: int = 1) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "kybernetes.cli.main", "server", "--data-dir", str(data_dir), "--port", str(self.port),
               "--bind-address", "127.0.0.1", "--disable-agent", "--compaction-interval", "0", *optional_disables(), *extra]
        self.kubeconfig = data_dir / "kubeconfig.yaml"
        self.proc = subprocess.Popen(pinned(cpu, cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        ready = threading.Event()

        def drain() -> None:
            assert self.proc.stdout is not None
            for ln in self.proc.stdout:
                self.lines.append(ln)
                if "kybernetes is ready" in ln:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(90) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("kyb server did not start:\n" + "".join(self.lines[-40:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


# --------------------------------------------------------------------------- objects
def node_obj(i: int) -> Obj:
    name = f"node-{i:05d}"
    alloc = {"cpu": "4", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": f"zone-{i % ZONES}"}},
        "spec": {},
        "status": {"allocatable": alloc, "capacity": alloc,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "bench"}]},
    }


def pod_obj(name: str, namespace: str, node: str = "") -> Obj:
    spec: Obj = {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                 "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}, "limits": {"cpu": "100m", "memory": "500Mi"}}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench"}}, "spec": spec}


async def run_bounded(n: int, concurrency: int, fn: Any) -> None:
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            await fn(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def create_all(client: Client, path: str, objs: list[Obj], concurrency: int = 32) -> float:
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        for _ in range(5):
            try:
                await client.create(path if "{ns}" not in path else path.format(ns=objs[i]["metadata"]["namespace"]), objs[i])
                return
            except ApiError as e:
                if e.status == 409:
                    return
                await asyncio.sleep(0.2)

    await run_bounded(len(objs), concurrency, one)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- phase 1
def phase_algorithm(nodes: int, placed: int, pods: int) -> dict[str, float]:
    cache = Cache()
    handle = Handle(cache)
    fw = build_framework(handle)
    algo = Algorithm(fw)
    for i in range(nodes):
        cache.set_node(node_obj(i))
    for i in range(placed):
        p = pod_obj(f"placed-{i}", NS, f"node-{i % nodes:05d}")
        p["metadata"]["uid"] = f"u-p{i}"
        cache.add_or_update_pod(PodInfo(p))
    infos = []
    for i in range(pods):
        p = pod_obj(f"pod-{i}", NS)
        p["metadata"]["uid"] = f"u-{i}"
        infos.append(PodInfo(p))
    t0 = time.perf_counter()
    for pi in infos:
        d = algo.schedule(CycleState(), pi)
        cache.assume(pi, d.node)
    dt = time.perf_counter() - t0
    t1 = time.perf_counter()
    for i in range(pods):
        p = pod_obj(f"x-{i}", NS)
        p["metadata"]["uid"] = f"x-{i}"
        PodInfo(p)
    parse = time.perf_counter() - t1
    return {"pods_per_s": pods / dt, "ms_per_pod": dt / pods * 1000, "podinfo_us": parse / pods * 1e6}


FEATURES: dict[str, Obj] = {
    "hard zone spread (DoNotSchedule, maxSkew 1)": {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": "bench"}}}]},
    "soft hostname spread (ScheduleAnyway)": {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {"app": "bench"}}}]},
    "required anti-affinity per hostname": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "bench"}}, "topologyKey": "kubernetes.io/hostname"}]}}},
    "preferred affinity per zone": {"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "bench"}}, "topologyKey": "topology.kubernetes.io/zone"}}]}}},
    "nodeSelector": {"nodeSelector": {"topology.kubernetes.io/zone": "zone-3"}},
}


def phase_features(nodes: int, placed: int, per_feature: int = 300) -> dict[str, float]:
    """ms per decision (in memory) for pods using one scheduling feature each, each on a fresh cluster of the
    same shape (so one feature's placed pods do not tax the next)."""
    out: dict[str, float] = {}
    for name, spec in FEATURES.items():
        cache = Cache()
        algo = Algorithm(build_framework(Handle(cache)))
        for i in range(nodes):
            cache.set_node(node_obj(i))
        for i in range(placed):
            p = pod_obj(f"placed-{i}", NS, f"node-{i % nodes:05d}")
            p["metadata"]["uid"] = f"u-p{i}"
            cache.add_or_update_pod(PodInfo(p))
        infos = []
        for i in range(per_feature):
            p = pod_obj(f"f-{len(out)}-{i}", NS)
            p["metadata"]["uid"] = f"f-{len(out)}-{i}"
            p["spec"].update(spec)
            infos.append(PodInfo(p))
        t0 = time.perf_counter()
        for pi in infos:
            d = algo.schedule(CycleState(), pi)
            if d.node:
                cache.assume(pi, d.node)
        out[name] = (time.perf_counter() - t0) / per_feature * 1000
    return out


# --------------------------------------------------------------------------- phases 2 and 3
async def setup_cluster(client: Client, nodes: int, placed: int, pods: int, raw: int) -> dict[str, float]:
    for ns in (NS, RAW_NS):
        with contextlib.suppress(ApiError):
            await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    t_nodes = await create_all(client, "/api/v1/nodes", [node_obj(i) for i in range(nodes)])
    placed_objs = [pod_obj(f"placed-{i}", NS, f"node-{i % nodes:05d}") for i in range(placed)]
    await create_all(client, f"/api/v1/namespaces/{NS}/pods", placed_objs)
    t_pods = await create_all(client, f"/api/v1/namespaces/{NS}/pods", [pod_obj(f"pod-{i:05d}", NS) for i in range(pods)])
    await create_all(client, f"/api/v1/namespaces/{RAW_NS}/pods", [pod_obj(f"raw-{i:05d}", RAW_NS) for i in range(raw)])
    return {"nodes_per_s": nodes / t_nodes, "pod_creates_per_s": pods / t_pods}


async def phase_raw_binding(client: Client, raw: int, nodes: int, concurrency: int) -> float:
    async def bind(i: int) -> None:
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": f"raw-{i:05d}", "namespace": RAW_NS},
                "target": {"apiVersion": "v1", "kind": "Node", "name": f"node-{i % nodes:05d}"}}
        await client.create(resource_path("", "v1", "pods", RAW_NS, f"raw-{i:05d}", "binding"), body)

    t0 = time.perf_counter()
    await run_bounded(raw, concurrency, bind)
    return raw / (time.perf_counter() - t0)


async def phase_scheduler(client: Client, pods: int, profile: bool, tune_gc: bool) -> dict[str, Any]:
    sched = Scheduler(client, tune_gc=tune_gc)
    t_start = time.perf_counter()
    await sched.start()
    await sched.wait_synced(300)
    t_synced = time.perf_counter()
    prof = cProfile.Profile() if profile else None
    if prof is not None:
        prof.enable()
    gc_time = [0.0, 0.0, 0]  # seconds in collections, start of the current one, full collections

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]
            gc_time[2] += info.get("generation") == 2

    gc.callbacks.append(on_gc)
    first: float | None = None
    samples: list[int] = []
    last_count, last_t = 0, time.perf_counter()
    while sched.metrics.scheduled < pods:
        await asyncio.sleep(0.05)
        now = time.perf_counter()
        if first is None and sched.metrics.scheduled > 0:
            first = now
        if now - last_t >= 1.0:
            samples.append(sched.metrics.scheduled - last_count)
            last_count, last_t = sched.metrics.scheduled, now
        if now - t_synced > 600:
            break
    t_done = time.perf_counter()
    gc.callbacks.remove(on_gc)
    if prof is not None:
        prof.disable()
    m = sched.metrics
    t_ev = time.perf_counter()
    await sched.recorder.flush(120)
    events_s = time.perf_counter() - t_ev
    await sched.stop()
    elapsed = t_done - (first or t_synced)
    out: dict[str, Any] = {
        "scheduled": m.scheduled, "elapsed": elapsed, "pods_per_s": m.scheduled / max(elapsed, 1e-9),
        "sync_s": t_synced - t_start, "algorithm_ms": m.algorithm_seconds / max(m.attempts, 1) * 1000,
        "algorithm_share": m.algorithm_seconds / max(elapsed, 1e-9), "attempts": m.attempts,
        "unschedulable": m.unschedulable, "errors": m.errors, "events_dropped": sched.recorder.dropped,
        "per_second_p50": statistics.median(samples) if samples else 0.0,
        "events_s": events_s,
        "gc_share": gc_time[0] / max(t_done - t_synced, 1e-9), "gc_full": gc_time[2],
    }
    if prof is not None:
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats("tottime").print_stats(25)
        out["profile"] = buf.getvalue()
        out["breakdown"] = breakdown(stats)
    return out


CATEGORIES = [
    ("scheduling decision (kybernetes/scheduler, numpy)", ("kybernetes/scheduler/", "numpy")),
    ("HTTP client (aiohttp, ssl, kybernetes/client/rest.py)", ("aiohttp", "ssl", "client/rest.py", "yarl", "multidict")),
    ("informers (watch decode, handlers)", ("client/informer.py", "orjson")),
    ("asyncio and event loop", ("asyncio", "uvloop")),
]


def breakdown(stats: pstats.Stats) -> dict[str, float]:
    """Share of profiled CPU time (tottime) by where the code lives."""
    totals: dict[str, float] = {name: 0.0 for name, _ in CATEGORIES}
    totals["other"] = 0.0
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        where = f"{filename}:{func}"
        for name, needles in CATEGORIES:
            if any(n in where for n in needles):
                totals[name] += tottime
                break
        else:
            totals["other"] += tottime
    grand = sum(totals.values()) or 1.0
    return {k: v / grand for k, v in totals.items()}


# --------------------------------------------------------------------------- phase 4
async def phase_latency(tmp: Path, hollow: int, count: int, rate: float) -> dict[str, float]:
    env_dir = tmp / "latency"
    srv = KybServer(env_dir, ["--hollow-nodes", str(hollow), "--disable-controllers"])
    client = client_from_kubeconfig(srv.kubeconfig, user_agent="bench-scheduler")
    try:
        await client.wait_ready()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            n = await client.get("/api/v1/nodes")
            if len(n.get("items") or []) >= hollow:
                break
            await asyncio.sleep(0.5)
        with contextlib.suppress(ApiError):
            await client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lat"}})
        created: dict[str, float] = {}
        running: dict[str, float] = {}
        lst = await client.get("/api/v1/namespaces/lat/pods")
        rv = lst["metadata"]["resourceVersion"]
        done = asyncio.Event()

        async def watch() -> None:
            async for ev in client.watch("/api/v1/namespaces/lat/pods", rv, timeout_seconds=600):
                obj = ev.get("object") or {}
                name = str((obj.get("metadata") or {}).get("name") or "")
                if (obj.get("status") or {}).get("phase") == "Running" and name not in running:
                    running[name] = time.perf_counter()
                    if len(running) >= count:
                        done.set()
                        return

        wt = asyncio.create_task(watch())
        await asyncio.sleep(0.2)
        interval = 1.0 / rate
        t0 = time.perf_counter()
        tasks = []
        for i in range(count):
            name = f"lat-{i:05d}"
            target = t0 + i * interval
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            created[name] = time.perf_counter()
            tasks.append(asyncio.create_task(client.create("/api/v1/namespaces/lat/pods", pod_obj(name, "lat"))))
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 120)
        wt.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await wt
        lat = sorted(running[k] - created[k] for k in running if k in created)
        if not lat:
            return {"p50": float("nan"), "p99": float("nan"), "running": 0}
        return {"p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))], "running": len(lat)}
    finally:
        await client.close()
        srv.stop()


# --------------------------------------------------------------------------- main
async def one_round(args: argparse.Namespace, tmp: Path, i: int, tune_gc: bool = False) -> dict[str, Any]:
    """Phases 2 and 3 against a fresh server (the pending pods are consumed by the scheduler)."""
    res: dict[str, Any] = {}
    srv = KybServer(tmp / f"main-{i}", ["--disable-scheduler", "--disable-controllers"])
    client = client_from_kubeconfig(srv.kubeconfig, user_agent="bench-scheduler")
    try:
        await client.wait_ready()
        print(f"[round {i + 1}/{args.repeat}] creating {args.nodes} nodes and {args.placed + args.pods + args.raw} pods", flush=True)
        res["setup"] = await setup_cluster(client, args.nodes, args.placed, args.pods, args.raw)
        await asyncio.sleep(2)  # let the server settle after the creates
        res["raw_bind"] = await phase_raw_binding(client, args.raw, args.nodes, args.concurrency)
        print(f"      raw binding: {res['raw_bind']:.0f} bindings/s", flush=True)
        res["sched"] = await phase_scheduler(client, args.pods, args.profile and i == 0, tune_gc)
        s = res["sched"]
        print(f"      scheduler: {s['pods_per_s']:.0f} pods/s ({s['scheduled']} pods in {s['elapsed']:.1f} s); "
              f"ratio to raw binding {s['pods_per_s'] / res['raw_bind']:.2f}", flush=True)
    finally:
        await client.close()
        srv.stop()
    return res


async def main_async(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    res: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    print(f"[algorithm only] {args.nodes} nodes, {args.placed} placed, {args.pods} pods", flush=True)
    res["algo"] = [phase_algorithm(args.nodes, args.placed, args.pods) for _ in range(args.repeat)]
    print(f"      {[round(a['pods_per_s']) for a in res['algo']]} pods/s", flush=True)
    res["features"] = phase_features(args.nodes, args.placed)
    print(f"      per feature (ms/pod): {res['features']}", flush=True)
    res["rounds"] = [await one_round(args, tmp, i, args.tune_gc) for i in range(args.repeat)]
    if args.gc_round and not args.tune_gc:
        print("[extra round] the same with Scheduler(tune_gc=True)", flush=True)
        res["gc_round"] = await one_round(args, tmp, args.repeat, tune_gc=True)
    if args.hollow:
        print(f"[latency] create -> Running with {args.hollow} hollow nodes", flush=True)
        res["latency"] = await phase_latency(tmp, args.hollow, args.latency_pods, args.latency_rate)
        print(f"      {res['latency']}", flush=True)
    res["load_after"] = os.getloadavg()[0]
    return res


def med(xs: list[float]) -> float:
    return float(statistics.median(xs))


def report(args: argparse.Namespace, r: dict[str, Any]) -> str:
    rounds = r["rounds"]
    sched = [x["sched"] for x in rounds]
    e2e = med([s["pods_per_s"] for s in sched])
    raw = med([x["raw_bind"] for x in rounds])
    algo = med([a["pods_per_s"] for a in r["algo"]])
    algo_ms = med([a["ms_per_pod"] for a in r["algo"]])
    ratio_raw = med([x["sched"]["pods_per_s"] / x["raw_bind"] for x in rounds])
    s = sorted(sched, key=lambda x: x["pods_per_s"])[len(sched) // 2]  # the median round, for its breakdown
    runs = ", ".join(f"{x['pods_per_s']:.0f}" for x in sched)
    lines = [
        "## Scheduler (`python -m bench.bench_scheduler`)",
        "",
        machine_line() + f"; load average {r['load_before']:.1f} before / {r['load_after']:.1f} after (a shared, "
        f"noisy box). API server (`kyb server`, own process) pinned to CPU 1, scheduler to CPU 0. Upstream's "
        f"SchedulingBasic shape: {args.nodes} nodes in {ZONES} zones, {args.placed} pods already placed, {args.pods} "
        f"pending pods (100m / 500Mi each, created before the scheduler starts), default plugins. Medians of "
        f"{args.repeat} rounds, each on a fresh server; ratios are taken within a round.",
        "",
        "| measurement | result | ratio |",
        "|---|---|---|",
        f"| **scheduler end to end** (informers, queue, plugins, async binding) | **{e2e:.0f} pods/s** (rounds: {runs}) | "
        f"{e2e / 680:.2f}x upstream's CI floor for this test (680 pods/s, Go, 64 cores) |",
        f"| raw binding POSTs, no scheduling logic, same client (concurrency {args.concurrency}) | {raw:.0f} bindings/s | "
        f"scheduler / raw binding = **{ratio_raw:.2f}** |",
        f"| scheduling cycle alone (in memory: cache, plugins, assume; no API) | {algo:.0f} pods/s ({algo_ms:.2f} ms/pod) | "
        f"{algo / e2e:.1f}x the end-to-end rate |",
        f"| scheduler process: time in the decision itself (median round) | {s['algorithm_share'] * 100:.0f} % "
        f"({s['algorithm_ms']:.2f} ms per attempt) | |",
        f"| scheduler process: time in garbage collection | {s['gc_share'] * 100:.0f} % ({s['gc_full']} full collections)"
        f"{' with tune_gc' if args.tune_gc else ''} | |",
        *([f"| the same with `Scheduler(tune_gc=True)` (gc.freeze() after sync, gen0 threshold 50000), one extra round | "
           f"{r['gc_round']['sched']['pods_per_s']:.0f} pods/s, GC {r['gc_round']['sched']['gc_share'] * 100:.0f} % | "
           f"{r['gc_round']['sched']['pods_per_s'] / r['gc_round']['raw_bind']:.2f} of that round's raw binding |"]
          if "gc_round" in r else []),
        f"| informer sync of {args.nodes} nodes + {args.pods + args.placed + args.raw} pods | {s['sync_s']:.1f} s | |",
        f"| Scheduled events, written after the burst (they yield to placement) | all {s['scheduled']} within "
        f"{s['events_s']:.1f} s of the last binding | |",
    ]
    if "latency" in r:
        lt = r["latency"]
        lines.append(f"| pod create -> Running, {args.hollow} hollow nodes, in-server scheduler, {args.latency_rate:.0f} "
                     f"pods/s open loop ({lt['running']} pods) | p50 {lt['p50'] * 1000:.0f} ms, p99 {lt['p99'] * 1000:.0f} ms "
                     f"| upstream SLO: p99 <= 5 s |")
    if "features" in r:
        feats = "; ".join(f"{k} {v:.2f} ms" for k, v in r["features"].items())
        lines += ["", f"Decision cost per pod for other features (in memory, same cluster, 300 pods each, the "
                  f"cluster filling up as they land; a fresh cluster per feature): basic {algo_ms:.2f} ms; {feats}."]
    prof_round = rounds[0]["sched"]
    if "breakdown" in prof_round:
        parts = ", ".join(f"{k} {v * 100:.0f} %" for k, v in sorted(prof_round["breakdown"].items(), key=lambda kv: -kv[1]))
        lines += ["", f"Where the scheduler process's CPU goes (cProfile of round 1, which it slows down): {parts}."]
    lines += ["", f"Median round: attempts {s['attempts']}, unschedulable {s['unschedulable']}, errors {s['errors']}, "
              f"events dropped {s['events_dropped']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--placed", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--raw", type=int, default=3000, help="pods bound by the raw-binding baseline")
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--hollow", type=int, default=100, help="hollow nodes for the latency phase (0: skip)")
    ap.add_argument("--latency-pods", type=int, default=1000)
    ap.add_argument("--latency-rate", type=float, default=50.0)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the raw-binding and scheduler phases")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-gc-round", dest="gc_round", action="store_false",
                    help="skip the extra round with Scheduler(tune_gc=True)")
    ap.add_argument("--tune-gc", action="store_true", help="Scheduler(tune_gc=True): gc.freeze() and gc.set_threshold(50000, 50, 100) after the sync")
    ap.add_argument("--no-write", action="store_true", help="print, do not update bench/RESULTS.md")
    args = ap.parse_args()
    pin_self(0)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    with tempfile.TemporaryDirectory(prefix="kyb-bench-sched-") as tmp:
        r = runner(main_async(args, Path(tmp)))
    text = report(args, r)
    print(text)
    if "profile" in r["rounds"][0]["sched"]:
        print(r["rounds"][0]["sched"]["profile"])
    if not args.no_write:
        update_section("scheduler", text)


if __name__ == "__main__":
    main()
