"""NodeName, NodeUnschedulable and TaintToleration: the filters that read only the Node object.

They run on every node for every pod, so each has a tight `filter_nodes` loop that short-circuits the common
case (no taints, schedulable, no nodeName); `filter` keeps the one-node reference semantics.
"""

from __future__ import annotations

from kybernetes.scheduler.framework import (
    SKIP,
    CycleState,
    FilterPlugin,
    ScorePlugin,
    Status,
    default_normalize,
    unschedulable,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo, Taint, tolerates_all
from kybernetes.scheduler.table import Array, NodeTable

UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")


class NodeName(FilterPlugin):
    name = "NodeName"
    REASON = "node(s) didn't match the requested node name"

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[Status | None, set[str] | None]:
        if not pod.node_name:
            return SKIP, None
        return None, {pod.node_name}

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.node_name and pod.node_name != node.name:
            return unschedulable(self.name, self.REASON, resolvable=False)
        return None


class NodeUnschedulable(FilterPlugin):
    name = "NodeUnschedulable"
    REASON = "node(s) were unschedulable"

    def _tolerated(self, pod: PodInfo) -> bool:
        return any(t.tolerates(UNSCHEDULABLE_TAINT) for t in pod.tolerations)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.unschedulable and not self._tolerated(pod):
            return unschedulable(self.name, self.REASON, resolvable=False)
        return None

    def filter_mask(self, state: CycleState, pod: PodInfo, table: NodeTable) -> Array | bool | None:
        if not table.unsched.any() or self._tolerated(pod):
            return True
        return ~table.unsched

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], failed: dict[str, Status]) -> list[NodeInfo]:
        bad = [n for n in nodes if n.unschedulable]
        if not bad or self._tolerated(pod):
            return nodes
        st = unschedulable(self.name, self.REASON, resolvable=False)
        for n in bad:
            failed[n.name] = st
        return [n for n in nodes if not n.unschedulable]


class TaintToleration(FilterPlugin, ScorePlugin):
    name = "TaintToleration"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.hard_taints:
            return None
        taint = tolerates_all(pod.tolerations, node.hard_taints)
        if taint is None:
            return None
        return unschedulable(self.name, f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}", resolvable=False)

    def filter_mask(self, state: CycleState, pod: PodInfo, table: NodeTable) -> Array | bool | None:
        if not table.tainted_rows:
            return True
        mask = ~table.tainted
        for row, ni in table.tainted_rows.items():
            if self.filter(state, pod, ni) is None:
                mask[row] = True
        return mask

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], failed: dict[str, Status]) -> list[NodeInfo]:
        out: list[NodeInfo] = []
        f = self.filter
        for n in nodes:
            if not n.hard_taints:
                out.append(n)
                continue
            st = f(state, pod, n)
            if st is None:
                out.append(n)
            else:
                failed[n.name] = st
        return out

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        # Without PreferNoSchedule taints anywhere every node scores the same: skipping cannot change a decision.
        if self.handle.cache.prefer_taint_nodes == 0:
            return SKIP
        state.data[self.name] = tuple(t for t in pod.tolerations if t.effect in ("", "PreferNoSchedule"))
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        tols = state.data[self.name]
        out: list[int] = []
        for n in nodes:
            c = 0
            for taint in n.prefer_taints:
                if not any(t.tolerates(taint) for t in tols):
                    c += 1
            out.append(c)
        return out

    def normalize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize(scores, reverse=True)


__all__ = ["NodeName", "NodeUnschedulable", "TaintToleration"]
