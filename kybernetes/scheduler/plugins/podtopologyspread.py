"""PodTopologySpread: hard (DoNotSchedule) and soft (ScheduleAnyway) spread constraints.

Upstream semantics (plugins/podtopologyspread): for each constraint count the matching pods (same namespace,
not terminating) per topology domain over the nodes that pass the pod's node affinity (nodeAffinityPolicy
Honor) and carry every constraint's key; a node fails when `count(domain) + selfMatch - globalMin > maxSkew`,
where globalMin is 0 while fewer than minDomains domains exist. Scoring gives each node `count * log(domains+2)
+ maxSkew - 1` and normalizes so the emptiest domains score highest.

Counting walks the pods of the pod's namespace (a cache index), not every pod on every node.
System default constraints (for pods owned by a Service/ReplicaSet) are not applied yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
from kybernetes.scheduler.podinfo import HOSTNAME_LABEL, PodInfo, SpreadConstraint, tolerates_all

NOT_MATCH = "node(s) didn't match pod topology spread constraints"
LABEL_NOT_MATCH = "node(s) didn't match pod topology spread constraints (missing required label)"


def _eligible(pod: PodInfo, c: SpreadConstraint, n: NodeInfo) -> bool:
    if c.honor_affinity and not pod.matches_node_selector(n.name, n.labels):
        return False
    return not (c.honor_taints and n.hard_taints and tolerates_all(pod.tolerations, n.hard_taints) is not None)


def _counts_pod(pod: PodInfo, c: SpreadConstraint, other: PodInfo) -> bool:
    return other.namespace == pod.namespace and not other.deleting and c.selector.matches(other.labels)


@dataclass(slots=True)
class _HardState:
    constraints: tuple[SpreadConstraint, ...]
    counts: list[dict[str, int]]
    mins: list[int]
    self_match: list[int]

    def recompute_min(self, i: int) -> None:
        c = self.constraints[i]
        d = self.counts[i]
        self.mins[i] = 0 if len(d) < c.min_domains or not d else min(d.values())

    def clone(self) -> _HardState:
        return _HardState(self.constraints, [dict(d) for d in self.counts], list(self.mins), self.self_match)


@dataclass(slots=True)
class _SoftState:
    constraints: tuple[SpreadConstraint, ...]
    ignored: set[str] = field(default_factory=set)
    pair_counts: list[dict[str, int]] = field(default_factory=list)
    node_counts: list[dict[str, int]] = field(default_factory=list)  # hostname constraints: per node
    weights: list[float] = field(default_factory=list)


class PodTopologySpread(FilterPlugin, ScorePlugin):
    name = "PodTopologySpread"

    # ---------------------------------------------------------------- filter
    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[Status | None, set[str] | None]:
        hard = tuple(c for c in pod.spread if c.hard)
        if not hard:
            return SKIP, None
        cache = self.handle.cache
        counts: list[dict[str, int]] = [{} for _ in hard]
        keys = [c.topology_key for c in hard]
        eligible: dict[str, list[bool]] = {}
        for n in cache.node_list():
            labels = n.labels
            if not all(k in labels for k in keys):
                continue
            el = [_eligible(pod, c, n) for c in hard]
            eligible[n.name] = el
            for i, c in enumerate(hard):
                if el[i]:
                    counts[i].setdefault(labels[c.topology_key], 0)
        for other in cache.pods_in_namespace(pod.namespace):
            oel = eligible.get(other.node_name)
            if oel is None or other.deleting:
                continue
            labels = cache.nodes[other.node_name].labels
            for i, c in enumerate(hard):
                if oel[i] and c.selector.matches(other.labels):
                    counts[i][labels[c.topology_key]] += 1
        st = _HardState(hard, counts, [0] * len(hard), [1 if c.selector.matches(pod.labels) else 0 for c in hard])
        for i in range(len(hard)):
            st.recompute_min(i)
        state.data[self.name] = st
        return None, None

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        st = state.data.get(self.name)
        if not isinstance(st, _HardState) or not all(c.topology_key in node.labels for c in st.constraints):
            return
        for i, c in enumerate(st.constraints):
            if _eligible(pod, c, node) and _counts_pod(pod, c, other):
                v = node.labels[c.topology_key]
                st.counts[i][v] = st.counts[i].get(v, 0) + delta
                st.recompute_min(i)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        st: _HardState = state.data[self.name]
        labels = node.labels
        for i, c in enumerate(st.constraints):
            v = labels.get(c.topology_key)
            if v is None:
                return unschedulable(self.name, LABEL_NOT_MATCH, resolvable=False)
            if st.counts[i].get(v, 0) + st.self_match[i] - st.mins[i] > c.max_skew:
                return unschedulable(self.name, NOT_MATCH)
        return None

    # ----------------------------------------------------------------- score
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        soft = tuple(c for c in pod.spread if not c.hard)
        if not soft:
            return SKIP
        s = _SoftState(soft)
        keys = [c.topology_key for c in soft]
        sizes: list[set[str]] = [set() for _ in soft]
        s.pair_counts = [{} for _ in soft]
        for n in nodes:
            if not all(k in n.labels for k in keys):
                s.ignored.add(n.name)
                continue
            for i, c in enumerate(soft):
                v = n.labels[c.topology_key]
                sizes[i].add(v)
                if c.topology_key != HOSTNAME_LABEL:
                    s.pair_counts[i].setdefault(v, 0)
        cache = self.handle.cache
        for i, c in enumerate(soft):
            size = len(nodes) - len(s.ignored) if c.topology_key == HOSTNAME_LABEL else len(sizes[i])
            s.weights.append(math.log(size + 2))
        s.node_counts = [{} for _ in soft]
        for other in cache.pods_in_namespace(pod.namespace):
            if other.deleting:
                continue
            for i, c in enumerate(soft):
                if c.topology_key == HOSTNAME_LABEL and c.selector.matches(other.labels):
                    nc = s.node_counts[i]
                    nc[other.node_name] = nc.get(other.node_name, 0) + 1
            on = cache.nodes.get(other.node_name)
            if on is None or on.node is None or not all(k in on.labels for k in keys):
                continue
            for i, c in enumerate(soft):
                if c.topology_key == HOSTNAME_LABEL:
                    continue
                v = on.labels[c.topology_key]
                if v in s.pair_counts[i] and _eligible(pod, c, on) and c.selector.matches(other.labels):
                    s.pair_counts[i][v] += 1
        state.data[self.name + "/score"] = s
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        s: _SoftState = state.data[self.name + "/score"]
        out: list[int] = []
        for n in nodes:
            if n.name in s.ignored:
                out.append(0)
                continue
            score = 0.0
            for i, c in enumerate(s.constraints):
                v = n.labels.get(c.topology_key)
                if v is None:
                    continue
                if c.topology_key == HOSTNAME_LABEL:
                    cnt = s.node_counts[i].get(n.name, 0)
                else:
                    cnt = s.pair_counts[i].get(v, 0)
                score += cnt * s.weights[i] + (c.max_skew - 1)
            out.append(math.floor(score + 0.5))  # Go math.Round: half away from zero
        return out

    def normalize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        s: _SoftState = state.data[self.name + "/score"]
        valid = [sc for n, sc in zip(nodes, scores, strict=True) if n.name not in s.ignored]
        if not valid:
            return
        lo, hi = min(valid), max(valid)
        for i, n in enumerate(nodes):
            if n.name in s.ignored:
                scores[i] = 0
            elif hi == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (hi + lo - scores[i]) // hi
