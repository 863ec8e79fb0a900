"""PodTopologySpread: hard (DoNotSchedule) and soft (ScheduleAnyway) spread constraints.

Upstream semantics (plugins/podtopologyspread): for each constraint count the matching pods (same namespace,
not terminating) per topology domain over the nodes that pass the pod's node affinity (nodeAffinityPolicy
Honor) and carry every constraint's key; a node fails when `count(domain) + selfMatch - globalMin > maxSkew`,
where globalMin is 0 while fewer than minDomains domains exist. Scoring gives each node `count * log(domains+2)
+ maxSkew - 1` and normalizes so the emptiest domains score highest.

A pod without constraints gets upstream's system defaults (soft: maxSkew 3 per hostname, 5 per zone) when a
Service or its controller (ReplicaSet, ReplicationController, StatefulSet) selects it, with their merged selector.

Counts come from the cache's incremental per-selector index and per-policy node domains cached in the node
table, so a decision costs O(domains + nodes holding matching pods), not O(all pods).
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
from kybernetes.scheduler.podinfo import HOSTNAME_LABEL, ZONE_LABEL, PodInfo, SpreadConstraint, tolerates_all
from kybernetes.scheduler.table import Array, NodeTable, np

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

    # --------------------------------------------------------------- domains
    def _domains(self, pod: PodInfo, constraints: tuple[SpreadConstraint, ...],
                 require_all: bool = True) -> tuple[dict[str, tuple[str | None, ...]], list[frozenset[str]]]:
        """Per node carrying every constraint's key (any key, without `require_all`): its domain for each
        constraint, or None where the node does not count (node affinity / taints policy). Plus each
        constraint's set of domains. Cached per policy in the node table until labels change."""
        keys = tuple(c.topology_key for c in constraints)
        honor_aff = any(c.honor_affinity for c in constraints)
        honor_taints = any(c.honor_taints for c in constraints)
        memo_key = ("PodTopologySpread", keys, require_all, tuple((c.honor_affinity, c.honor_taints) for c in constraints),
                    frozenset(pod.node_selector.items()) if honor_aff else None, pod.node_affinity if honor_aff else None,
                    pod.tolerations if honor_taints else None)

        def compute() -> tuple[dict[str, tuple[str | None, ...]], list[frozenset[str]]]:
            out: dict[str, tuple[str | None, ...]] = {}
            doms: list[set[str]] = [set() for _ in constraints]
            for n in self.handle.cache.node_list():
                labels = n.labels
                if require_all and not all(k in labels for k in keys):
                    continue
                vals = tuple(labels.get(c.topology_key) if _eligible(pod, c, n) else None for c in constraints)
                out[n.name] = vals
                for i, v in enumerate(vals):
                    if v is not None:
                        doms[i].add(v)
            return out, [frozenset(d) for d in doms]

        table = self.handle.cache.node_table()
        if table is None:
            return compute()
        result: tuple[dict[str, tuple[str | None, ...]], list[frozenset[str]]] = table.memo(memo_key, compute)
        return result

    # ---------------------------------------------------------------- filter
    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[Status | None, set[str] | None]:
        hard = tuple(c for c in pod.spread if c.hard)
        if not hard:
            return SKIP, None
        cache = self.handle.cache
        node_doms, domains = self._domains(pod, hard)
        counts: list[dict[str, int]] = [dict.fromkeys(d, 0) for d in domains]
        for i, c in enumerate(hard):
            ci = counts[i]
            for node_name, cnt in cache.selector_counts(pod.namespace, c.selector).items():
                vals = node_doms.get(node_name)
                v = vals[i] if vals is not None else None
                if v is not None:
                    ci[v] += cnt
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

    def filter_mask(self, state: CycleState, pod: PodInfo, table: NodeTable) -> Array | bool | None:
        st: _HardState = state.data[self.name]
        mask: Array | bool = True
        for i, c in enumerate(st.constraints):
            values, rows, index = table.topology(c.topology_key)
            cnt = np.zeros(len(values) + 1, np.int64)
            nz = [(index[v], k) for v, k in st.counts[i].items() if k and v in index]
            if nz:
                cnt[[j for j, _ in nz]] = [k for _, k in nz]
            ok = cnt + (st.self_match[i] - st.mins[i]) <= c.max_skew
            ok[-1] = False  # rows without the key (index -1)
            m = ok[rows]
            mask = m if mask is True else mask & m
        return mask

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
    def _system_defaults(self, pod: PodInfo) -> tuple[SpreadConstraint, ...]:
        sel = self.handle.default_selector(pod)
        if sel is None or not sel.requirements:
            return ()
        return tuple(SpreadConstraint(skew, key, False, sel, 1, True, False)
                     for skew, key in ((3, HOSTNAME_LABEL), (5, ZONE_LABEL)))

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        soft = tuple(c for c in pod.spread if not c.hard)
        require_all = True
        if not pod.spread and self.args.get("defaultingType", "System") == "System":
            soft = self._system_defaults(pod)
            require_all = False  # upstream: system-defaulted constraints do not need every key on a node
        if not soft:
            return SKIP
        s = _SoftState(soft)
        keys = [c.topology_key for c in soft]
        sizes: list[set[str]] = [set() for _ in soft]
        s.pair_counts = [{} for _ in soft]
        for n in nodes:
            if require_all and not all(k in n.labels for k in keys):
                s.ignored.add(n.name)
                continue
            for i, c in enumerate(soft):
                v = n.labels.get(c.topology_key)
                if v is None:
                    continue
                sizes[i].add(v)
                if c.topology_key != HOSTNAME_LABEL:
                    s.pair_counts[i].setdefault(v, 0)
        cache = self.handle.cache
        for i, c in enumerate(soft):
            size = len(nodes) - len(s.ignored) if c.topology_key == HOSTNAME_LABEL else len(sizes[i])
            s.weights.append(math.log(size + 2))
        node_doms, _ = self._domains(pod, soft, require_all)
        s.node_counts = []
        for i, c in enumerate(soft):
            by_node = cache.selector_counts(pod.namespace, c.selector)
            s.node_counts.append(by_node)
            if c.topology_key == HOSTNAME_LABEL:
                continue
            pc = s.pair_counts[i]
            for node_name, cnt in by_node.items():
                dv = node_doms.get(node_name)
                d = dv[i] if dv is not None else None
                if d is not None and d in pc:
                    pc[d] += cnt
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
