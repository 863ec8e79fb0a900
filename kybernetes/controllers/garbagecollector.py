"""The garbage collector: deletes objects whose owners are gone, and carries out foreground and orphan deletion.

It watches every listable resource (rediscovering every 30 s, so custom resources are covered) and keeps the
owner graph of `gcgraph`. Three things follow from ownerReferences, as upstream:

* background: once every owner of an object is gone (checked with a live read, never from a possibly stale
  cache), the object is deleted;
* foreground: an owner deleted with propagationPolicy=Foreground carries the `foregroundDeletion` finalizer; its
  dependents are deleted, and once no dependent with blockOwnerDeletion=true remains the finalizer is removed;
* orphan: an owner deleted with propagationPolicy=Orphan carries the `orphan` finalizer; its reference is removed
  from every dependent, then the finalizer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers.base import Controller
from kybernetes.controllers.discovery import APIResource, discover, group_of
from kybernetes.controllers.gcgraph import FOREGROUND, ORPHAN, Graph, Node, Work

log = logging.getLogger(__name__)

IGNORED = {("", "events"), ("events.k8s.io", "events")}
ABSENT_CACHE = 10000


class UnknownKind(Exception):
    pass


class GarbageCollector(Controller):
    name = "garbage-collector"
    workers = 8

    def __init__(self, client: Client, informers: InformerFactory, rediscovery_period: float = 30.0) -> None:
        super().__init__(client, informers)
        self.rediscovery_period = rediscovery_period
        self.graph = Graph(self._namespaced_kind)
        self.kinds: dict[tuple[str, str], APIResource] = {}
        self.monitored: set[tuple[str, str]] = set()
        self._absent: OrderedDict[str, None] = OrderedDict()

    # --------------------------------------------------------------- wiring
    def _namespaced_kind(self, api_version: str, kind: str) -> bool:
        r = self.kinds.get((group_of(api_version), kind))
        return True if r is None else r.namespaced

    async def start(self) -> None:
        await self._rediscover()
        for inf in self._watched:
            try:
                await inf.wait_synced(30.0)
            except TimeoutError:
                log.warning("garbage collector: %s did not sync; continuing", inf.path)
        for i in range(self.workers):
            self.spawn(self._worker(), f"worker-{i}")
        self.spawn(self._rediscovery_loop(), "rediscovery")

    async def _rediscovery_loop(self) -> None:
        while True:
            await asyncio.sleep(self.rediscovery_period)
            try:
                await self._rediscover()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("garbage collector: discovery failed: %s", e)

    async def _rediscover(self) -> None:
        for r in await discover(self.client):
            self.kinds[(r.group, r.kind)] = r
            key = (r.group, r.resource)
            if key in self.monitored or key in IGNORED or not {"list", "watch", "delete"} <= r.verbs:
                continue
            self.monitored.add(key)
            inf = self.informer(r.group, r.version, r.resource)
            inf.add_handlers(
                Handlers(on_add=self._observed, on_update=lambda _o, n: self._observed(n), on_delete=self._gone)
            )

    def _observed(self, obj: Obj) -> None:
        self._enqueue(self.graph.observe(obj))

    def _gone(self, obj: Obj) -> None:
        self._enqueue(self.graph.deleted(obj))

    def _enqueue(self, work: Work) -> None:
        for uid in work.attempt_delete:
            self.queue.add(f"delete/{uid}")
        for uid in work.orphan:
            self.queue.add(f"orphan/{uid}")

    # ------------------------------------------------------------- plumbing
    def _resource(self, api_version: str, kind: str) -> APIResource:
        r = self.kinds.get((group_of(api_version), kind))
        if r is None:
            raise UnknownKind(f"no resource for {api_version} {kind}")
        return r

    def _path(self, api_version: str, kind: str, namespace: str, name: str) -> str:
        r = self._resource(api_version, kind)
        return resource_path(r.group, r.version, r.resource, namespace=namespace if r.namespaced else None, name=name)

    async def _get(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(self._path(api_version, kind, namespace, name))
        except ApiError as e:
            if e.status in (404, 410):
                return None
            raise

    def _note_absent(self, uid: str) -> None:
        self._absent[uid] = None
        self._absent.move_to_end(uid)
        while len(self._absent) > ABSENT_CACHE:
            self._absent.popitem(last=False)

    async def _patch_live(self, node: Node, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Read-modify-write of one object's metadata with its resourceVersion as precondition."""
        for _ in range(5):
            cur = await self._get(node.api_version, node.kind, node.namespace, node.name)
            if cur is None or (cur.get("metadata") or {}).get("uid") != node.uid:
                return
            meta_patch = change(cur.get("metadata") or {})
            if meta_patch is None:
                return
            meta_patch["resourceVersion"] = cur["metadata"]["resourceVersion"]
            try:
                await self.client.patch(self._path(node.api_version, node.kind, node.namespace, node.name), {"metadata": meta_patch})
                return
            except ApiError as e:
                if e.status == 404:
                    return
                if e.status != 409:
                    raise
        raise RuntimeError(f"could not update {node.kind} {node.namespace}/{node.name}: conflicts")

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        def change(m: dict[str, Any]) -> dict[str, Any] | None:
            fins = list(m.get("finalizers") or [])
            if finalizer not in fins:
                return None
            return {"finalizers": [f for f in fins if f != finalizer]}

        await self._patch_live(node, change)

    async def _drop_owner_refs(self, node: Node, uids: set[str]) -> None:
        def change(m: dict[str, Any]) -> dict[str, Any] | None:
            refs = list(m.get("ownerReferences") or [])
            keep = [r for r in refs if r.get("uid") not in uids]
            if len(keep) == len(refs):
                return None
            return {"ownerReferences": keep or None}

        await self._patch_live(node, change)

    async def _unblock_owner_refs(self, node: Node, uids: set[str]) -> None:
        def change(m: dict[str, Any]) -> dict[str, Any] | None:
            refs = [dict(r) for r in m.get("ownerReferences") or []]
            hit = False
            for r in refs:
                if r.get("uid") in uids and r.get("blockOwnerDeletion"):
                    r["blockOwnerDeletion"] = False
                    hit = True
            return {"ownerReferences": refs} if hit else None

        await self._patch_live(node, change)

    # ------------------------------------------------------------ reconcile
    async def reconcile(self, key: str) -> float | None:
        what, _, uid = key.partition("/")
        node = self.graph.get(uid)
        if node is None:
            return None
        if what == "orphan":
            await self._orphan(node)
        else:
            await self._attempt_delete(node)
        return None

    async def _orphan(self, owner: Node) -> None:
        for d_uid in list(owner.dependents):
            dep = self.graph.get(d_uid)
            if dep is not None and not dep.virtual:
                await self._drop_owner_refs(dep, {owner.uid})
        await self._remove_finalizer(owner, ORPHAN)

    async def _attempt_delete(self, node: Node) -> None:
        if node.deleting and not node.deleting_dependents:
            return
        try:
            latest = await self._get(node.api_version, node.kind, node.namespace, node.name)
        except UnknownKind:
            log.debug("garbage collector: unknown kind %s %s", node.api_version, node.kind)
            return
        if latest is None or (latest.get("metadata") or {}).get("uid") != node.uid:
            self._note_absent(node.uid)
            self._enqueue(self.graph.forget(node.uid))
            return
        if node.deleting_dependents:
            await self._deleting_dependents(node)
            return
        m = latest.get("metadata") or {}
        refs = [r for r in m.get("ownerReferences") or [] if r.get("uid")]
        if not refs:
            return
        solid, dangling, waiting = await self._classify(refs, m.get("namespace", ""))
        if solid:
            if dangling or waiting:
                await self._drop_owner_refs(node, dangling | waiting)
            return
        if waiting and node.dependents:
            for d_uid in node.dependents:
                dep = self.graph.get(d_uid)
                if dep is not None and dep.deleting_dependents:
                    # A cycle of foreground deletions: stop blocking our owners so they can finish.
                    await self._unblock_owner_refs(node, waiting)
                    break
            await self._delete(node, latest, "Foreground")
            return
        fins = m.get("finalizers") or []
        policy = "Orphan" if ORPHAN in fins else "Foreground" if FOREGROUND in fins else "Background"
        await self._delete(node, latest, policy)

    async def _delete(self, node: Node, latest: Obj, policy: str) -> None:
        log.info("garbage collector: deleting %s %s/%s (%s)", node.kind, node.namespace, node.name, policy)
        try:
            await self.client.delete(
                self._path(node.api_version, node.kind, node.namespace, node.name),
                {"propagationPolicy": policy, "preconditions": {"uid": node.uid}},
            )
        except ApiError as e:
            if e.status not in (404, 409):
                raise

    async def _classify(self, refs: list[dict[str, Any]], namespace: str) -> tuple[set[str], set[str], set[str]]:
        solid: set[str] = set()
        dangling: set[str] = set()
        waiting: set[str] = set()
        for r in refs:
            uid = r["uid"]
            if uid in self._absent:
                dangling.add(uid)
                continue
            known = self.graph.get(uid)
            if known is not None and not known.virtual:
                (waiting if known.deleting_dependents else solid).add(uid)
                continue
            try:
                owner = await self._get(r.get("apiVersion", ""), r.get("kind", ""), namespace, r.get("name", ""))
            except UnknownKind:
                solid.add(uid)  # cannot tell: never collect on a guess
                continue
            om = (owner or {}).get("metadata") or {}
            if owner is None or om.get("uid") != uid:
                self._note_absent(uid)
                dangling.add(uid)
            elif om.get("deletionTimestamp") and FOREGROUND in (om.get("finalizers") or []):
                waiting.add(uid)
            else:
                solid.add(uid)
        return solid, dangling, waiting

    async def _deleting_dependents(self, owner: Node) -> None:
        blocking = self.graph.blocking_dependents(owner)
        if not blocking:
            await self._remove_finalizer(owner, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.queue.add(f"delete/{dep.uid}")
