"""The StatefulSet controller: pods with stable names and storage, created, replaced and removed in order.

Pod `<set>-<ordinal>` gets hostname `<set>-<ordinal>`, subdomain serviceName, the labels
`statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`, and one PersistentVolumeClaim
`<template>-<set>-<ordinal>` per volumeClaimTemplate (created before the pod, kept when the pod goes, unless the
retention policy says Delete). With OrderedReady, ordinal i+1 is created only once 0..i are Running and Ready, and
scale-down removes the highest ordinal first, one at a time; Parallel does both at once. Templates are stored as
ControllerRevisions; RollingUpdate replaces pods from the highest ordinal down to `partition`, one at a time,
waiting for each to be Ready again; OnDelete replaces only pods the user deletes. Status carries replica counts,
currentRevision/updateRevision (the revision names, also each pod's `controller-revision-hash`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers import history
from kybernetes.controllers.base import Controller, deepcopy
from kybernetes.controllers.owners import (
    ClaimManager,
    controller_ref,
    ensure_controller_index,
    owned_by,
    resolve_controller,
)
from kybernetes.controllers.pods import is_available, is_ready, is_terminal, meta, owner_reference, phase
from kybernetes.machinery.selectors import selector_from_object

log = logging.getLogger(__name__)

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal_of(set_name: str, pod: Obj) -> int | None:
    m = re.fullmatch(re.escape(set_name) + r"-(\d+)", meta(pod).get("name", ""))
    return int(m.group(1)) if m else None


def claim_name(template: dict[str, Any], set_name: str, ordinal: int) -> str:
    return f"{(template.get('metadata') or {}).get('name', '')}-{set_name}-{ordinal}"


def template_of(rev: Obj) -> dict[str, Any]:
    t = deepcopy(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
    t.pop("$patch", None)
    return t


def running_and_available(pod: Obj, mrs: int, now: float) -> bool:
    return phase(pod) == "Running" and not meta(pod).get("deletionTimestamp") and is_available(pod, mrs, now)


class StatefulSetController(Controller):
    name = "statefulset-controller"
    workers = 2

    def __init__(self, client: Client, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.sets = self.informer("apps", "v1", "statefulsets")
        self.pods = self.informer("", "v1", "pods")
        self.revisions = self.informer("apps", "v1", "controllerrevisions")
        self.claims = self.informer("", "v1", "persistentvolumeclaims")
        ensure_controller_index(self.pods)
        ensure_controller_index(self.revisions)
        self.watch_primary(self.sets)
        self.pods.add_handlers(
            Handlers(on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed)
        )

    def _pod_changed(self, pod: Obj) -> None:
        s = resolve_controller(self.sets, pod, "StatefulSet")
        if s is not None:
            self.enqueue(s)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        self._pod_changed(new)
        s = resolve_controller(self.sets, new, "StatefulSet")
        mrs = int(((s or {}).get("spec") or {}).get("minReadySeconds") or 0)
        if s is not None and mrs > 0 and is_ready(new) and not is_ready(old):
            self.enqueue_after(s, mrs + 0.5)

    def _path(self, sts: Obj, sub: str = "") -> str:
        m = meta(sts)
        return resource_path("apps", "v1", "statefulsets", namespace=m["namespace"], name=m["name"], subresource=sub or None)

    async def reconcile(self, key: str) -> float | None:
        cached = self.sets.get(key)
        if cached is None:
            return None
        sts = deepcopy(cached)
        if meta(sts).get("deletionTimestamp"):
            return None
        pods = await self._claim(sts)
        revs = history.owned_revisions(self.revisions, sts)
        sel = (sts.get("spec") or {}).get("selector") or {}
        status = sts.get("status") or {}
        update, others, collision = await history.current_revision(
            self.client, sts, revs, dict(sel.get("matchLabels") or {}), status.get("collisionCount")
        )
        current = next((r for r in revs if meta(r).get("name") == status.get("currentRevision")), None) or update
        again = await self._update_pods(sts, pods, current, update)
        pods = owned_by(self.pods, meta(sts)["uid"]) or pods
        live = {meta(current)["name"], meta(update)["name"]} | {
            (meta(p).get("labels") or {}).get(history.HASH_LABEL, "") for p in pods
        }
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        await history.truncate(self.client, [r for r in others if r is not current], live, 10 if limit is None else int(limit))
        mra = await self._update_status(sts, pods, current, update, collision)
        if mra is not None:
            again = mra if again is None else min(again, mra)
        return again

    async def _claim(self, sts: Obj) -> list[Obj]:
        ns = meta(sts)["namespace"]
        selector = selector_from_object((sts.get("spec") or {}).get("selector"))
        pool = {meta(p)["uid"]: p for p in self.pods.list(ns) if controller_ref(p) is None}
        for p in owned_by(self.pods, meta(sts)["uid"]):
            pool[meta(p)["uid"]] = p

        async def fresh() -> Obj | None:
            try:
                return await self.client.get(self._path(sts))
            except ApiError as e:
                if e.status == 404:
                    return None
                raise

        claimer = ClaimManager(
            self.client, sts, selector, lambda p: resource_path("", "v1", "pods", namespace=ns, name=meta(p)["name"]), fresh
        )
        return await claimer.claim(list(pool.values()))

    # ------------------------------------------------------------ pod shapes
    def _new_pod(self, sts: Obj, rev: Obj, ordinal: int) -> Obj:
        name = f"{meta(sts)['name']}-{ordinal}"
        tmpl = template_of(rev)
        tm = tmpl.get("metadata") or {}
        spec = tmpl.get("spec") or {}
        labels = {
            **(tm.get("labels") or {}),
            POD_NAME_LABEL: name,
            POD_INDEX_LABEL: str(ordinal),
            history.HASH_LABEL: meta(rev)["name"],
        }
        m: dict[str, Any] = {
            "name": name,
            "namespace": meta(sts)["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(sts)],
        }
        if tm.get("annotations"):
            m["annotations"] = dict(tm["annotations"])
        if tm.get("finalizers"):
            m["finalizers"] = list(tm["finalizers"])
        spec["hostname"] = name
        if (sts.get("spec") or {}).get("serviceName"):
            spec["subdomain"] = sts["spec"]["serviceName"]
        vcts = (sts.get("spec") or {}).get("volumeClaimTemplates") or []
        if vcts:
            claimed = {(v.get("metadata") or {}).get("name") for v in vcts}
            vols = [v for v in spec.get("volumes") or [] if v.get("name") not in claimed]
            for v in vcts:
                vols.append(
                    {
                        "name": (v.get("metadata") or {}).get("name"),
                        "persistentVolumeClaim": {"claimName": claim_name(v, meta(sts)["name"], ordinal)},
                    }
                )
            spec["volumes"] = vols
        return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec}

    async def _ensure_claims(self, sts: Obj, ordinal: int) -> None:
        ns = meta(sts)["namespace"]
        spec = sts.get("spec") or {}
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        for v in spec.get("volumeClaimTemplates") or []:
            name = claim_name(v, meta(sts)["name"], ordinal)
            if self.claims.get_by(ns, name) is not None:
                continue
            vm = v.get("metadata") or {}
            body: Obj = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {**(vm.get("labels") or {}), **((spec.get("selector") or {}).get("matchLabels") or {})},
                },
                "spec": deepcopy(v.get("spec") or {}),
            }
            if vm.get("annotations"):
                body["metadata"]["annotations"] = dict(vm["annotations"])
            if policy.get("whenDeleted") == "Delete":
                body["metadata"]["ownerReferences"] = [owner_reference(sts, controller=False)]
            try:
                await self.client.create(resource_path("", "v1", "persistentvolumeclaims", namespace=ns), body)
            except ApiError as e:
                if e.status != 409:
                    raise

    async def _create_pod(self, sts: Obj, rev: Obj, ordinal: int) -> None:
        await self._ensure_claims(sts, ordinal)
        try:
            await self.client.create(
                resource_path("", "v1", "pods", namespace=meta(sts)["namespace"]), self._new_pod(sts, rev, ordinal)
            )
        except ApiError as e:
            if e.status == 409:
                return
            if e.status == 403 and "being terminated" in str(e.body.get("message", "")):
                return
            self.recorder.event(sts, "Warning", "FailedCreate", f"create Pod {meta(sts)['name']}-{ordinal} failed: {e}")
            raise
        self.recorder.event(
            sts, "Normal", "SuccessfulCreate", f"create Pod {meta(sts)['name']}-{ordinal} in StatefulSet {meta(sts)['name']} successful"
        )

    async def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        try:
            await self.client.delete(
                resource_path("", "v1", "pods", namespace=meta(pod)["namespace"], name=meta(pod)["name"]),
                {"preconditions": {"uid": meta(pod)["uid"]}},
            )
        except ApiError as e:
            if e.status not in (404, 409):
                raise
        self.recorder.event(
            sts, "Normal", "SuccessfulDelete", f"delete Pod {meta(pod)['name']} in StatefulSet {meta(sts)['name']} successful"
        )

    # -------------------------------------------------------------- ordering
    async def _update_pods(self, sts: Obj, pods: list[Obj], current: Obj, update: Obj) -> float | None:
        spec = sts.get("spec") or {}
        name = meta(sts)["name"]
        replicas = 1 if spec.get("replicas") is None else int(spec["replicas"])
        start = int((spec.get("ordinals") or {}).get("start") or 0)
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        mrs = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        by_ord: dict[int, Obj] = {}
        for p in pods:
            o = ordinal_of(name, p)
            if o is not None:
                by_ord[o] = p
        wanted = range(start, start + replicas)
        condemned = sorted((o for o in by_ord if o not in wanted), reverse=True)
        pending_availability = False

        def revision_for(o: int) -> Obj:
            if rolling and meta(current)["name"] != meta(update)["name"] and o < start + partition:
                return current
            return update

        parallel_creates: list[int] = []
        for o in wanted:
            pod = by_ord.get(o)
            if pod is None:
                if ordered:
                    await self._create_pod(sts, revision_for(o), o)
                    return None
                parallel_creates.append(o)
                continue
            if is_terminal(pod):
                if not meta(pod).get("deletionTimestamp"):
                    await self._delete_pod(sts, pod)
                if ordered:
                    return None
                continue
            if ordered and meta(pod).get("deletionTimestamp"):
                return None
            if ordered and not running_and_available(pod, mrs, now):
                if mrs and phase(pod) == "Running" and is_ready(pod):
                    pending_availability = True
                return float(mrs) if pending_availability else None
        if parallel_creates:
            await asyncio.gather(*(self._create_pod(sts, revision_for(o), o) for o in parallel_creates))
        for o in condemned:
            pod = by_ord[o]
            if meta(pod).get("deletionTimestamp"):
                if ordered:
                    return None
                continue
            if ordered and any(
                not running_and_available(by_ord[x], mrs, now) for x in wanted if x in by_ord and x < o
            ):
                return None
            await self._delete_pod(sts, pod)
            if ordered:
                return None
        if not rolling:
            return None
        if not all(o in by_ord and running_and_available(by_ord[o], mrs, now) for o in wanted):
            return None
        upd = meta(update)["name"]
        for o in sorted(wanted, reverse=True):
            if o < start + partition:
                break
            pod = by_ord[o]
            if (meta(pod).get("labels") or {}).get(history.HASH_LABEL) != upd:
                await self._delete_pod(sts, pod)
                return None
        return None

    async def _update_status(
        self, sts: Obj, pods: list[Obj], current: Obj, update: Obj, collision: int | None
    ) -> float | None:
        spec = sts.get("spec") or {}
        mrs = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        cur_name, upd_name = meta(current)["name"], meta(update)["name"]
        counted = [p for p in pods if not meta(p).get("deletionTimestamp")]
        ready = [p for p in counted if phase(p) == "Running" and is_ready(p)]
        available = [p for p in ready if is_available(p, mrs, now)]
        rev_of = [(meta(p).get("labels") or {}).get(history.HASH_LABEL) for p in counted]
        st: dict[str, Any] = {
            "observedGeneration": meta(sts).get("generation", 1),
            "replicas": len(counted),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "currentReplicas": sum(1 for r in rev_of if r == cur_name),
            "updatedReplicas": sum(1 for r in rev_of if r == upd_name),
            "currentRevision": cur_name,
            "updateRevision": upd_name,
            "collisionCount": collision or 0,
        }
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        if rolling and st["updatedReplicas"] == st["replicas"] and st["readyReplicas"] == st["replicas"]:
            st["currentRevision"] = upd_name
            st["currentReplicas"] = st["updatedReplicas"]
        old = sts.get("status") or {}
        if old.get("conditions"):
            st["conditions"] = old["conditions"]
        st = {k: v for k, v in st.items() if v or k in ("replicas", "availableReplicas", "collisionCount")}
        if st != old:
            body = deepcopy(sts)
            body["status"] = st
            try:
                await self.client.update(self._path(sts, "status"), body)
            except ApiError as e:
                if e.status != 404:
                    raise
        return float(mrs) if len(ready) > len(available) else None

