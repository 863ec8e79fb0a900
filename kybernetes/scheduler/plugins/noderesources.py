"""NodeResourcesFit (filter + LeastAllocated score) and NodeResourcesBalancedAllocation.

Upstream semantics (plugins/noderesources): a node fits if its pod count stays within `pods` allocatable and
every non-zero request (cpu, memory, ephemeral-storage, extended resources) fits in allocatable minus what is
already requested; each shortfall is its own reason ("Insufficient cpu"), and a request larger than the whole
node makes the failure unresolvable (preemption cannot help). LeastAllocated scores the free fraction using
"non-zero" requests (100m / 200Mi for containers that request nothing); BalancedAllocation scores how even
the cpu and memory fractions would be, and is skipped for best-effort pods.

Node totals are kept by NodeInfo, so each node costs a handful of integer operations.
"""

from __future__ import annotations

from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    FilterPlugin,
    ScorePlugin,
    Status,
    unschedulable,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.table import Array, NodeTable, np


def insufficient(pod: PodInfo, n: NodeInfo) -> tuple[list[str], bool]:
    """Reasons a pod does not fit on a node, and whether the node could never fit it."""
    reasons: list[str] = []
    unresolvable = False
    if len(n.pods) + 1 > n.alloc_pods:
        reasons.append("Too many pods")
    if not (pod.cpu or pod.mem or pod.eph or pod.scalar):
        return reasons, unresolvable
    if pod.cpu > 0 and pod.cpu > n.alloc_cpu - n.req_cpu:
        reasons.append("Insufficient cpu")
        unresolvable |= pod.cpu > n.alloc_cpu
    if pod.mem > 0 and pod.mem > n.alloc_mem - n.req_mem:
        reasons.append("Insufficient memory")
        unresolvable |= pod.mem > n.alloc_mem
    if pod.eph > 0 and pod.eph > n.alloc_eph - n.req_eph:
        reasons.append("Insufficient ephemeral-storage")
        unresolvable |= pod.eph > n.alloc_eph
    for r, q in pod.scalar.items():
        alloc = n.alloc_scalar.get(r, 0)
        if q > alloc - n.req_scalar.get(r, 0):
            reasons.append(f"Insufficient {r}")
            unresolvable |= q > alloc
    return reasons, unresolvable


class NodeResourcesFit(FilterPlugin, ScorePlugin):
    name = "NodeResourcesFit"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        reasons, unresolvable = insufficient(pod, node)
        if not reasons:
            return None
        return unschedulable(self.name, *reasons, resolvable=not unresolvable)

    def filter_mask(self, state: CycleState, pod: PodInfo, table: NodeTable) -> Array | bool | None:
        if pod.scalar:
            return None
        t = table
        m = t.pod_count < t.alloc_pods
        if pod.cpu:
            m &= (t.alloc_cpu - t.req_cpu) >= pod.cpu
        if pod.mem:
            m &= (t.alloc_mem - t.req_mem) >= pod.mem
        if pod.eph:
            m &= (t.alloc_eph - t.req_eph) >= pod.eph
        return m

    def score_vector(self, state: CycleState, pod: PodInfo, table: NodeTable, rows: Array) -> Array | None:
        ac, am = table.alloc_cpu[rows], table.alloc_mem[rows]
        rc, rm = table.nz_cpu[rows] + pod.nz_cpu, table.nz_mem[rows] + pod.nz_mem
        wc, wm = ac > 0, am > 0
        sc = np.where(wc & (rc <= ac), (ac - rc) * MAX_NODE_SCORE // np.maximum(ac, 1), 0)
        sm = np.where(wm & (rm <= am), (am - rm) * MAX_NODE_SCORE // np.maximum(am, 1), 0)
        weights = wc.astype(np.int64) + wm
        return np.where(weights > 0, (sc + sm) // np.maximum(weights, 1), 0)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], failed: dict[str, Status]) -> list[NodeInfo]:
        out: list[NodeInfo] = []
        f = self.filter
        cpu, mem = pod.cpu, pod.mem
        if pod.eph or pod.scalar:
            for n in nodes:
                st = f(state, pod, n)
                if st is None:
                    out.append(n)
                else:
                    failed[n.name] = st
            return out
        # Fast path: cpu/memory only (the overwhelmingly common pod).
        append = out.append
        for n in nodes:
            if len(n.pods) < n.alloc_pods and n.alloc_cpu - n.req_cpu >= cpu and n.alloc_mem - n.req_mem >= mem:
                append(n)
            else:
                st = f(state, pod, n)
                if st is None:
                    append(n)
                else:
                    failed[n.name] = st
        return out

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """LeastAllocated over cpu and memory, weight 1 each (upstream default scoring strategy)."""
        pc, pm = pod.nz_cpu, pod.nz_mem
        out: list[int] = []
        append = out.append
        for n in nodes:
            ac, am = n.alloc_cpu, n.alloc_mem
            total = weights = 0
            if ac:
                rc = n.nz_cpu + pc
                total += (ac - rc) * MAX_NODE_SCORE // ac if rc <= ac else 0
                weights += 1
            if am:
                rm = n.nz_mem + pm
                total += (am - rm) * MAX_NODE_SCORE // am if rm <= am else 0
                weights += 1
            append(total // weights if weights else 0)
        return out


class NodeResourcesBalancedAllocation(ScorePlugin):
    name = "NodeResourcesBalancedAllocation"

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.cpu and not pod.mem:
            return SKIP  # best-effort pods would all pile onto the same node (kubernetes#129138)
        return None

    def score_vector(self, state: CycleState, pod: PodInfo, table: NodeTable, rows: Array) -> Array | None:
        ac, am = table.alloc_cpu[rows], table.alloc_mem[rows]
        fc = np.minimum((table.req_cpu[rows] + pod.cpu) / np.maximum(ac, 1), 1.0)
        fm = np.minimum((table.req_mem[rows] + pod.mem) / np.maximum(am, 1), 1.0)
        scores = ((1 - np.abs(fc - fm) / 2) * MAX_NODE_SCORE).astype(np.int64)
        return np.where((ac > 0) & (am > 0), scores, MAX_NODE_SCORE)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        pc, pm = pod.cpu, pod.mem
        out: list[int] = []
        append = out.append
        for n in nodes:
            ac, am = n.alloc_cpu, n.alloc_mem
            if ac and am:
                fc = (n.req_cpu + pc) / ac
                fm = (n.req_mem + pm) / am
                if fc > 1:
                    fc = 1.0
                if fm > 1:
                    fm = 1.0
                append(int((1 - abs(fc - fm) / 2) * MAX_NODE_SCORE))
            else:
                append(MAX_NODE_SCORE)
        return out
