"""NodeInfo: one node plus the running totals of the pods placed on it.

Upstream keeps the same aggregate (framework.NodeInfo): requested and "non-zero requested" resources, used host
ports, pods with (anti-)affinity. Totals change incrementally when a pod is added or removed, so a filter never
sums a node's pods. `clone()` exists for preemption's what-if simulation only.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from kybernetes.scheduler import resources as res
from kybernetes.scheduler.podinfo import PodInfo, Taint

if TYPE_CHECKING:
    from kybernetes.scheduler.table import NodeTable

Obj = dict[str, Any]
_HARD = ("NoSchedule", "NoExecute")


class NodeInfo:
    __slots__ = (
        "affinity_pods",
        "alloc_cpu",
        "alloc_eph",
        "alloc_mem",
        "alloc_pods",
        "alloc_scalar",
        "anti_affinity_pods",
        "generation",
        "hard_taints",
        "images",
        "labels",
        "name",
        "node",
        "nz_cpu",
        "nz_mem",
        "pods",
        "ports",
        "prefer_taints",
        "req_cpu",
        "req_eph",
        "req_mem",
        "req_scalar",
        "row",
        "table",
        "unschedulable",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.node: Obj | None = None
        self.labels: dict[str, str] = {}
        self.unschedulable = False
        self.hard_taints: tuple[Taint, ...] = ()
        self.prefer_taints: tuple[Taint, ...] = ()
        self.alloc_cpu = self.alloc_mem = self.alloc_eph = self.alloc_pods = 0
        self.alloc_scalar: dict[str, int] = {}
        self.req_cpu = self.req_mem = self.req_eph = 0
        self.req_scalar: dict[str, int] = {}
        self.nz_cpu = self.nz_mem = 0
        self.pods: dict[str, PodInfo] = {}
        self.ports: Counter[tuple[str, str, int]] = Counter()
        self.affinity_pods: set[str] = set()
        self.anti_affinity_pods: set[str] = set()
        self.images: dict[str, int] = {}
        self.generation = 0
        self.table: NodeTable | None = None
        self.row = -1

    # ------------------------------------------------------------------ node
    def set_node(self, node: Obj) -> None:
        self.node = node
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        labels = meta.get("labels") or {}
        if self.table is not None and labels != self.labels:
            self.table.masks.clear()
        self.labels = labels
        self.unschedulable = bool(spec.get("unschedulable"))
        taints = [
            Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
            for t in spec.get("taints") or ()
        ]
        self.hard_taints = tuple(t for t in taints if t.effect in _HARD)
        self.prefer_taints = tuple(t for t in taints if t.effect == "PreferNoSchedule")
        alloc = res.parse_resource_list(status.get("allocatable") or status.get("capacity"))
        self.alloc_cpu = alloc.pop(res.CPU, 0)
        self.alloc_mem = alloc.pop(res.MEMORY, 0)
        self.alloc_eph = alloc.pop(res.EPHEMERAL, 0)
        self.alloc_pods = alloc.pop(res.PODS, 0)
        self.alloc_scalar = alloc
        images: dict[str, int] = {}
        for img in status.get("images") or ():
            size = int(img.get("sizeBytes") or 0)
            for n in img.get("names") or ():
                images[str(n)] = size
        self.images = images
        self.generation += 1
        if self.table is not None:
            self.table.write_node(self)

    # ------------------------------------------------------------------ pods
    def add_pod(self, p: PodInfo) -> None:
        self.pods[p.key] = p
        self.req_cpu += p.cpu
        self.req_mem += p.mem
        self.req_eph += p.eph
        if p.scalar:
            rs = self.req_scalar
            for k, v in p.scalar.items():
                rs[k] = rs.get(k, 0) + v
        self.nz_cpu += p.nz_cpu
        self.nz_mem += p.nz_mem
        if p.host_ports:
            self.ports.update(p.host_ports)
        if p.has_affinity:
            self.affinity_pods.add(p.key)
            if p.anti_affinity:
                self.anti_affinity_pods.add(p.key)
        self.generation += 1
        if self.table is not None:
            self.table.write_pods(self)

    def remove_pod(self, key: str) -> PodInfo | None:
        p = self.pods.pop(key, None)
        if p is None:
            return None
        self.req_cpu -= p.cpu
        self.req_mem -= p.mem
        self.req_eph -= p.eph
        if p.scalar:
            rs = self.req_scalar
            for k, v in p.scalar.items():
                rs[k] = rs.get(k, 0) - v
        self.nz_cpu -= p.nz_cpu
        self.nz_mem -= p.nz_mem
        if p.host_ports:
            self.ports.subtract(p.host_ports)
            self.ports = +self.ports
        self.affinity_pods.discard(key)
        self.anti_affinity_pods.discard(key)
        self.generation += 1
        if self.table is not None:
            self.table.write_pods(self)
        return p

    def port_conflict(self, wanted: tuple[tuple[str, str, int], ...]) -> bool:
        """Upstream HostPortInfo.CheckConflict: 0.0.0.0 conflicts with every address on the same protocol/port."""
        used = self.ports
        if not used:
            return False
        for ip, proto, port in wanted:
            if ip == "0.0.0.0":
                for _uip, uproto, uport in used:
                    if uport == port and uproto == proto:
                        return True
            elif (ip, proto, port) in used or ("0.0.0.0", proto, port) in used:
                return True
        return False

    def clone(self) -> NodeInfo:
        c = NodeInfo(self.name)
        for s in NodeInfo.__slots__:
            setattr(c, s, getattr(self, s))
        c.alloc_scalar = dict(self.alloc_scalar)
        c.req_scalar = dict(self.req_scalar)
        c.pods = dict(self.pods)
        c.ports = Counter(self.ports)
        c.affinity_pods = set(self.affinity_pods)
        c.anti_affinity_pods = set(self.anti_affinity_pods)
        c.table = None  # a what-if copy must never write the shared columns
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, cpu={self.req_cpu}/{self.alloc_cpu})"
