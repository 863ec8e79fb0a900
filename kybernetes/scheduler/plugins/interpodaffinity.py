"""InterPodAffinity: required and preferred pod affinity / anti-affinity, including existing pods' terms.

Upstream semantics (plugins/interpodaffinity). PreFilter counts, per topology pair (key, value):
existing pods whose required anti-affinity matches the incoming pod, existing pods matching all of the incoming
pod's required affinity terms, and existing pods matching each of its anti-affinity terms. Filter then only looks
up the node's own labels. The first pod of a group that has affinity to itself may go anywhere its topology
keys exist. PreScore sums preferred weights (and existing pods' required affinity with weight 1) per topology
pair; scores are min-max normalized.

The cache keeps the set of placed pods that have affinity terms, so a pod without affinity costs nothing when
no placed pod has anti-affinity.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from kybernetes.scheduler.podinfo import AffinityTerm, PodInfo

AFFINITY_NOT_MATCH = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY_NOT_MATCH = "node(s) didn't satisfy existing pods anti-affinity rules"

Pair = tuple[str, str]


def _bump(m: dict[Pair, int], labels: dict[str, str], key: str, value: int) -> None:
    v = labels.get(key)
    if v is not None:
        pair = (key, v)
        n = m.get(pair, 0) + value
        if n:
            m[pair] = n
        else:
            m.pop(pair, None)


@dataclass(slots=True)
class _State:
    existing_anti: dict[Pair, int] = field(default_factory=dict)
    affinity: dict[Pair, int] = field(default_factory=dict)
    anti: dict[Pair, int] = field(default_factory=dict)

    def clone(self) -> _State:
        return _State(dict(self.existing_anti), dict(self.affinity), dict(self.anti))


class InterPodAffinity(FilterPlugin, ScorePlugin):
    name = "InterPodAffinity"
    hard_pod_affinity_weight = 1

    def _matches_all(self, terms: Iterable[AffinityTerm], p: PodInfo) -> bool:
        ns = self.handle.cache.ns_labels
        return all(t.matches(p, ns) for t in terms)

    def _count(self, st: _State, pod: PodInfo, other: PodInfo, node: NodeInfo, value: int) -> None:
        ns = self.handle.cache.ns_labels
        labels = node.labels
        for t in other.anti_affinity:
            if t.matches(pod, ns):
                _bump(st.existing_anti, labels, t.topology_key, value)
        if pod.required_affinity and self._matches_all(pod.required_affinity, other):
            for t in pod.required_affinity:
                _bump(st.affinity, labels, t.topology_key, value)
        for t in pod.anti_affinity:
            if t.matches(other, ns):
                _bump(st.anti, labels, t.topology_key, value)

    # ---------------------------------------------------------------- filter
    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[Status | None, set[str] | None]:
        cache = self.handle.cache
        if not pod.required_affinity and not pod.anti_affinity and not cache.anti_affinity_pods:
            return SKIP, None
        st = _State()
        ns = cache.ns_labels
        for key in cache.anti_affinity_pods:
            other = cache.pods[key]
            n = cache.get(other.node_name)
            if n is None:
                continue
            for t in other.anti_affinity:
                if t.matches(pod, ns):
                    _bump(st.existing_anti, n.labels, t.topology_key, 1)
        if pod.required_affinity or pod.anti_affinity:
            for n in cache.node_list():
                for other in n.pods.values():
                    if pod.required_affinity and self._matches_all(pod.required_affinity, other):
                        for t in pod.required_affinity:
                            _bump(st.affinity, n.labels, t.topology_key, 1)
                    for t in pod.anti_affinity:
                        if t.matches(other, ns):
                            _bump(st.anti, n.labels, t.topology_key, 1)
        state.data[self.name] = st
        return None, None

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        st = state.data.get(self.name)
        if isinstance(st, _State):
            self._count(st, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        st = state.data.get(self.name)
        if isinstance(st, _State):
            self._count(st, pod, other, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        st: _State = state.data[self.name]
        labels = node.labels
        if pod.required_affinity:
            exist = True
            for t in pod.required_affinity:
                v = labels.get(t.topology_key)
                if v is None:
                    return unschedulable(self.name, AFFINITY_NOT_MATCH, resolvable=False)
                if st.affinity.get((t.topology_key, v), 0) <= 0:
                    exist = False
            if not exist and not (not st.affinity and self._matches_all(pod.required_affinity, pod)):
                return unschedulable(self.name, AFFINITY_NOT_MATCH, resolvable=False)
        if st.anti:
            for t in pod.anti_affinity:
                v = labels.get(t.topology_key)
                if v is not None and st.anti.get((t.topology_key, v), 0) > 0:
                    return unschedulable(self.name, ANTI_AFFINITY_NOT_MATCH)
        if st.existing_anti:
            ea = st.existing_anti
            for kv in labels.items():
                if ea.get(kv, 0) > 0:
                    return unschedulable(self.name, EXISTING_ANTI_AFFINITY_NOT_MATCH)
        return None

    # ----------------------------------------------------------------- score
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        cache = self.handle.cache
        own = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        if not own and not cache.affinity_pods:
            return SKIP
        ns = cache.ns_labels
        scores: dict[str, dict[str, int]] = {}

        def process(terms: Iterable[AffinityTerm], target: PodInfo, labels: dict[str, str], mult: int, weight: int = 0) -> None:
            for t in terms:
                if t.matches(target, ns):
                    v = labels.get(t.topology_key)
                    if v is not None:
                        d = scores.setdefault(t.topology_key, {})
                        d[v] = d.get(v, 0) + (weight or t.weight) * mult

        others: Iterable[PodInfo] = cache.pods.values() if own else [cache.pods[k] for k in cache.affinity_pods]
        for other in others:
            n = cache.get(other.node_name)
            if n is None or not n.labels:
                continue
            labels = n.labels
            if own:
                process(pod.preferred_affinity, other, labels, 1)
                process(pod.preferred_anti_affinity, other, labels, -1)
            if other.required_affinity:
                process(other.required_affinity, pod, labels, 1, self.hard_pod_affinity_weight)
            process(other.preferred_affinity, pod, labels, 1)
            process(other.preferred_anti_affinity, pod, labels, -1)
        if not scores:
            return SKIP
        state.data[self.name + "/score"] = scores
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        scores: dict[str, dict[str, int]] = state.data[self.name + "/score"]
        out: list[int] = []
        for n in nodes:
            s = 0
            for key, values in scores.items():
                v = n.labels.get(key)
                if v is not None:
                    s += values.get(v, 0)
            out.append(s)
        return out

    def normalize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        if not scores:
            return
        lo, hi = min(scores), max(scores)
        diff = hi - lo
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * ((s - lo) / diff)) if diff > 0 else 0
