"""The DaemonSet controller: exactly one daemon pod on every node that should run one.

A node should run the pod when the template's nodeSelector and required node affinity select it and it has no
NoSchedule/NoExecute taint the pod does not tolerate; daemon pods get upstream's default tolerations (not-ready,
unreachable, pressure, unschedulable) so they stay through node trouble. Each pod is created pinned to its node by
node affinity on metadata.name, so the scheduler binds it there like upstream (no nodeName shortcut). Pods on
nodes that should no longer run one (a NoExecute taint not tolerated, a label change) are deleted; a node added
later gets its pod on the next sync. RollingUpdate replaces old pods within maxUnavailable (or creates surge pods
first with maxSurge); OnDelete waits for the user. Templates are recorded as ControllerRevisions, and pods carry
`controller-revision-hash` and `pod-template-generation`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj, meta_key
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers import history
from kybernetes.controllers.base import Controller, Expectations, deepcopy
from kybernetes.controllers.deployutil import scaled_value
from kybernetes.controllers.nodematch import node_taints, selects_node, target_node, untolerated
from kybernetes.controllers.owners import (
    ClaimManager,
    controller_ref,
    ensure_controller_index,
    owned_by,
    resolve_controller,
)
from kybernetes.controllers.pods import is_available, is_ready, is_terminal, meta, pod_from_template, ts
from kybernetes.controllers.replicaset import SlowStartError, slow_start_batch
from kybernetes.machinery.selectors import selector_from_object

log = logging.getLogger(__name__)

TEMPLATE_GENERATION = "pod-template-generation"
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
NETWORK_UNAVAILABLE = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def daemon_tolerations(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    tols = [dict(t) for t in pod_spec.get("tolerations") or []]
    extra = DEFAULT_TOLERATIONS + ([NETWORK_UNAVAILABLE] if pod_spec.get("hostNetwork") else [])
    for t in extra:
        if not any(x.get("key") == t["key"] and x.get("effect") == t["effect"] for x in tols):
            tols.append(dict(t))
    return tols


def pin_to_node(pod_spec: dict[str, Any], node: str) -> None:
    """upstream ReplaceDaemonSetPodNodeNameNodeAffinity: the required terms become just metadata.name In [node]."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    aff = pod_spec.setdefault("affinity", {})
    na = aff.setdefault("nodeAffinity", {})
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is None:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    else:
        req["nodeSelectorTerms"] = [term]


def should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """(should run a new pod here, may an existing pod keep running here)."""
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    if spec.get("nodeName") and spec["nodeName"] != meta(node).get("name"):
        return False, False
    if not selects_node(spec, node):
        return False, False
    tols = daemon_tolerations(spec)
    taints = node_taints(node)
    if untolerated(taints, tols, ("NoExecute",)):
        return False, False
    if untolerated(taints, tols, ("NoSchedule",)):
        return False, True
    return True, True


