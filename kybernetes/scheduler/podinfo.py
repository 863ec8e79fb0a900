"""PodInfo: everything the scheduler needs from a pod, parsed once when the informer delivers it.

Filters run per (pod, node) pair thousands of times per second, so nothing in the hot path may re-parse
quantities, selectors or affinity terms from the raw dict. A PodInfo is built once per pod version (on the
informer event) and is immutable afterwards; the raw object stays available as `.pod`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.machinery.selectors import LabelSelector, Requirement, selector_from_object
from kybernetes.scheduler import resources as res

Obj = dict[str, Any]
DEFAULT_SCHEDULER = "default-scheduler"
HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"


# --------------------------------------------------------------------------- affinity terms
@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A PodAffinityTerm with its selectors compiled (upstream framework.AffinityTerm)."""

    selector: LabelSelector
    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None
    topology_key: str
    weight: int = 0

    def matches(self, pod: PodInfo, ns_labels: Callable[[str], Mapping[str, str]]) -> bool:
        if pod.namespace not in self.namespaces:
            if self.namespace_selector is None or not self.namespace_selector.matches(ns_labels(pod.namespace)):
                return False
        return self.selector.matches(pod.labels)


def _affinity_term(owner_ns: str, owner_labels: Mapping[str, str], term: Mapping[str, Any], weight: int = 0) -> AffinityTerm:
    try:
        sel = selector_from_object(term.get("labelSelector"))
    except ValueError:
        sel = selector_from_object(None)
    extra: list[Requirement] = []
    for k in term.get("matchLabelKeys") or ():
        if k in owner_labels:
            extra.append(Requirement(k, "in", (owner_labels[k],)))
    for k in term.get("mismatchLabelKeys") or ():
        if k in owner_labels:
            extra.append(Requirement(k, "notin", (owner_labels[k],)))
    if extra and term.get("labelSelector") is not None:
        sel = LabelSelector((*sel.requirements, *extra))
    namespaces = frozenset(term.get("namespaces") or ())
    ns_sel_obj = term.get("namespaceSelector")
    ns_sel: LabelSelector | None = None
    if ns_sel_obj is not None:
        try:
            ns_sel = selector_from_object(ns_sel_obj)
        except ValueError:
            ns_sel = None
    if not namespaces and ns_sel_obj is None:
        namespaces = frozenset((owner_ns,))
    return AffinityTerm(sel, namespaces, ns_sel, str(term.get("topologyKey") or ""), weight)


def _terms(owner_ns: str, labels: Mapping[str, str], block: Mapping[str, Any] | None) -> tuple[list[AffinityTerm], list[AffinityTerm]]:
    if not block:
        return [], []
    required = [_affinity_term(owner_ns, labels, t) for t in block.get("requiredDuringSchedulingIgnoredDuringExecution") or ()]
    preferred = [
        _affinity_term(owner_ns, labels, w.get("podAffinityTerm") or {}, int(w.get("weight") or 0))
        for w in block.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
    ]
    return required, preferred


# --------------------------------------------------------------------------- node selectors
_NODE_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!", "Gt": "gt", "Lt": "lt"}


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    labels: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]
    valid: bool

    def matches(self, node_name: str, node_labels: Mapping[str, str]) -> bool:
        if not self.valid:
            return False
        for r in self.labels:
            if not r.matches(node_labels):
                return False
        if self.fields:
            f = {"metadata.name": node_name}
            for r in self.fields:
                if not r.matches(f):
                    return False
        return True


def _requirements(exprs: Any, fields: bool) -> tuple[tuple[Requirement, ...], bool]:
    out: list[Requirement] = []
    for e in exprs or ():
        op = _NODE_OPS.get(str(e.get("operator", "")))
        key = str(e.get("key", ""))
        vals = tuple(str(v) for v in e.get("values") or ())
        if op is None or (fields and (key != "metadata.name" or op not in ("in", "notin") or len(vals) != 1)):
            return (), False
        if op in ("gt", "lt"):
            try:
                int(vals[0]) if len(vals) == 1 else int("x")
            except ValueError:
                return (), False
        out.append(Requirement(key, op, vals))
    return tuple(out), True


def compile_node_selector_term(term: Mapping[str, Any]) -> NodeSelectorTerm:
    labels, ok1 = _requirements(term.get("matchExpressions"), False)
    fields, ok2 = _requirements(term.get("matchFields"), True)
    # A term without requirements matches no objects (upstream NodeSelectorTerm semantics).
    return NodeSelectorTerm(labels, fields, ok1 and ok2 and bool(labels or fields))


@dataclass(frozen=True, slots=True)
class PreferredTerm:
    weight: int
    term: NodeSelectorTerm


# --------------------------------------------------------------------------- tolerations
@dataclass(frozen=True, slots=True)
class Toleration:
    key: str
    operator: str
    value: str
    effect: str

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return False


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


