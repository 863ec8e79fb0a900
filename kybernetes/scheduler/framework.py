"""The plugin framework: extension points, statuses, cycle state, and the profile that picks plugins by name.

It mirrors upstream `pkg/scheduler/framework`: PreFilter computes per-pod state once (and may say Skip, so its
Filter never runs, or narrow the candidate nodes); Filter judges one node; PostFilter (preemption) runs when no
node fits; PreScore/Score/NormalizeScore rank the feasible nodes and each plugin's scores are multiplied by its
weight; Reserve/Unreserve and Bind finish the job. Filters and scores take a *list* of nodes (`filter_nodes`,
`score_nodes`) so a plugin can run its inner loop without a Python call per node; the per-node `filter` is the
reference semantics, used by preemption's what-if runs and by the default `filter_nodes`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from kybernetes.machinery.selectors import LabelSelector
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.table import Array, NodeTable, np

if TYPE_CHECKING:
    from kybernetes.scheduler.cache import Cache

MAX_NODE_SCORE = 100


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNRESOLVABLE = 3  # UnschedulableAndUnresolvable: preemption cannot help
    WAIT = 4
    SKIP = 5


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS


SKIP = Status(Code.SKIP)


@functools.lru_cache(maxsize=4096)
def unschedulable(plugin: str, *reasons: str, resolvable: bool = True) -> Status:
    """A (shared, immutable) failure status: thousands of nodes failing the same way share one object."""
    return Status(Code.UNSCHEDULABLE if resolvable else Code.UNRESOLVABLE, reasons, plugin)


@dataclass(slots=True)
class PreFilterResult:
    """Restricts the nodes worth filtering (None: all nodes)."""

    node_names: set[str] | None = None


@dataclass(slots=True)
class CycleState:
    data: dict[str, Any] = field(default_factory=dict)
    skip_filter: set[str] = field(default_factory=set)
    skip_score: set[str] = field(default_factory=set)


class Nominator:
    """Pods nominated to run on a node after preemption; filters must leave room for them."""

    def __init__(self) -> None:
        self.by_node: dict[str, dict[str, PodInfo]] = {}
        self.node_of: dict[str, str] = {}

    def add(self, p: PodInfo, node: str) -> None:
        self.remove(p.key)
        if node:
            self.by_node.setdefault(node, {})[p.key] = p
            self.node_of[p.key] = node

    def remove(self, key: str) -> None:
        node = self.node_of.pop(key, None)
        if node is not None:
            pods = self.by_node.get(node)
            if pods is not None:
                pods.pop(key, None)
                if not pods:
                    del self.by_node[node]

    def pods_on(self, node: str) -> list[PodInfo]:
        return list((self.by_node.get(node) or {}).values())


class Handle:
    """What plugins may reach: the cache (read-only during a cycle) and the nominator."""

    def __init__(self, cache: Cache, nominator: Nominator | None = None, client: Any = None) -> None:
        self.cache = cache
        self.nominator = nominator or Nominator()
        self.client = client
        self.framework: Framework | None = None
        self.pdb_lister: Callable[[], list[Mapping[str, Any]]] = list
        # Selector of the Services / controller owning a pod (upstream helper.DefaultSelector), for the
        # system default spreading; None when unknown.
        self.default_selector: Callable[[PodInfo], LabelSelector | None] = lambda _p: None


class Plugin:
    name: ClassVar[str] = ""

    def __init__(self, handle: Handle, args: Mapping[str, Any] | None = None) -> None:
        self.handle = handle
        self.args = dict(args or {})


class FilterPlugin(Plugin):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        raise NotImplementedError

    def filter_mask(self, state: CycleState, pod: PodInfo, table: NodeTable) -> Array | bool | None:
        """Vector form over every table row: a bool array, True (all rows pass) or None (use `filter_nodes`)."""
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], failed: dict[str, Status]) -> list[NodeInfo]:
        out: list[NodeInfo] = []
        f = self.filter
        for n in nodes:
            st = f(state, pod, n)
            if st is None:
                out.append(n)
            else:
                failed[n.name] = st
        return out


class ScorePlugin(Plugin):
    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        raise NotImplementedError

    def normalize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        return None

    def score_vector(self, state: CycleState, pod: PodInfo, table: NodeTable, rows: Array) -> Array | None:
        """Vector form (already normalized) for the given table rows, or None to use `score_nodes`."""
        return None


def default_normalize(scores: list[int], reverse: bool = False) -> None:
    """upstream helper.DefaultNormalizeScore."""
    mx = max(scores, default=0)
    if mx == 0:
        if reverse:
            for i in range(len(scores)):
                scores[i] = MAX_NODE_SCORE
        return
    for i, s in enumerate(scores):
        s = MAX_NODE_SCORE * s // mx
        scores[i] = MAX_NODE_SCORE - s if reverse else s


@dataclass(slots=True)
class PostFilterResult:
    nominated_node: str = ""
    victims: list[PodInfo] = field(default_factory=list)


class Framework:
    """One profile: an ordered set of plugins per extension point, with score weights."""

    def __init__(self, handle: Handle, plugins: Sequence[Plugin], weights: Mapping[str, int], scheduler_name: str,
                 percentage_of_nodes_to_score: int = 0) -> None:
        self.handle = handle
        handle.framework = self
        self.scheduler_name = scheduler_name
        self.percentage = percentage_of_nodes_to_score
        self.plugins = list(plugins)
        self.weights = {p.name: int(weights.get(p.name, 1)) for p in self.plugins}

        def has(p: Plugin, method: str) -> bool:
            return callable(getattr(p, method, None))

        self.pre_filter = [p for p in plugins if has(p, "pre_filter")]
        self.filter = [p for p in plugins if isinstance(p, FilterPlugin)]
        self.post_filter = [p for p in plugins if has(p, "post_filter")]
        self.pre_score = [p for p in plugins if has(p, "pre_score")]
        self.score = [p for p in plugins if isinstance(p, ScorePlugin) and self.weights.get(p.name, 1) > 0]
        self.reserve = [p for p in plugins if has(p, "reserve")]
        self.bind = [p for p in plugins if has(p, "bind")]

    def plugin(self, name: str) -> Plugin | None:
        for p in self.plugins:
            if p.name == name:
                return p
        return None

    # ------------------------------------------------------------- PreFilter
    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[Status | None, PreFilterResult]:
        result = PreFilterResult()
        for p in self.pre_filter:
            st, narrowed = p.pre_filter(state, pod)  # type: ignore[attr-defined]
            if st is not None:
                if st.code == Code.SKIP:
                    state.skip_filter.add(p.name)
                    continue
                return Status(st.code, st.reasons, p.name), result
            if narrowed is not None:
                result.node_names = set(narrowed) if result.node_names is None else result.node_names & set(narrowed)
        return None, result

    # ---------------------------------------------------------------- Filter
    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """All filters on one node, stopping at the first failure (upstream RunFilterPlugins)."""
        skip = state.skip_filter
        for p in self.filter:
            if p.name in skip:
                continue
            st = p.filter(state, pod, node)
            if st is not None:
                return st
        return None

    def run_filter_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Upstream RunFilterPluginsWithNominatedPods: the pod must also fit beside equal/higher-priority
        pods nominated to this node (and must fit without them too)."""
        nominated = [q for q in self.handle.nominator.pods_on(node.name) if q.key != pod.key and q.priority >= pod.priority]
        if nominated:
            ext = node.clone()
            for q in nominated:
                ext.add_pod(q)
            self._add_nominated_to_state(state, pod, ext, nominated)
            try:
                st = self.run_filter(state, pod, ext)
            finally:
                self._remove_nominated_from_state(state, pod, ext, nominated)
            if st is not None:
                return st
        return self.run_filter(state, pod, node)

    def _add_nominated_to_state(self, state: CycleState, pod: PodInfo, node: NodeInfo, pods: list[PodInfo]) -> None:
        for p in self.pre_filter:
            hook = getattr(p, "add_pod", None)
            if hook is not None and p.name not in state.skip_filter:
                for q in pods:
                    hook(state, pod, q, node)

    def _remove_nominated_from_state(self, state: CycleState, pod: PodInfo, node: NodeInfo, pods: list[PodInfo]) -> None:
        for p in self.pre_filter:
            hook = getattr(p, "remove_pod", None)
            if hook is not None and p.name not in state.skip_filter:
                for q in pods:
                    hook(state, pod, q, node)

    def filter_batch(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], failed: dict[str, Status]) -> list[NodeInfo]:
        """Filter a batch plugin by plugin; each node's recorded status is the first failing plugin in order."""
        nominator = self.handle.nominator
        special: list[NodeInfo] = []
        if nominator.by_node:
            plain: list[NodeInfo] = []
            for n in nodes:
                (special if n.name in nominator.by_node else plain).append(n)
            nodes = plain
        skip = state.skip_filter
        for p in self.filter:
            if not nodes:
                break
            if p.name in skip:
                continue
            nodes = p.filter_nodes(state, pod, nodes, failed)
        for n in special:
            st = self.run_filter_with_nominated(state, pod, n)
            if st is None:
                nodes.append(n)
            else:
                failed[n.name] = st
        return nodes

    # ----------------------------------------------------------------- Score
    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        for p in self.pre_score:
            st: Status | None = p.pre_score(state, pod, nodes)  # type: ignore[attr-defined]
            if st is not None:
                if st.code == Code.SKIP:
                    state.skip_score.add(p.name)
                    continue
                return Status(st.code, st.reasons, p.name)
        return None

    def run_score_vector(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], table: NodeTable,
                         rows: Array) -> tuple[Array, dict[str, Array]]:
        """run_score over numpy columns; plugins without a vector form are scored on the list and converted."""
        totals = np.zeros(len(nodes), np.int64)
        per_plugin: dict[str, Array] = {}
        for p in self.score:
            if p.name in state.skip_score:
                continue
            v = p.score_vector(state, pod, table, rows)
            if v is None:
                scores = p.score_nodes(state, pod, nodes)
                p.normalize(state, pod, nodes, scores)
                v = np.asarray(scores, np.int64)
            per_plugin[p.name] = v
            totals += v * self.weights[p.name]
        return totals, per_plugin

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> tuple[list[int], dict[str, list[int]]]:
        """Weighted total per node, plus each plugin's normalized (unweighted) scores for explanations."""
        totals = [0] * len(nodes)
        per_plugin: dict[str, list[int]] = {}
        for p in self.score:
            if p.name in state.skip_score:
                continue
            scores = p.score_nodes(state, pod, nodes)
            p.normalize(state, pod, nodes, scores)
            w = self.weights[p.name]
            per_plugin[p.name] = scores
            if w == 1:
                totals = [a + b for a, b in zip(totals, scores, strict=True)]
            else:
                totals = [a + b * w for a, b in zip(totals, scores, strict=True)]
        return totals, per_plugin

    # --------------------------------------------------------------- Reserve
    def run_reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for i, p in enumerate(self.reserve):
            st: Status | None = p.reserve(state, pod, node)  # type: ignore[attr-defined]
            if st is not None:
                for q in reversed(self.reserve[: i + 1]):
                    q.unreserve(state, pod, node)  # type: ignore[attr-defined]
                return st
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for p in reversed(self.reserve):
            p.unreserve(state, pod, node)  # type: ignore[attr-defined]

    async def run_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for p in self.bind:
            st: Status | None = await p.bind(state, pod, node)  # type: ignore[attr-defined]
            if st is not None and st.code == Code.SKIP:
                continue
            return st
        return Status(Code.ERROR, ("no bind plugin handled the pod",))

    # ------------------------------------------------------------ PostFilter
    def run_post_filter(self, state: CycleState, pod: PodInfo, failed: dict[str, Status]) -> tuple[PostFilterResult | None, Status | None]:
        """Returns the first successful result, else the last failure's status (its message goes in the event)."""
        last: Status | None = None
        for p in self.post_filter:
            result, st = p.post_filter(state, pod, failed)  # type: ignore[attr-defined]
            if st is None or st.ok:
                return result, None
            last = Status(st.code, st.reasons, p.name)
        return None, last


def fit_error_message(num_nodes: int, failed: Mapping[str, Status], pre_filter_msg: str = "",
                      post_filter_msg: str = "", absent: Status | None = None) -> str:
    """upstream FitError.Error(): `0/N nodes are available: <histogram>. <postfilter message>`."""
    msg = f"0/{num_nodes} nodes are available:"
    if pre_filter_msg:
        msg += f" {pre_filter_msg}."
    else:
        counts: dict[str, int] = {}
        for st in failed.values():
            for r in st.reasons:
                counts[r] = counts.get(r, 0) + 1
        if absent is not None and len(failed) < num_nodes:
            for r in absent.reasons:
                counts[r] = counts.get(r, 0) + num_nodes - len(failed)
        hist = sorted(f"{v} {k}" for k, v in counts.items())
        if hist:
            msg += f" {', '.join(hist)}."
    if post_filter_msg:
        msg += f" {post_filter_msg}"
    return msg
