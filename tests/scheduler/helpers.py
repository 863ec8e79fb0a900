"""Plain-dict builders and a cache-only harness: plugins and decisions without an API server."""

from __future__ import annotations

import itertools
from typing import Any

from kybernetes.scheduler.algorithm import Algorithm, Decision
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.framework import CycleState, Framework, Handle
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.scheduler import build_framework

Obj = dict[str, Any]
_uid = itertools.count()


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: int = 110, labels: dict[str, str] | None = None,
         taints: list[Obj] | None = None, unschedulable: bool = False, extra: dict[str, str] | None = None,
         images: list[Obj] | None = None) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "100Gi", **(extra or {})}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    status: Obj = {"allocatable": alloc, "capacity": alloc}
    if images:
        status["images"] = images
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": status,
    }


def pod(name: str, cpu: str | None = None, memory: str | None = None, *, namespace: str = "default",
        labels: dict[str, str] | None = None, node_name: str = "", priority: int | None = None, **spec: Any) -> Obj:
    req: Obj = {}
    if cpu:
        req["cpu"] = cpu
    if memory:
        req["memory"] = memory
    container: Obj = {"name": "c", "image": "busybox", "resources": {"requests": req} if req else {}}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    s: Obj = {"containers": [container], **spec}
    if node_name:
        s["nodeName"] = node_name
    if priority is not None:
        s["priority"] = priority
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{next(_uid)}", "labels": labels or {},
                     "creationTimestamp": f"2026-01-01T00:00:{next(_uid) % 60:02d}Z"},
        "spec": s,
        "status": {"phase": "Pending"},
    }


class Harness:
    """A cache and a default framework; `place` adds running pods, `schedule` makes one decision."""

    def __init__(self, nodes: list[Obj], plugins: list[str] | None = None, percentage: int = 0, explain: bool = True) -> None:
        self.explain = explain
        self.cache = Cache()
        self.handle = Handle(self.cache)
        self.pdbs: list[Obj] = []
        self.handle.pdb_lister = lambda: list(self.pdbs)
        self.fw: Framework = build_framework(self.handle, plugins=plugins, percentage_of_nodes_to_score=percentage)
        self.algo = Algorithm(self.fw)
        for n in nodes:
            self.cache.set_node(n)

    def place(self, p: Obj, node_name: str | None = None) -> PodInfo:
        if node_name:
            p["spec"]["nodeName"] = node_name
        pi = PodInfo(p, int(p["spec"].get("priority") or 0))
        self.cache.add_or_update_pod(pi)
        return pi

    def decide(self, p: Obj) -> tuple[Decision, CycleState, PodInfo]:
        pi = PodInfo(p, int(p["spec"].get("priority") or 0))
        state = CycleState()
        return self.algo.schedule(state, pi, explain=self.explain), state, pi

    def schedule(self, p: Obj) -> Decision:
        return self.decide(p)[0]

    def schedule_and_assume(self, p: Obj) -> str:
        d, _, pi = self.decide(p)
        if d.node:
            self.cache.assume(pi, d.node)
        return d.node
