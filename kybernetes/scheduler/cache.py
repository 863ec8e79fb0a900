"""The scheduler cache: nodes and the pods placed on them, including pods assumed but not yet bound.

Upstream snapshots its cache at the start of every cycle because scheduling runs beside the informers on other
goroutines. Here a scheduling cycle is one synchronous stretch of code on the event loop, so informer handlers
cannot run in the middle of it: the cycle reads the live cache directly and no node or pod is ever copied.

"Assume" (upstream AssumePod) adds a pod to its chosen node the moment the decision is made, so the next cycle
already sees the resources taken while the binding request is still in flight. When the informer later delivers
the bound pod the assumption is confirmed; if binding fails it is forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kybernetes.machinery.selectors import LabelSelector
from kybernetes.scheduler import table
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import REGION_LABEL, ZONE_LABEL, PodInfo
from kybernetes.scheduler.table import NodeTable

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class Cache:
    def __init__(self, use_table: bool = True) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self._ordered: list[NodeInfo] = []
        self._table: NodeTable | None = None
        self._dirty = True
        self.pods: dict[str, PodInfo] = {}  # key -> assigned or assumed pod
        self.by_namespace: dict[str, dict[str, PodInfo]] = {}
        # (namespace, selector) -> node name -> matching placed pods (not terminating), kept incrementally for the
        # selectors spreading and inter-pod affinity ask about; bounded, rebuilt on demand.
        self._sel_counts: dict[tuple[str, LabelSelector, bool], dict[str, int]] = {}
        self._sel_by_ns: dict[str, list[tuple[str, LabelSelector, bool]]] = {}
        self.assumed: set[str] = set()
        self.namespaces: dict[str, dict[str, str]] = {}
        self.affinity_pods: set[str] = set()  # keys of placed pods having any pod (anti-)affinity
        self.anti_affinity_pods: set[str] = set()  # keys of placed pods with required anti-affinity
        self.prefer_taint_nodes = 0
        self.image_nodes = 0
        self.use_table = use_table

    # ------------------------------------------------------------------ nodes
    def node_list(self) -> list[NodeInfo]:
        """Nodes that exist, interleaved across zones like upstream's node tree (rebuilt only after add/remove)."""
        if self._dirty:
            zones: dict[str, list[NodeInfo]] = {}
            for ni in self.nodes.values():
                if ni.node is None:
                    continue
                z = f"{ni.labels.get(REGION_LABEL, '')}:\x00:{ni.labels.get(ZONE_LABEL, '')}"
                zones.setdefault(z, []).append(ni)
            groups = list(zones.values())
            out: list[NodeInfo] = []
            for i in range(max((len(g) for g in groups), default=0)):
                for g in groups:
                    if i < len(g):
                        out.append(g[i])
            self._ordered = out
            self._dirty = False
            for ni in self.nodes.values():
                ni.table = None
            self._table = table.build(out) if self.use_table else None
        return self._ordered

    def node_table(self) -> NodeTable | None:
        """numpy columns of the nodes in `node_list()` order (None without numpy)."""
        self.node_list()
        return self._table

    def _count_flags(self, ni: NodeInfo, sign: int) -> None:
        if ni.prefer_taints:
            self.prefer_taint_nodes += sign
        if ni.images:
            self.image_nodes += sign

    def set_node(self, node: Obj) -> NodeInfo:
        name = str((node.get("metadata") or {}).get("name") or "")
        ni = self.nodes.get(name)
        if ni is None:
            ni = NodeInfo(name)
            self.nodes[name] = ni
        old_zone = (ni.labels.get(REGION_LABEL), ni.labels.get(ZONE_LABEL))
        existed = ni.node is not None
        if existed:
            self._count_flags(ni, -1)
        ni.set_node(node)
        self._count_flags(ni, 1)
        if not existed or old_zone != (ni.labels.get(REGION_LABEL), ni.labels.get(ZONE_LABEL)):
            self._dirty = True
        return ni

    def remove_node(self, name: str) -> None:
        ni = self.nodes.get(name)
        if ni is None:
            return
        if ni.node is not None:
            self._count_flags(ni, -1)
        if ni.pods:
            ni.node = None  # keep accounting for pods that still point at it (upstream "ghost" node)
            ni.labels = {}
        else:
            del self.nodes[name]
        self._dirty = True

    def get(self, name: str) -> NodeInfo | None:
        ni = self.nodes.get(name)
        return ni if ni is not None and ni.node is not None else None

    # ------------------------------------------------------------------ pods
    def _place(self, p: PodInfo, node: str) -> None:
        ni = self.nodes.get(node)
        if ni is None:
            ni = NodeInfo(node)
            self.nodes[node] = ni
        ni.add_pod(p)
        self.pods[p.key] = p
        self.by_namespace.setdefault(p.namespace, {})[p.key] = p
        for k in self._sel_by_ns.get(p.namespace, ()):
            if (k[2] or not p.deleting) and k[1].matches(p.labels):
                d = self._sel_counts[k]
                d[node] = d.get(node, 0) + 1
        if p.has_affinity:
            self.affinity_pods.add(p.key)
            if p.anti_affinity:
                self.anti_affinity_pods.add(p.key)

    def _unplace(self, key: str) -> PodInfo | None:
        p = self.pods.pop(key, None)
        if p is None:
            return None
        ns = self.by_namespace.get(p.namespace)
        if ns is not None:
            ns.pop(key, None)
            if not ns:
                del self.by_namespace[p.namespace]
        for k in self._sel_by_ns.get(p.namespace, ()):
            if (k[2] or not p.deleting) and k[1].matches(p.labels):
                d = self._sel_counts[k]
                left = d.get(p.node_name, 0) - 1
                if left > 0:
                    d[p.node_name] = left
                else:
                    d.pop(p.node_name, None)
        ni = self.nodes.get(p.node_name)
        if ni is not None:
            ni.remove_pod(key)
            if ni.node is None and not ni.pods:
                del self.nodes[ni.name]
        self.affinity_pods.discard(key)
        self.anti_affinity_pods.discard(key)
        return p

    def assume(self, p: PodInfo, node: str) -> PodInfo:
        """Place a pod on `node` before the binding is confirmed; returns the assumed PodInfo."""
        assumed = _with_node(p, node)
        self._unplace(p.key)
        self._place(assumed, node)
        self.assumed.add(p.key)
        return assumed

    def forget(self, p: PodInfo) -> None:
        if p.key in self.assumed:
            self.assumed.discard(p.key)
            self._unplace(p.key)

    def is_assumed(self, key: str) -> bool:
        return key in self.assumed

    def confirm(self, pod: Obj) -> bool:
        """The informer shows an assumed pod bound where we put it, labels unchanged: keep the parsed PodInfo
        (only the raw object is swapped), sparing a re-parse per binding."""
        meta = pod.get("metadata") or {}
        key = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
        if key not in self.assumed:
            return False
        cur = self.pods.get(key)
        node = (pod.get("spec") or {}).get("nodeName")
        if cur is None or cur.uid != meta.get("uid") or cur.node_name != node or cur.labels != (meta.get("labels") or {}):
            return False
        cur.pod = pod
        self.assumed.discard(key)
        return True

    def add_or_update_pod(self, p: PodInfo) -> None:
        """An assigned pod seen by the informer (confirms an assumption, or accounts another scheduler's pod)."""
        self.assumed.discard(p.key)
        self._unplace(p.key)
        if not p.terminal:
            self._place(p, p.node_name)

    def remove_pod(self, key: str) -> PodInfo | None:
        self.assumed.discard(key)
        return self._unplace(key)

    def selector_counts(self, namespace: str, selector: LabelSelector, include_terminating: bool = False) -> dict[str, int]:
        """node name -> placed pods of `namespace` matching `selector` (terminating ones only if asked: spreading
        skips them, inter-pod affinity does not). The caller must not modify the result."""
        k = (namespace, selector, include_terminating)
        d = self._sel_counts.get(k)
        if d is None:
            if len(self._sel_counts) >= 256:
                self._sel_counts.clear()
                self._sel_by_ns.clear()
            d = {}
            for p in (self.by_namespace.get(namespace) or {}).values():
                if (include_terminating or not p.deleting) and selector.matches(p.labels):
                    d[p.node_name] = d.get(p.node_name, 0) + 1
            self._sel_counts[k] = d
            self._sel_by_ns.setdefault(namespace, []).append(k)
        return d

    def pods_in_namespace(self, namespace: str) -> list[PodInfo]:
        return list((self.by_namespace.get(namespace) or {}).values())

    # ------------------------------------------------------------------ namespaces
    def ns_labels(self, namespace: str) -> Mapping[str, str]:
        return self.namespaces.get(namespace) or {}


def _with_node(p: PodInfo, node: str) -> PodInfo:
    """A copy of a PodInfo bound to `node` (only the node name differs; the parsed fields are shared)."""
    c = PodInfo.__new__(PodInfo)
    for s in PodInfo.__slots__:
        setattr(c, s, getattr(p, s))
    c.node_name = node
    return c
