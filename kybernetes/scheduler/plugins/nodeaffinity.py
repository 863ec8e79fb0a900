"""NodeAffinity: nodeSelector plus required and preferred node affinity (upstream plugins/nodeaffinity).

PreFilter skips the filter for pods without any node constraint and, when every required term pins
`metadata.name` with matchFields, narrows the candidates to those names so a DaemonSet-style pod does not
scan every node.
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
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.table import Array, NodeTable

REASON = "node(s) didn't match Pod's node affinity/selector"


class NodeAffinity(FilterPlugin, ScorePlugin):
    name = "NodeAffinity"

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[Status | None, set[str] | None]:
        if not pod.node_selector and pod.node_affinity is None:
            return SKIP, None
        terms = pod.node_affinity
        if not terms:
            return None, None
        names: set[str] = set()
        for t in terms:
            pinned: set[str] | None = None
            for r in t.fields:
                if r.op == "in":
                    pinned = set(r.values) if pinned is None else pinned & set(r.values)
            if pinned is None:
                return None, None  # this term allows any node name; terms are ORed
            names |= pinned
        if not names:
            return unschedulable(self.name, "pod affinity terms conflict", resolvable=False), None
        return None, names

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.matches_node_selector(node.name, node.labels):
            return None
        return unschedulable(self.name, REASON, resolvable=False)

    def filter_mask(self, state: CycleState, pod: PodInfo, table: NodeTable) -> Array | bool | None:
        key = ("NodeAffinity", frozenset(pod.node_selector.items()), pod.node_affinity)
        return table.label_mask(key, lambda n: pod.matches_node_selector(n.name, n.labels))

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], failed: dict[str, Status]) -> list[NodeInfo]:
        out: list[NodeInfo] = []
        match = pod.matches_node_selector
        st = unschedulable(self.name, REASON, resolvable=False)
        for n in nodes:
            if match(n.name, n.labels):
                out.append(n)
            else:
                failed[n.name] = st
        return out

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.preferred_node_affinity:
            return SKIP
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        terms = [t for t in pod.preferred_node_affinity if t.weight]
        return [sum(t.weight for t in terms if t.term.matches(n.name, n.labels)) for n in nodes]

    def normalize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize(scores)
