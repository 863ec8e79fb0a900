"""One scheduling decision: PreFilter, Filter over enough nodes, Score, pick the best (upstream schedule_one.go).

Filtering starts where the previous cycle stopped (round robin) and stops once `num_feasible_nodes_to_find`
nodes fit: 50 - nodes/125 percent of the cluster, at least 5 % and at least 100 nodes, like upstream's
adaptive percentageOfNodesToScore. Nodes are filtered in chunks, plugin by plugin, so each plugin's inner loop
runs over a list. A pod already nominated to a node (after preemption) tries that node first.

The result also carries every node's verdict (`failed`) and each plugin's scores, which is what a `why`
command shows.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from kybernetes.scheduler.framework import Code, CycleState, Framework, Status, fit_error_message
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.table import Array, NodeTable, np

MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENT = 5
CHUNK = 512
NO_NODES = "no nodes available to schedule pods"


def num_feasible_nodes_to_find(num_all: int, percentage: int = 0) -> int:
    if num_all < MIN_FEASIBLE_NODES:
        return num_all
    if percentage <= 0:
        percentage = max(50 - num_all // 125, MIN_FEASIBLE_PERCENT)
    if percentage >= 100:
        return num_all
    return max(num_all * percentage // 100, MIN_FEASIBLE_NODES)


@dataclass(slots=True)
class Decision:
    node: str = ""
    feasible: list[NodeInfo] = field(default_factory=list)
    failed: dict[str, Status] = field(default_factory=dict)
    scores: Mapping[str, Sequence[int]] = field(default_factory=dict)
    totals: Sequence[int] = field(default_factory=list)
    num_nodes: int = 0
    pre_filter: Status | None = None
    absent: Status | None = None
    evaluated: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.node)

    def message(self, post_filter_msg: str = "") -> str:
        if self.num_nodes == 0:
            return NO_NODES  # upstream ErrNoNodesAvailable: not a FitError, no preemption
        pre = self.pre_filter.message if self.pre_filter is not None else ""
        return fit_error_message(self.num_nodes, self.failed, pre, post_filter_msg, self.absent)

    def unschedulable_plugins(self) -> set[str]:
        out = {st.plugin for st in self.failed.values() if st.plugin}
        if self.pre_filter is not None and self.pre_filter.plugin:
            out.add(self.pre_filter.plugin)
        if self.absent is not None and self.absent.plugin:
            out.add(self.absent.plugin)
        return out


class Algorithm:
    def __init__(self, fw: Framework) -> None:
        self.fw = fw
        self.next_start = 0

    def schedule(self, state: CycleState, pod: PodInfo, explain: bool = False) -> Decision:
        """Decide where `pod` goes. With `explain`, always take the list path so every evaluated node's verdict
        is recorded (the vector path records verdicts only when nothing fits)."""
        fw = self.fw
        all_nodes = fw.handle.cache.node_list()
        d = Decision(num_nodes=len(all_nodes))
        if not all_nodes:
            d.pre_filter = Status(Code.UNRESOLVABLE, (NO_NODES,))
            return d
        st, pre = fw.run_pre_filter(state, pod)
        if st is not None:
            d.pre_filter = st
            for n in all_nodes:
                d.failed[n.name] = st
            return d

        # A nominated node (set by an earlier preemption) is tried alone first.
        if pod.nominated_node and (pre.node_names is None or pod.nominated_node in pre.node_names):
            ni = fw.handle.cache.get(pod.nominated_node)
            if ni is not None and fw.run_filter_with_nominated(state, pod, ni) is None:
                d.feasible = [ni]
                d.node = ni.name
                return d

        nodes = all_nodes
        if pre.node_names is not None:
            cache = fw.handle.cache
            nodes = [n for n in (cache.get(x) for x in sorted(pre.node_names)) if n is not None]
            plugins = sorted({p.name for p in fw.pre_filter if p.name not in state.skip_filter})
            d.absent = Status(Code.UNRESOLVABLE, (f"node(s) didn't satisfy plugin(s) [{' '.join(plugins)}]",), "")
        vector_ok = not explain and pre.node_names is None and not fw.handle.nominator.by_node
        table = fw.handle.cache.node_table() if vector_ok else None
        rows = self._find_feasible_vector(state, pod, table, d) if table is not None else None
        if rows is None:
            d.feasible = self._find_feasible(state, pod, nodes, d)
        if not d.feasible:
            return d
        if len(d.feasible) == 1:
            d.node = d.feasible[0].name
            return d
        st = fw.run_pre_score(state, pod, d.feasible)
        if st is not None:
            d.feasible = []
            d.pre_filter = st
            return d
        if rows is not None and table is not None:
            totals, scores = fw.run_score_vector(state, pod, d.feasible, table, rows)
            best = totals.max()
            ties = np.flatnonzero(totals == best)
            d.node = d.feasible[int(ties[0] if len(ties) == 1 else random.choice(ties))].name
            d.totals, d.scores = totals, scores
            return d
        d.totals, d.scores = fw.run_score(state, pod, d.feasible)
        d.node = select_host(d.feasible, d.totals)
        return d

    def _find_feasible_vector(self, state: CycleState, pod: PodInfo, table: NodeTable, d: Decision) -> Array | None:
        """All active filters as numpy masks over every node, then the first `want` from the round-robin start.
        Returns the chosen rows, or None when some plugin has no vector form or nothing fits (the list path then
        records every node's reason)."""
        fw = self.fw
        mask: Array | bool = True
        for p in fw.filter:
            if p.name in state.skip_filter:
                continue
            m = p.filter_mask(state, pod, table)
            if m is None:
                return None
            if m is True:
                continue
            mask = m if mask is True else mask & m
        n = table.n
        if n == 0:
            return None
        want = num_feasible_nodes_to_find(n, fw.percentage)
        start = self.next_start % n
        if mask is True:
            rows = (np.arange(start, start + want) % n) if want < n else np.roll(np.arange(n), -start)
        else:
            idx = np.flatnonzero(mask)
            if len(idx) == 0:
                return None
            k = int(np.searchsorted(idx, start))
            rows = idx[k : k + want]
            if len(rows) < want and k:
                rows = np.concatenate((rows, idx[: min(k, want - len(rows))]))
        processed = n if len(rows) < want else (int(rows[-1]) - start) % n + 1
        self.next_start = (start + processed) % n
        d.evaluated = processed
        picked = itemgetter(*rows.tolist())(table.nodes)
        d.feasible = list(picked) if len(rows) > 1 else [picked]
        return rows

    def _find_feasible(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], d: Decision) -> list[NodeInfo]:
        n = len(nodes)
        want = num_feasible_nodes_to_find(n, self.fw.percentage)
        start = self.next_start % n if n else 0
        feasible: list[NodeInfo] = []
        processed = 0
        fw = self.fw
        while processed < n and len(feasible) < want:
            end = min(processed + CHUNK, n)
            a, b = start + processed, start + end
            if b <= n:
                chunk = nodes[a:b]
            elif a >= n:
                chunk = nodes[a - n : b - n]
            else:
                chunk = nodes[a:] + nodes[: b - n]
            ok = fw.filter_batch(state, pod, chunk, d.failed)
            if ok and len(feasible) + len(ok) >= want:
                ok = ok[: want - len(feasible)]
                # Nodes past the last one kept were not "processed" for round-robin purposes.
                last = ok[-1]
                processed += next(i for i, x in enumerate(chunk) if x is last) + 1
                feasible.extend(ok)
                break
            feasible.extend(ok)
            processed = end
        d.evaluated = processed
        if nodes is fw.handle.cache.node_list():
            self.next_start = (start + processed) % n if n else 0
        return feasible


def select_host(nodes: list[NodeInfo], totals: list[int]) -> str:
    """Highest total; ties broken uniformly at random (upstream reservoir sampling)."""
    best = max(totals)
    ties = [i for i, t in enumerate(totals) if t == best]
    return nodes[ties[0] if len(ties) == 1 else random.choice(ties)].name
