"""DefaultPreemption (PostFilter): make room for a pod by evicting lower-priority pods from one node.

Upstream semantics (plugins/defaultpreemption + framework/preemption): only nodes whose failure was resolvable
are candidates; on each (a sample of at least 100 nodes or 10 %, from a random offset) remove every
lower-priority pod in a what-if copy, check the pod fits, then give back as many pods as possible, highest
priority first and PDB-protected ones before the others. The chosen node has, in order: fewest PDB violations,
the lowest highest-victim priority, the smallest priority sum, the fewest victims, the latest start among the
highest-priority victims. This plugin only decides; the scheduler performs the API calls (nominate the pod,
delete the victims).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from kybernetes.machinery.selectors import selector_from_object
from kybernetes.scheduler.framework import (
    Code,
    CycleState,
    Plugin,
    PostFilterResult,
    Status,
    fit_error_message,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NO_VICTIMS_STATUS = Status(Code.UNRESOLVABLE, (NO_VICTIMS,))
MIN_CANDIDATES_PERCENT = 10
MIN_CANDIDATES_ABSOLUTE = 100


def _importance(p: PodInfo) -> tuple[int, str]:
    """Sort key: higher priority first, then the earlier-started pod (upstream MoreImportantPod)."""
    return (-p.priority, p.start_time or "\uffff")


def _clone_state(state: CycleState) -> CycleState:
    data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in state.data.items()}
    return CycleState(data, set(state.skip_filter), set(state.skip_score))


def split_by_pdb(victims: list[PodInfo], pdbs: list[Mapping[str, Any]]) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating): a pod violates if evicting it would exceed a matching PDB's budget."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    selectors = []
    for pdb in pdbs:
        sel_obj = (pdb.get("spec") or {}).get("selector")
        try:
            sel = selector_from_object(sel_obj) if sel_obj else None
        except ValueError:
            sel = None
        selectors.append(sel if sel is not None and sel.requirements else None)
    violating: list[PodInfo] = []
    ok: list[PodInfo] = []
    for v in victims:
        bad = False
        if v.labels:
            for i, pdb in enumerate(pdbs):
                sel = selectors[i]
                if sel is None or (pdb.get("metadata") or {}).get("namespace") != v.namespace or not sel.matches(v.labels):
                    continue
                if v.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    bad = True
        (violating if bad else ok).append(v)
    return violating, ok


class _Candidate:
    __slots__ = ("name", "num_violations", "victims")

    def __init__(self, name: str, victims: list[PodInfo], num_violations: int) -> None:
        self.name = name
        self.victims = victims
        self.num_violations = num_violations


class DefaultPreemption(Plugin):
    name = "DefaultPreemption"

    def post_filter(self, state: CycleState, pod: PodInfo, failed: Mapping[str, Status]) -> tuple[PostFilterResult | None, Status | None]:
        st, result = self._preempt(state, pod, failed)
        if st is not None and st.message:
            return result, Status(st.code, (f"preemption: {st.message}",), self.name)
        return result, st

    def _eligible(self, pod: PodInfo, failed: Mapping[str, Status]) -> str:
        if pod.preemption_policy == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = pod.nominated_node
        if nominated:
            st = failed.get(nominated)
            if st is not None and st.code == Code.UNRESOLVABLE:
                return ""
            node = self.handle.cache.get(nominated)
            if node is not None:
                for p in node.pods.values():
                    if p.priority < pod.priority and p.deleting:
                        return "not eligible due to a terminating pod on the nominated node."
        return ""

    def _preempt(self, state: CycleState, pod: PodInfo, failed: Mapping[str, Status]) -> tuple[Status | None, PostFilterResult | None]:
        why = self._eligible(pod, failed)
        if why:
            return Status(Code.UNSCHEDULABLE, (why,)), None
        cache = self.handle.cache
        nodes = cache.node_list()
        statuses: dict[str, Status] = {}
        potential: list[NodeInfo] = []
        not_helpful = Status(Code.UNRESOLVABLE, (NOT_HELPFUL,))
        for n in nodes:
            st = failed.get(n.name)
            if st is None or st.code == Code.UNRESOLVABLE:
                statuses[n.name] = not_helpful
            else:
                potential.append(n)
        if not potential:
            return Status(Code.UNSCHEDULABLE, (fit_error_message(len(nodes), statuses),)), PostFilterResult("")
        pdbs = self.handle.pdb_lister()
        num = max(len(potential) * MIN_CANDIDATES_PERCENT // 100, MIN_CANDIDATES_ABSOLUTE)
        num = min(num, len(potential))
        offset = random.randrange(len(potential))
        non_violating: list[_Candidate] = []
        violating: list[_Candidate] = []
        for i in range(len(potential)):
            n = potential[(offset + i) % len(potential)]
            victims, violations, st = self.select_victims(state, pod, n, pdbs)
            if st is None and victims:
                (violating if violations else non_violating).append(_Candidate(n.name, victims, violations))
                if non_violating and len(non_violating) + len(violating) >= num:
                    break
            else:
                statuses[n.name] = st or Status(Code.ERROR, (f"expected at least one victim pod on node {n.name!r}",))
        candidates = non_violating + violating
        if not candidates:
            return Status(Code.UNSCHEDULABLE, (fit_error_message(len(nodes), statuses),)), PostFilterResult("")
        best = self.pick(candidates)
        return None, PostFilterResult(best.name, best.victims)

    def select_victims(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                       pdbs: list[Mapping[str, Any]]) -> tuple[list[PodInfo], int, Status | None]:
        fw = self.handle.framework
        assert fw is not None
        if not any(p.priority < pod.priority for p in node.pods.values()):
            return [], 0, NO_VICTIMS_STATUS
        ni = node.clone()
        st_copy = _clone_state(state)
        hooks = [p for p in fw.pre_filter if p.name not in st_copy.skip_filter]

        def remove(p: PodInfo) -> None:
            ni.remove_pod(p.key)
            for h in hooks:
                fn = getattr(h, "remove_pod", None)
                if fn is not None:
                    fn(st_copy, pod, p, ni)

        def add(p: PodInfo) -> None:
            ni.add_pod(p)
            for h in hooks:
                fn = getattr(h, "add_pod", None)
                if fn is not None:
                    fn(st_copy, pod, p, ni)

        potential = [p for p in ni.pods.values() if p.priority < pod.priority]
        if not potential:
            return [], 0, Status(Code.UNRESOLVABLE, (NO_VICTIMS,))
        for p in potential:
            remove(p)
        st = fw.run_filter_with_nominated(st_copy, pod, ni)
        if st is not None:
            return [], 0, st
        potential.sort(key=_importance)
        violating, ok = split_by_pdb(potential, pdbs)
        victims: list[PodInfo] = []
        num_violating = 0
        for group, counts in ((violating, True), (ok, False)):
            for p in group:
                add(p)
                if fw.run_filter_with_nominated(st_copy, pod, ni) is not None:
                    remove(p)
                    victims.append(p)
                    if counts:
                        num_violating += 1
        return victims, num_violating, None

    @staticmethod
    def pick(candidates: list[_Candidate]) -> _Candidate:
        """upstream pickOneNodeForPreemption, criteria applied in order, first candidate wins ties."""
        def highest(c: _Candidate) -> int:
            return max(v.priority for v in c.victims)

        def latest_start_of_highest(c: _Candidate) -> str:
            top = highest(c)
            return min((v.start_time for v in c.victims if v.priority == top), default="")

        keys: list[Callable[[_Candidate], int]] = [
            lambda c: c.num_violations,
            highest,
            lambda c: sum(v.priority + (1 << 31) for v in c.victims),
            lambda c: len(c.victims),
        ]
        pool = candidates
        for k in keys:
            best = min(k(c) for c in pool)
            pool = [c for c in pool if k(c) == best]
            if len(pool) == 1:
                return pool[0]
        latest = max(latest_start_of_highest(c) for c in pool)
        return next(c for c in pool if latest_start_of_highest(c) == latest)
