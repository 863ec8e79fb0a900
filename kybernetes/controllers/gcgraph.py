"""The garbage collector's picture of the cluster: who owns whom, by uid, built from informer events.

Owners a dependent names but that have not been observed become *virtual* nodes; the collector checks them with a
live read and, if they are gone, collects their dependents. Nothing here does I/O; `GraphBuilder.observe` returns
the uids the collector must look at (upstream's GraphBuilder.processGraphChanges).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


@dataclass
class Node:
    uid: str
    api_version: str
    kind: str
    namespace: str
    name: str
    owners: list[dict[str, Any]] = field(default_factory=list)
    dependents: set[str] = field(default_factory=set)
    virtual: bool = False
    deleting: bool = False
    finalizers: tuple[str, ...] = ()

    @property
    def deleting_dependents(self) -> bool:
        return self.deleting and FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        return self.deleting and ORPHAN in self.finalizers

    def owner_ref(self, uid: str) -> dict[str, Any] | None:
        return next((r for r in self.owners if r.get("uid") == uid), None)


@dataclass
class Work:
    """What a graph change asks of the collector."""

    attempt_delete: set[str] = field(default_factory=set)
    orphan: set[str] = field(default_factory=set)


class Graph:
    def __init__(self, namespaced_kind: Any = None) -> None:
        self.nodes: dict[str, Node] = {}
        # (group, kind) -> namespaced?; decides where a virtual owner lives.
        self.namespaced_kind = namespaced_kind or (lambda api_version, kind: True)

    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, uid: str) -> Node | None:
        return self.nodes.get(uid)

    def blocking_dependents(self, node: Node) -> list[Node]:
        out = []
        for d_uid in node.dependents:
            dep = self.nodes.get(d_uid)
            if dep is None:
                continue
            ref = dep.owner_ref(node.uid)
            if ref is not None and ref.get("blockOwnerDeletion"):
                out.append(dep)
        return out

    # ------------------------------------------------------------- changes
    def observe(self, obj: dict[str, Any]) -> Work:
        """An object was added or updated."""
        work = Work()
        m = obj.get("metadata") or {}
        uid = m.get("uid", "")
        if not uid:
            return work
        owners = [dict(r) for r in m.get("ownerReferences") or [] if r.get("uid")]
        deleting = bool(m.get("deletionTimestamp"))
        finalizers = tuple(m.get("finalizers") or ())
        node = self.nodes.get(uid)
        was_orphaning = was_deleting_deps = False
        if node is None:
            node = Node(
                uid, obj.get("apiVersion", ""), obj.get("kind", ""), m.get("namespace", ""), m.get("name", ""), owners=owners
            )
            self.nodes[uid] = node
            self._add_owners(node, owners, work)
        else:
            was_orphaning, was_deleting_deps = node.orphaning, node.deleting_dependents
            if node.virtual:
                node.virtual = False
                node.api_version, node.kind = obj.get("apiVersion", node.api_version), obj.get("kind", node.kind)
                node.namespace, node.name = m.get("namespace", ""), m.get("name", node.name)
            old = {r["uid"]: r for r in node.owners}
            new = {r["uid"]: r for r in owners}
            removed = [r for u, r in old.items() if u not in new]
            added = [r for u, r in new.items() if u not in old]
            changed = [old[u] for u in new if u in old and old[u] != new[u]]
            for r in removed + changed:
                # An owner waiting for its blocking dependents may now be unblocked.
                owner = self.nodes.get(r["uid"])
                if owner is not None and owner.deleting_dependents:
                    work.attempt_delete.add(owner.uid)
            for r in removed:
                owner = self.nodes.get(r["uid"])
                if owner is not None:
                    owner.dependents.discard(uid)
            node.owners = owners
            self._add_owners(node, added, work)
        node.deleting = deleting
        node.finalizers = finalizers
        if node.orphaning and not was_orphaning:
            work.orphan.add(uid)
        if node.deleting_dependents and not was_deleting_deps:
            work.attempt_delete.add(uid)
            work.attempt_delete.update(node.dependents)
        return work

    def _add_owners(self, node: Node, refs: list[dict[str, Any]], work: Work) -> None:
        for r in refs:
            owner = self.nodes.get(r["uid"])
            if owner is None:
                ns = node.namespace if self.namespaced_kind(r.get("apiVersion", ""), r.get("kind", "")) else ""
                owner = Node(r["uid"], r.get("apiVersion", ""), r.get("kind", ""), ns, r.get("name", ""), virtual=True)
                self.nodes[owner.uid] = owner
                work.attempt_delete.add(owner.uid)
            owner.dependents.add(node.uid)

    def forget(self, uid: str) -> Work:
        """An object is gone (deleted, or a virtual owner found absent)."""
        work = Work()
        node = self.nodes.pop(uid, None)
        if node is None:
            return work
        work.attempt_delete.update(node.dependents)
        for r in node.owners:
            owner = self.nodes.get(r["uid"])
            if owner is None:
                continue
            owner.dependents.discard(uid)
            if owner.deleting_dependents:
                work.attempt_delete.add(owner.uid)
            if owner.virtual and not owner.dependents:
                self.nodes.pop(owner.uid, None)
        if node.dependents:
            # Keep a virtual stand-in so the dependents can still find (and drop) their reference.
            self.nodes[uid] = Node(
                uid, node.api_version, node.kind, node.namespace, node.name, dependents=node.dependents, virtual=True
            )
        return work

    def deleted(self, obj: dict[str, Any]) -> Work:
        uid = (obj.get("metadata") or {}).get("uid", "")
        return self.forget(uid)
