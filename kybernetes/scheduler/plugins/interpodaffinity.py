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
from kybernetes.scheduler.table import Array, NodeTable, np

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


def _value_flags(counts: dict[Pair, int], key: str, index: dict[str, int], n: int) -> Array:
    """Per value of `key` (plus a trailing False for rows without the key): does the pair have a positive count."""
    flags = np.zeros(n + 1, bool)
    hits = [index[v] for (k, v), c in counts.items() if c > 0 and k == key and v in index]
    if hits:
        flags[hits] = True
    return flags


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
        if len(pod.required_affinity) == 1:
            self._count_term(pod.required_affinity[0], st.affinity, 1)
        elif pod.required_affinity:  # a pod must match every term: no per-selector shortcut
            for n in cache.node_list():
                for other in n.pods.values():
                    if self._matches_all(pod.required_affinity, other):
                        for t in pod.required_affinity:
                            _bump(st.affinity, n.labels, t.topology_key, 1)
        for t in pod.anti_affinity:
            self._count_term(t, st.anti, 1)
        state.data[self.name] = st
        return None, None

    def _namespaces(self, t: AffinityTerm) -> set[str]:
        cache = self.handle.cache
        out = set(t.namespaces)
        if t.namespace_selector is not None:
            out |= {ns for ns in cache.by_namespace if t.namespace_selector.matches(cache.ns_labels(ns))}
        return out

    def _count_term(self, t: AffinityTerm, into: dict[Pair, int], weight: int) -> None:
        """Add `weight` per placed pod matching the term, at its node's (topologyKey, value) pair."""
        cache = self.handle.cache
        for ns in self._namespaces(t):
            for node_name, cnt in cache.selector_counts(ns, t.selector, include_terminating=True).items():
                n = cache.get(node_name)
                if n is not None:
                    _bump(into, n.labels, t.topology_key, cnt * weight)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        st = state.data.get(self.name)
        if isinstance(st, _State):
            self._count(st, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        st = state.data.get(self.name)
        if isinstance(st, _State):
            self._count(st, pod, other, node, -1)

    def filter_mask(self, state: CycleState, pod: PodInfo, table: NodeTable) -> Array | bool | None:
        st: _State = state.data[self.name]
        mask: Array | bool = True

        def both(m: Array) -> None:
            nonlocal mask
            mask = m if mask is True else mask & m

        if pod.required_affinity:
            first_of_group = not st.affinity and self._matches_all(pod.required_affinity, pod)
            for t in pod.required_affinity:
                values, rows, index = table.topology(t.topology_key)
                if first_of_group:
                    both(rows >= 0)
                else:
                    both(_value_flags(st.affinity, t.topology_key, index, len(values))[rows])
        if st.anti:
            for t in pod.anti_affinity:
                values, rows, index = table.topology(t.topology_key)
                both(~_value_flags(st.anti, t.topology_key, index, len(values))[rows])
        for (key, value), cnt in st.existing_anti.items():
            if cnt > 0:
                _, rows, index = table.topology(key)
                j = index.get(value)
                if j is not None:
                    both(rows != j)
        return mask

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
        pairs: dict[Pair, int] = {}
        # The incoming pod's preferred terms, counted through the cache's per-selector index.
        for t in pod.preferred_affinity:
            self._count_term(t, pairs, t.weight)
        for t in pod.preferred_anti_affinity:
            self._count_term(t, pairs, -t.weight)

        def process(terms: Iterable[AffinityTerm], labels: dict[str, str], mult: int, weight: int = 0) -> None:
            for t in terms:
                if t.matches(pod, ns):
                    _bump(pairs, labels, t.topology_key, (weight or t.weight) * mult)

        # Existing pods' terms that the incoming pod matches (their required affinity weighs 1).
        for key in cache.affinity_pods:
            other = cache.pods[key]
            n = cache.get(other.node_name)
            if n is None or not n.labels:
                continue
            if other.required_affinity:
                process(other.required_affinity, n.labels, 1, self.hard_pod_affinity_weight)
            process(other.preferred_affinity, n.labels, 1)
            process(other.preferred_anti_affinity, n.labels, -1)
        scores: dict[str, dict[str, int]] = {}
        for (k, v), w in pairs.items():
            scores.setdefault(k, {})[v] = w
        if not scores:
            return SKIP
        state.data[self.name + "/score"] = scores
        return None

    def score_vector(self, state: CycleState, pod: PodInfo, table: NodeTable, rows: Array) -> Array | None:
        scores: dict[str, dict[str, int]] = state.data[self.name + "/score"]
        total = np.zeros(len(rows), np.int64)
        for key, by_value in scores.items():
            values, node_rows, _ = table.topology(key)
            per_value = np.fromiter((by_value.get(v, 0) for v in values), np.int64, len(values))
            total += np.append(per_value, 0)[node_rows[rows]]
        lo, hi = total.min(), total.max()
        if hi - lo <= 0:
            return np.zeros(len(rows), np.int64)
        return (MAX_NODE_SCORE * ((total - lo) / (hi - lo))).astype(np.int64)

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