class DaemonSetController(Controller):
    name = "daemonset-controller"
    workers = 2
    burst = 250

    def __init__(self, client: Client, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.expectations = Expectations()
        self.daemonsets = self.informer("apps", "v1", "daemonsets")
        self.nodes = self.informer("", "v1", "nodes")
        self.pods = self.informer("", "v1", "pods")
        self.revisions = self.informer("apps", "v1", "controllerrevisions")
        ensure_controller_index(self.pods)
        ensure_controller_index(self.revisions)
        self.daemonsets.add_handlers(
            Handlers(on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n), on_delete=self._ds_deleted)
        )
        self.nodes.add_handlers(Handlers(on_add=self._node_changed, on_update=self._node_updated, on_delete=self._node_changed))
        self.pods.add_handlers(Handlers(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted))

    # ------------------------------------------------------------- handlers
    def _ds_deleted(self, ds: Obj) -> None:
        self.expectations.forget(meta_key(ds))

    def _node_changed(self, node: Obj) -> None:
        for ds in self.daemonsets.list():
            self.enqueue(ds)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if (
            meta(old).get("labels") != meta(new).get("labels")
            or (old.get("spec") or {}).get("taints") != (new.get("spec") or {}).get("taints")
        ):
            self._node_changed(new)

    def _pod_added(self, pod: Obj) -> None:
        ds = resolve_controller(self.daemonsets, pod, "DaemonSet")
        if ds is not None:
            self.expectations.creation_observed(meta_key(ds))
            self.enqueue(ds)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        ds = resolve_controller(self.daemonsets, new, "DaemonSet")
        if ds is None:
            return
        if meta(new).get("deletionTimestamp") and not meta(old).get("deletionTimestamp"):
            self.expectations.deletion_observed(meta_key(ds), meta(new).get("uid", ""))
        self.enqueue(ds)
        mrs = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if mrs > 0 and is_ready(new) and not is_ready(old):
            self.enqueue_after(ds, mrs + 0.5)

    def _pod_deleted(self, pod: Obj) -> None:
        ds = resolve_controller(self.daemonsets, pod, "DaemonSet")
        if ds is not None:
            self.expectations.deletion_observed(meta_key(ds), meta(pod).get("uid", ""))
            self.enqueue(ds)

    # ------------------------------------------------------------ reconcile
    def _path(self, ds: Obj, sub: str = "") -> str:
        return resource_path(
            "apps", "v1", "daemonsets", namespace=meta(ds)["namespace"], name=meta(ds)["name"], subresource=sub or None
        )

    async def reconcile(self, key: str) -> float | None:
        cached = self.daemonsets.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        ds = deepcopy(cached)
        if meta(ds).get("deletionTimestamp"):
            return None
        pods = await self._claim(ds)
        sel = (ds.get("spec") or {}).get("selector") or {}
        revs = history.owned_revisions(self.revisions, ds)
        cur, others, collision = await history.current_revision(
            self.client, ds, revs, dict(sel.get("matchLabels") or {}), (ds.get("status") or {}).get("collisionCount")
        )
        h = (meta(cur).get("labels") or {}).get(history.HASH_LABEL, "")
        by_node: dict[str, list[Obj]] = {}
        for p in pods:
            by_node.setdefault(target_node(p), []).append(p)
        nodes = {meta(n)["name"]: n for n in self.nodes.list()}
        again: float | None = None
        if self.expectations.satisfied(key):
            await self._manage(key, ds, nodes, by_node, h)
            strat = (ds.get("spec") or {}).get("updateStrategy") or {}
            # Like upstream, replace old pods only in a sync where nothing else was in flight.
            if strat.get("type", "RollingUpdate") == "RollingUpdate" and self.expectations.satisfied(key):
                again = await self._rolling_update(key, ds, nodes, by_node, h)
        live = {(meta(p).get("labels") or {}).get(history.HASH_LABEL, "") for p in pods} | {h}
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        await history.truncate(self.client, others, live, 10 if limit is None else int(limit))
        mra = await self._update_status(ds, nodes, by_node, h, collision)
        if mra is not None:
            again = mra if again is None else min(again, mra)
        return again

    async def _claim(self, ds: Obj) -> list[Obj]:
        ns = meta(ds)["namespace"]
        selector = selector_from_object((ds.get("spec") or {}).get("selector"))
        pool = {meta(p)["uid"]: p for p in self.pods.list(ns) if controller_ref(p) is None}
        for p in owned_by(self.pods, meta(ds)["uid"]):
            pool[meta(p)["uid"]] = p

        async def fresh() -> Obj | None:
            try:
                return await self.client.get(self._path(ds))
            except ApiError as e:
                if e.status == 404:
                    return None
                raise

        claims = ClaimManager(
            self.client, ds, selector, lambda p: resource_path("", "v1", "pods", namespace=ns, name=meta(p)["name"]), fresh
        )
        return await claims.claim(list(pool.values()))

    async def _manage(self, key: str, ds: Obj, nodes: dict[str, Obj], by_node: dict[str, list[Obj]], h: str) -> None:
        create_on: list[str] = []
        delete: list[Obj] = []
        for name, node in nodes.items():
            run, keep = should_run(ds, node)
            everything = by_node.get(name, [])
            here = [p for p in everything if not meta(p).get("deletionTimestamp")]
            if run and not everything:
                create_on.append(name)
            elif keep:
                # Failed pods go (a fresh one follows on the next sync); of several running pods the oldest stays.
                failed = [p for p in here if (p.get("status") or {}).get("phase") == "Failed"]
                delete.extend(failed)
                alive = sorted((p for p in here if p not in failed), key=lambda p: ts(meta(p).get("creationTimestamp")))
                if len(alive) > 1:
                    updated = [p for p in alive if (meta(p).get("labels") or {}).get(history.HASH_LABEL) == h]
                    surge = bool(updated) and int(self._max_surge(ds, len(nodes))) > 0
                    if not surge:
                        delete.extend(alive[1:])
            else:
                delete.extend(here)
        for name, pods in by_node.items():
            if name and name not in nodes:
                delete.extend(p for p in pods if not (p.get("spec") or {}).get("nodeName") and not meta(p).get("deletionTimestamp"))
        await self._sync_nodes(key, ds, create_on[: self.burst], delete[: self.burst], h)

    async def _sync_nodes(self, key: str, ds: Obj, create_on: list[str], delete: list[Obj], h: str) -> None:
        ns = meta(ds)["namespace"]
        self.expectations.expect_creations(key, len(create_on))
        self.expectations.expect_deletions(key, [meta(p)["uid"] for p in delete])
        todo = list(create_on)
        gen = meta(ds).get("generation", 1)

        async def create() -> None:
            node = todo.pop()
            pod = pod_from_template((ds.get("spec") or {}).get("template") or {}, ds, f"{meta(ds)['name']}-")
            pod["metadata"]["labels"][history.HASH_LABEL] = h
            pod["metadata"]["labels"][TEMPLATE_GENERATION] = str(gen)
            pod["spec"]["tolerations"] = daemon_tolerations(pod["spec"])
            pin_to_node(pod["spec"], node)
            try:
                await self.client.create(resource_path("", "v1", "pods", namespace=ns), pod)
            except ApiError as e:
                if e.status == 403 and "being terminated" in str(e.body.get("message", "")):
                    return
                raise

        async def remove(pod: Obj) -> None:
            try:
                await self.client.delete(
                    resource_path("", "v1", "pods", namespace=ns, name=meta(pod)["name"]),
                    {"preconditions": {"uid": meta(pod)["uid"]}},
                )
            except ApiError as e:
                self.expectations.deletion_observed(key, meta(pod)["uid"])
                if e.status not in (404, 409):
                    raise

        errors: list[BaseException] = []
        if create_on:
            try:
                n = await slow_start_batch(len(create_on), create)
                self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created {n} daemon pod(s)")
            except SlowStartError as e:
                self.expectations.lower_creations(key, len(create_on) - e.succeeded)
                errors.append(e.cause)
        if delete:
            results = await asyncio.gather(*(remove(p) for p in delete), return_exceptions=True)
            errors.extend(r for r in results if isinstance(r, BaseException))
            self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted {len(delete)} daemon pod(s)")
        if errors:
            raise errors[0]

    def _max_surge(self, ds: Obj, desired: int) -> int:
        ru = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
        return scaled_value(ru.get("maxSurge", 0), desired, True)

    async def _rolling_update(
        self, key: str, ds: Obj, nodes: dict[str, Obj], by_node: dict[str, list[Obj]], h: str
    ) -> float | None:
        spec = ds.get("spec") or {}
        mrs = int(spec.get("minReadySeconds") or 0)
        eligible = [n for n, node in nodes.items() if should_run(ds, node)[0]]
        desired = len(eligible)
        ru = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = scaled_value(ru.get("maxUnavailable", 1), desired, True)
        max_surge = self._max_surge(ds, desired)
        if max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        now = time.time()
        unavailable = 0
        replaceable: list[Obj] = []
        candidates: list[Obj] = []
        surge_nodes: list[str] = []
        to_delete: list[Obj] = []
        for name in eligible:
            here = [p for p in by_node.get(name, []) if not meta(p).get("deletionTimestamp") and not is_terminal(p)]
            if not here:
                unavailable += 1  # its replacement is still on the way
                continue
            new = [p for p in here if (meta(p).get("labels") or {}).get(history.HASH_LABEL) == h]
            old = [p for p in here if p not in new]
            if max_surge > 0:
                if old and not new:
                    surge_nodes.append(name)
                elif old and any(is_available(p, mrs, now) for p in new):
                    to_delete.extend(old)
                continue
            if (new and old) or not (new or old):
                unavailable += 1  # the manage pass is still sorting this node out
            elif new:
                if not is_available(new[0], mrs, now):
                    unavailable += 1
            elif not is_available(old[0], mrs, now):
                replaceable.append(old[0])
            elif unavailable < max_unavailable:
                candidates.append(old[0])
        if max_surge > 0:
            in_flight = sum(1 for n in eligible if len([p for p in by_node.get(n, []) if not is_terminal(p)]) > 1)
            surge_nodes = surge_nodes[: max(max_surge - in_flight + len(to_delete), 0)]
            await self._sync_nodes(key, ds, surge_nodes, to_delete, h)
            return None
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        to_delete = replaceable + candidates[:room]
        if to_delete:
            await self._sync_nodes(key, ds, [], to_delete, h)
        return float(mrs) if mrs and unavailable else None

    async def _update_status(
        self, ds: Obj, nodes: dict[str, Obj], by_node: dict[str, list[Obj]], h: str, collision: int | None
    ) -> float | None:
        mrs = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = time.time()
        desired = scheduled = misscheduled = ready = available = updated = 0
        pending_availability = False
        for name, node in nodes.items():
            run, _keep = should_run(ds, node)
            here = [p for p in by_node.get(name, []) if not meta(p).get("deletionTimestamp")]
            if run:
                desired += 1
                if here:
                    scheduled += 1
                    p = sorted(here, key=lambda p: ts(meta(p).get("creationTimestamp")))[0]
                    if is_ready(p):
                        ready += 1
                        if is_available(p, mrs, now):
                            available += 1
                        else:
                            pending_availability = True
                    if (meta(p).get("labels") or {}).get(history.HASH_LABEL) == h:
                        updated += 1
            elif here:
                misscheduled += 1
        st: dict[str, Any] = {
            "currentNumberScheduled": scheduled,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "observedGeneration": meta(ds).get("generation", 1),
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
        }
        if collision:
            st["collisionCount"] = collision
        old = ds.get("status") or {}
        if old.get("conditions"):
            st["conditions"] = old["conditions"]
        st = {k: v for k, v in st.items() if v or k in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")}
        if st != old:
            body = deepcopy(ds)
            body["status"] = st
            try:
                await self.client.update(self._path(ds, "status"), body)
            except ApiError as e:
                if e.status != 404:
                    raise
        return float(mrs) if pending_availability else None