def parse_tolerations(raw: Any) -> tuple[Toleration, ...]:
    return tuple(
        Toleration(str(t.get("key") or ""), str(t.get("operator") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
        for t in raw or ()
    )


def tolerates_all(tolerations: tuple[Toleration, ...], taints: tuple[Taint, ...]) -> Taint | None:
    """The first taint no toleration tolerates, or None."""
    for taint in taints:
        for t in tolerations:
            if t.tolerates(taint):
                break
        else:
            return taint
    return None


# --------------------------------------------------------------------------- spread constraints
@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    hard: bool
    selector: LabelSelector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool


def _spread_constraints(pod_labels: Mapping[str, str], raw: Any) -> tuple[SpreadConstraint, ...]:
    out: list[SpreadConstraint] = []
    for c in raw or ():
        try:
            sel = selector_from_object(c.get("labelSelector"))
        except ValueError:
            continue
        extra = tuple(Requirement(k, "in", (pod_labels[k],)) for k in c.get("matchLabelKeys") or () if k in pod_labels)
        if extra and c.get("labelSelector") is not None:
            sel = LabelSelector((*sel.requirements, *extra))
        out.append(
            SpreadConstraint(
                max_skew=int(c.get("maxSkew") or 1),
                topology_key=str(c.get("topologyKey") or ""),
                hard=c.get("whenUnsatisfiable", "DoNotSchedule") != "ScheduleAnyway",
                selector=sel,
                min_domains=int(c.get("minDomains") or 1),
                honor_affinity=c.get("nodeAffinityPolicy", "Honor") != "Ignore",
                honor_taints=c.get("nodeTaintsPolicy", "Ignore") == "Honor",
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------- the pod
class PodInfo:
    """A pod as the scheduler sees it. `priority` is resolved by the caller (PriorityClass lookup)."""

    __slots__ = (
        "anti_affinity",
        "cpu",
        "deleting",
        "eph",
        "gated",
        "host_ports",
        "images",
        "key",
        "labels",
        "mem",
        "name",
        "namespace",
        "node_affinity",
        "node_name",
        "node_selector",
        "nominated_node",
        "nz_cpu",
        "nz_mem",
        "pod",
        "preemption_policy",
        "preferred_affinity",
        "preferred_anti_affinity",
        "preferred_node_affinity",
        "priority",
        "requests",
        "required_affinity",
        "scalar",
        "scheduler_name",
        "spread",
        "start_time",
        "terminal",
        "tolerations",
        "uid",
    )

    def __init__(self, pod: Obj, priority: int = 0) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        self.pod = pod
        self.namespace: str = str(meta.get("namespace") or "")
        self.name: str = str(meta.get("name") or "")
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = str(meta.get("uid") or "")
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.deleting = bool(meta.get("deletionTimestamp"))
        self.node_name: str = str(spec.get("nodeName") or "")
        self.scheduler_name: str = str(spec.get("schedulerName") or DEFAULT_SCHEDULER)
        self.priority = priority
        self.preemption_policy: str = str(spec.get("preemptionPolicy") or "PreemptLowerPriority")
        self.nominated_node: str = str(status.get("nominatedNodeName") or "")
        self.start_time: str = str(status.get("startTime") or meta.get("creationTimestamp") or "")
        self.terminal = status.get("phase") in ("Succeeded", "Failed")
        self.gated = bool(spec.get("schedulingGates"))

        self.requests, nz = res.pod_requests_pair(spec)
        self.cpu = self.requests.get(res.CPU, 0)
        self.mem = self.requests.get(res.MEMORY, 0)
        self.eph = self.requests.get(res.EPHEMERAL, 0)
        self.scalar = {k: v for k, v in self.requests.items() if k not in (res.CPU, res.MEMORY, res.EPHEMERAL, res.PODS) and v}
        self.nz_cpu = nz.get(res.CPU, 0)
        self.nz_mem = nz.get(res.MEMORY, 0)

        ports: list[tuple[str, str, int]] = []
        images: list[str] = []
        for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
            if c.get("image"):
                images.append(str(c["image"]))
            for p in c.get("ports") or ():
                hp = int(p.get("hostPort") or 0)
                if hp > 0:
                    ports.append((str(p.get("hostIP") or "0.0.0.0"), str(p.get("protocol") or "TCP"), hp))
        self.host_ports = tuple(ports)
        self.images = tuple(images)

        self.tolerations = parse_tolerations(spec.get("tolerations"))
        self.node_selector: dict[str, str] = dict(spec.get("nodeSelector") or {})
        aff = spec.get("affinity") or {}
        na = aff.get("nodeAffinity") or {}
        req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.node_affinity: tuple[NodeSelectorTerm, ...] | None = None
        if req is not None:
            self.node_affinity = tuple(compile_node_selector_term(t) for t in req.get("nodeSelectorTerms") or ())
        self.preferred_node_affinity = tuple(
            PreferredTerm(int(p.get("weight") or 0), compile_node_selector_term(p.get("preference") or {}))
            for p in na.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        )
        self.required_affinity, self.preferred_affinity = _terms(self.namespace, self.labels, aff.get("podAffinity"))
        self.anti_affinity, self.preferred_anti_affinity = _terms(self.namespace, self.labels, aff.get("podAntiAffinity"))
        self.spread = _spread_constraints(self.labels, spec.get("topologySpreadConstraints"))

    @property
    def has_affinity(self) -> bool:
        return bool(self.required_affinity or self.preferred_affinity or self.anti_affinity or self.preferred_anti_affinity)

    def matches_node_selector(self, node_name: str, labels: Mapping[str, str]) -> bool:
        """nodeSelector AND required node affinity (upstream RequiredNodeAffinity.Match)."""
        for k, v in self.node_selector.items():
            if labels.get(k) != v:
                return False
        if self.node_affinity is not None:
            return any(t.matches(node_name, labels) for t in self.node_affinity)
        return True

    def __repr__(self) -> str:
        return f"PodInfo({self.key}, node={self.node_name!r}, prio={self.priority})"
