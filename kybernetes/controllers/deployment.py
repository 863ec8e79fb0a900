"""The Deployment controller: one ReplicaSet per pod template, rolled from old to new within the surge and
unavailability budget, with the status and revision annotations `kubectl rollout` reads.

Each template gets a ReplicaSet `<deployment>-<pod-template-hash>` owned by the Deployment; the newest carries the
highest `deployment.kubernetes.io/revision`, which is mirrored on the Deployment (so `rollout undo` to a template
seen before revives that ReplicaSet under a new revision). RollingUpdate scales the new set up while the total may
stay within replicas+maxSurge and scales old sets down while availability stays above replicas-maxUnavailable;
Recreate empties the old sets first. A change of replicas mid-rollout is spread proportionally over the active sets
(the desired-replicas/max-replicas annotations). Paused deployments only scale; old sets beyond
revisionHistoryLimit are deleted. Status: observedGeneration, the replica counts, and the Available and
Progressing conditions including ProgressDeadlineExceeded. Mirrors upstream `pkg/controller/deployment`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers import deployutil as du
from kybernetes.controllers.base import Controller, deepcopy
from kybernetes.controllers.owners import (
    ClaimManager,
    controller_ref,
    ensure_controller_index,
    owned_by,
    resolve_controller,
)
from kybernetes.controllers.pods import is_terminal, meta, owner_reference, ts
from kybernetes.machinery.selectors import selector_from_object

log = logging.getLogger(__name__)


class _Sync:
    """The ReplicaSets of one deployment during one sync, updated in place as we write them."""

    def __init__(self, d: Obj, rss: list[Obj]) -> None:
        self.d = d
        self.rss = {meta(r)["name"]: r for r in rss}

    def put(self, rs: Obj) -> Obj:
        self.rss[meta(rs)["name"]] = rs
        return rs

    def all(self) -> list[Obj]:
        return list(self.rss.values())


class DeploymentController(Controller):
    name = "deployment-controller"
    workers = 4

    def __init__(self, client: Client, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.deployments = self.informer("apps", "v1", "deployments")
        self.replicasets = self.informer("apps", "v1", "replicasets")
        self.pods = self.informer("", "v1", "pods")
        ensure_controller_index(self.replicasets)
        ensure_controller_index(self.pods)
        self.watch_primary(self.deployments)
        self.replicasets.add_handlers(
            Handlers(on_add=self._rs_changed, on_update=self._rs_updated, on_delete=self._rs_changed)
        )
        self.pods.add_handlers(Handlers(on_delete=self._pod_deleted))

    # ------------------------------------------------------------- handlers
    def _rs_changed(self, rs: Obj) -> None:
        d = resolve_controller(self.deployments, rs, "Deployment")
        if d is not None:
            self.enqueue(d)
        elif controller_ref(rs) is None:
            labels = meta(rs).get("labels") or {}
            for d in self.deployments.list(meta(rs).get("namespace", "")):
                sel = (d.get("spec") or {}).get("selector")
                if sel and selector_from_object(sel).matches(labels):
                    self.enqueue(d)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref and (not new_ref or old_ref.get("uid") != new_ref.get("uid")):
            self._rs_changed(old)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        """Recreate waits for every old pod to be gone."""
        rs = resolve_controller(self.replicasets, pod, "ReplicaSet")
        if rs is None:
            return
        d = resolve_controller(self.deployments, rs, "Deployment")
        if d is not None and not du.is_rolling(d):
            self.enqueue(d)

    # --------------------------------------------------------------- writes
    def _rs_path(self, ns: str, name: str = "") -> str:
        return resource_path("apps", "v1", "replicasets", namespace=ns, name=name or None)

    def _d_path(self, d: Obj, sub: str = "") -> str:
        m = meta(d)
        return resource_path("apps", "v1", "deployments", namespace=m["namespace"], name=m["name"], subresource=sub or None)

    async def _update_rs(self, s: _Sync, rs: Obj) -> Obj:
        out = await self.client.update(self._rs_path(meta(rs)["namespace"], meta(rs)["name"]), rs)
        return s.put(out)

    async def _scale_rs(self, s: _Sync, rs: Obj, new_scale: int, operation: str = "") -> tuple[bool, Obj]:
        d = s.d
        want = du.replicas(d)
        max_r = want + du.max_surge(d)
        size_change = du.rs_replicas(rs) != new_scale
        if not size_change and not du.replicas_annotations_need_update(rs, want, max_r):
            return False, rs
        old_size = du.rs_replicas(rs)
        cp = deepcopy(rs)
        cp.setdefault("spec", {})["replicas"] = new_scale
        du.set_replicas_annotations(cp, want, max_r)
        out = await self._update_rs(s, cp)
        if size_change:
            verb = operation or ("up" if new_scale > old_size else "down")
            self.recorder.event(
                d, "Normal", "ScalingReplicaSet",
                f"Scaled {verb} replica set {meta(rs)['name']} from {old_size} to {new_scale}",
            )
        return size_change, out

    async def _update_status(self, d: Obj, status: dict[str, Any]) -> None:
        if status == (d.get("status") or {}):
            return
        body = deepcopy(d)
        body["status"] = status
        out = await self.client.update(self._d_path(d, "status"), body)
        d["status"] = out.get("status", status)
        d["metadata"] = out.get("metadata", d["metadata"])

    async def _set_revision(self, d: Obj, rev: str) -> None:
        if (meta(d).get("annotations") or {}).get(du.REVISION) == rev:
            return
        out = await self.client.patch(self._d_path(d), {"metadata": {"annotations": {du.REVISION: rev}}})
        d["metadata"] = out.get("metadata", d["metadata"])

    # ------------------------------------------------------------ reconcile
    async def reconcile(self, key: str) -> float | None:
        cached = self.deployments.get(key)
        if cached is None:
            return None
        d = deepcopy(cached)
        spec = d.get("spec") or {}
        sel = spec.get("selector")
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            self.recorder.event(d, "Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
            st = dict(d.get("status") or {})
            st["observedGeneration"] = meta(d).get("generation", 1)
            await self._update_status(d, st)
            return None
        rss = await self._claim_replicasets(d)
        s = _Sync(d, rss)
        if meta(d).get("deletionTimestamp"):
            await self._sync_status_only(s)
            return None
        await self._check_paused(d)
        if spec.get("paused"):
            await self._sync(s)
            return None
        if await self._is_scaling_event(s):
            await self._sync(s)
            return None
        if du.is_rolling(d):
            return await self._rollout_rolling(s)
        return await self._rollout_recreate(s)

    async def _claim_replicasets(self, d: Obj) -> list[Obj]:
        ns = meta(d)["namespace"]
        selector = selector_from_object((d.get("spec") or {}).get("selector"))
        pool: dict[str, Obj] = {}
        for rs in self.replicasets.list(ns):
            if controller_ref(rs) is None:
                pool[meta(rs)["uid"]] = rs
        for rs in owned_by(self.replicasets, meta(d)["uid"]):
            pool[meta(rs)["uid"]] = rs

        async def fresh() -> Obj | None:
            try:
                return await self.client.get(self._d_path(d))
            except ApiError as e:
                if e.status == 404:
                    return None
                raise

        claims = ClaimManager(self.client, d, selector, lambda rs: self._rs_path(ns, meta(rs)["name"]), fresh)
        return [deepcopy(rs) for rs in await claims.claim(list(pool.values()))]

    # ------------------------------------------------------------ new RS
    def _find_new(self, s: _Sync) -> Obj | None:
        template = (s.d.get("spec") or {}).get("template")
        for rs in du.by_creation(s.all()):
            if du.equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
                return rs
        return None

    async def _get_all(self, s: _Sync, create: bool) -> tuple[Obj | None, list[Obj]]:
        new = self._find_new(s)
        olds = [rs for rs in s.all() if new is None or meta(rs)["uid"] != meta(new)["uid"]]
        new = await self._get_new(s, new, olds, create)
        return new, olds

    async def _get_new(self, s: _Sync, existing: Obj | None, olds: list[Obj], create: bool) -> Obj | None:
        d = s.d
        new_revision = du.max_revision(olds) + 1
        spec = d.get("spec") or {}
        mrs = spec.get("minReadySeconds") or 0
        if existing is not None:
            cp = deepcopy(existing)
            changed = du.set_new_rs_annotations(d, cp, new_revision, True)
            if ((cp.get("spec") or {}).get("minReadySeconds") or 0) != mrs:
                cp["spec"]["minReadySeconds"] = mrs
                changed = True
            if changed:
                cp = await self._update_rs(s, cp)
            await self._set_revision(d, (meta(cp).get("annotations") or {}).get(du.REVISION, ""))
            st = dict(d.get("status") or {})
            if du.progress_deadline(d) is not None and du.get_condition(st, "Progressing") is None:
                du.set_condition(
                    st,
                    du.new_condition("Progressing", "True", du.FOUND_NEW_RS, f'Found new replica set "{meta(cp)["name"]}"'),
                )
                await self._update_status(d, st)
            return cp
        if not create:
            return None
        collision = (d.get("status") or {}).get("collisionCount")
        template = deepcopy(spec.get("template") or {})
        h = du.template_hash(template, collision)
        tm = template.setdefault("metadata", {})
        tm["labels"] = {**(tm.get("labels") or {}), du.HASH_LABEL: h}
        sel = deepcopy(spec.get("selector") or {})
        sel["matchLabels"] = {**(sel.get("matchLabels") or {}), du.HASH_LABEL: h}
        ns = meta(d)["namespace"]
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta(d)['name']}-{h}",
                "namespace": ns,
                "labels": dict(tm["labels"]),
                "ownerReferences": [owner_reference(d)],
            },
            "spec": {"replicas": 0, "minReadySeconds": mrs, "selector": sel, "template": template},
        }
        rs["spec"]["replicas"] = du.new_rs_new_replicas(d, [*olds, rs], rs)
        du.set_new_rs_annotations(d, rs, new_revision, False)
        try:
            created = await self.client.create(self._rs_path(ns), rs)
        except ApiError as e:
            if e.status == 409:
                return await self._create_conflict(s, rs)
            st = dict(d.get("status") or {})
            du.set_condition(st, du.new_condition("Progressing", "False", du.FAILED_RS_CREATE, str(e)[:500]))
            await self._update_status(d, st)
            raise
        s.put(created)
        if du.rs_replicas(created) > 0:
            self.recorder.event(
                d, "Normal", "ScalingReplicaSet",
                f"Scaled up replica set {meta(created)['name']} from 0 to {du.rs_replicas(created)}",
            )
        await self._set_revision(d, str(new_revision))
        st = dict(d.get("status") or {})
        if du.progress_deadline(d) is not None:
            du.set_condition(
                st,
                du.new_condition("Progressing", "True", du.NEW_RS_CREATED, f'Created new replica set "{meta(created)["name"]}"'),
            )
            await self._update_status(d, st)
        return created

    async def _create_conflict(self, s: _Sync, rs: Obj) -> Obj | None:
        """A ReplicaSet of that name exists: ours not yet seen by the informer, or a hash collision."""
        d = s.d
        cur = await self.client.get(self._rs_path(meta(rs)["namespace"], meta(rs)["name"]))
        ref = controller_ref(cur)
        if ref and ref.get("uid") == meta(d)["uid"] and du.equal_ignore_hash(
            (cur.get("spec") or {}).get("template"), (d.get("spec") or {}).get("template")
        ):
            return s.put(cur)
        st = dict(d.get("status") or {})
        st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
        await self._update_status(d, st)
        raise RuntimeError(f"hash collision for replica set {meta(rs)['name']}; collisionCount now {st['collisionCount']}")

    # ----------------------------------------------------------------- sync
    async def _is_scaling_event(self, s: _Sync) -> bool:
        new, olds = await self._get_all(s, False)
        want = du.replicas(s.d)
        for rs in du.active([*olds, *([new] if new else [])]):
            desired = du.desired_annotation(rs)
            if desired is not None and desired != want:
                return True
        return False

    async def _sync(self, s: _Sync) -> None:
        new, olds = await self._get_all(s, False)
        await self._scale(s, new, olds)
        if (s.d.get("spec") or {}).get("paused"):
            await self._cleanup(s, [s.rss.get(meta(o)["name"], o) for o in olds])
        await self._sync_status(s, self._current(s, new))

    def _current(self, s: _Sync, rs: Obj | None) -> Obj | None:
        return None if rs is None else s.rss.get(meta(rs)["name"], rs)

    async def _scale(self, s: _Sync, new: Obj | None, olds: list[Obj]) -> None:
        d = s.d
        want = du.replicas(d)
        olds_sorted = du.by_creation(olds, newest_first=True)
        all_active = du.active([*olds_sorted, *([new] if new else [])])
        if new is not None or olds:
            latest: Obj | None = None
            if len(all_active) == 0:
                latest = new if new is not None else olds_sorted[0]
            elif len(all_active) == 1:
                latest = all_active[0]
            if latest is not None:
                if du.rs_replicas(latest) != want:
                    await self._scale_rs(s, latest, want)
                return
        if du.is_saturated(d, new):
            for rs in du.active(olds):
                await self._scale_rs(s, rs, 0)
            return
        if not du.is_rolling(d):
            return
        rss = du.active([*olds, *([new] if new else [])])
        allowed = want + du.max_surge(d) if want > 0 else 0
        to_add = allowed - du.spec_total(rss)
        op = ""
        if to_add > 0:
            rss.sort(key=lambda r: (-du.rs_replicas(r), -_created(r)))
            op = "up"
        elif to_add < 0:
            rss.sort(key=lambda r: (-du.rs_replicas(r), _created(r)))
            op = "down"
        added = 0
        sizes: dict[str, int] = {}
        for rs in rss:
            if to_add != 0:
                p = du.proportion(rs, d, to_add, added)
                sizes[meta(rs)["name"]] = du.rs_replicas(rs) + p
                added += p
            else:
                sizes[meta(rs)["name"]] = du.rs_replicas(rs)
        for i, rs in enumerate(rss):
            n = meta(rs)["name"]
            if i == 0 and to_add != 0:
                sizes[n] = max(sizes[n] + to_add - added, 0)
            await self._scale_rs(s, rs, sizes[n], op)

    async def _cleanup(self, s: _Sync, olds: list[Obj]) -> None:
        limit = du.revision_history_limit(s.d)
        alive = [rs for rs in olds if not meta(rs).get("deletionTimestamp")]
        diff = len(alive) - limit
        if diff <= 0:
            return
        alive.sort(key=lambda r: (du.revision(r), _created(r)))
        for rs in alive[:diff]:
            if (
                du.status_int(rs, "replicas") != 0
                or du.rs_replicas(rs) != 0
                or int(meta(rs).get("generation") or 1) > du.status_int(rs, "observedGeneration")
            ):
                continue
            try:
                await self.client.delete(
                    self._rs_path(meta(rs)["namespace"], meta(rs)["name"]),
                    {"preconditions": {"uid": meta(rs)["uid"]}, "propagationPolicy": "Background"},
                )
            except ApiError as e:
                if e.status not in (404, 409):
                    raise
            s.rss.pop(meta(rs)["name"], None)

    # ------------------------------------------------------------- rollouts
    async def _rollout_rolling(self, s: _Sync) -> float | None:
        new, olds = await self._get_all(s, True)
        assert new is not None
        if await self._reconcile_new(s, new):
            return await self._sync_rollout_status(s, self._current(s, new))
        new = self._current(s, new)
        assert new is not None
        olds = [s.rss.get(meta(o)["name"], o) for o in olds]
        if await self._reconcile_olds(s, olds, new):
            return await self._sync_rollout_status(s, self._current(s, new))
        if du.deployment_complete(s.d, s.d.get("status") or {}):
            await self._cleanup(s, [s.rss.get(meta(o)["name"], o) for o in olds])
        return await self._sync_rollout_status(s, self._current(s, new))

    async def _reconcile_new(self, s: _Sync, new: Obj) -> bool:
        want = du.replicas(s.d)
        cur = du.rs_replicas(new)
        if cur == want:
            return False
        if cur > want:
            scaled, _ = await self._scale_rs(s, new, want)
            return scaled
        target = du.new_rs_new_replicas(s.d, s.all(), new)
        scaled, _ = await self._scale_rs(s, new, target)
        return scaled

    async def _reconcile_olds(self, s: _Sync, olds: list[Obj], new: Obj) -> bool:
        d = s.d
        old_active = du.active(olds)
        if du.spec_total(old_active) == 0:
            return False
        all_count = du.spec_total(s.all())
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = du.rs_replicas(new) - min(du.status_int(new, "availableReplicas"), du.rs_replicas(new))
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = await self._cleanup_unhealthy(s, old_active, max_scaled_down)
        old_active = [s.rss.get(meta(o)["name"], o) for o in old_active]
        scaled = await self._scale_down_olds(s, old_active, min_available)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy(self, s: _Sync, olds: list[Obj], max_cleanup: int) -> int:
        total = 0
        for rs in du.by_creation(olds):
            if total >= max_cleanup:
                break
            spec_r = du.rs_replicas(rs)
            avail = min(du.status_int(rs, "availableReplicas"), spec_r)
            if spec_r == 0 or spec_r == avail:
                continue
            n = min(max_cleanup - total, spec_r - avail)
            await self._scale_rs(s, rs, spec_r - n)
            total += n
        return total

    async def _scale_down_olds(self, s: _Sync, olds: list[Obj], min_available: int) -> int:
        available = du.available_total(s.all())
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in du.by_creation(olds):
            if total >= budget:
                break
            rs = s.rss.get(meta(rs)["name"], rs)
            spec_r = du.rs_replicas(rs)
            if spec_r == 0:
                continue
            n = min(spec_r, budget - total)
            await self._scale_rs(s, rs, spec_r - n)
            total += n
        return total

    async def _rollout_recreate(self, s: _Sync) -> float | None:
        new, olds = await self._get_all(s, False)
        scaled = False
        for rs in du.active(olds):
            changed, _ = await self._scale_rs(s, rs, 0)
            scaled = scaled or changed
        if scaled or self._old_pods_running(s, new, olds):
            return await self._sync_rollout_status(s, self._current(s, new))
        if new is None:
            new, olds = await self._get_all(s, True)
        assert new is not None
        new = self._current(s, new)
        assert new is not None
        await self._scale_rs(s, new, du.replicas(s.d))
        if du.deployment_complete(s.d, s.d.get("status") or {}):
            await self._cleanup(s, [s.rss.get(meta(o)["name"], o) for o in olds])
        return await self._sync_rollout_status(s, self._current(s, new))

    def _old_pods_running(self, s: _Sync, new: Obj | None, olds: list[Obj]) -> bool:
        for rs in olds:
            rs = s.rss.get(meta(rs)["name"], rs)
            if du.status_int(rs, "replicas") > 0:
                return True
            for pod in owned_by(self.pods, meta(rs)["uid"]):
                if not is_terminal(pod):
                    return True
        return False

    # --------------------------------------------------------------- status
    def _calculate_status(self, s: _Sync, new: Obj | None) -> dict[str, Any]:
        d = s.d
        rss = s.all()
        available = sum(du.status_int(r, "availableReplicas") for r in rss)
        total = du.spec_total(rss)
        old = d.get("status") or {}
        st: dict[str, Any] = {
            "observedGeneration": meta(d).get("generation", 1),
            "replicas": sum(du.status_int(r, "replicas") for r in rss),
            "updatedReplicas": du.status_int(new, "replicas") if new is not None else 0,
            "readyReplicas": sum(du.status_int(r, "readyReplicas") for r in rss),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        }
        if old.get("collisionCount") is not None:
            st["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            st["conditions"] = [dict(c) for c in old["conditions"]]
        want = du.replicas(d)
        if available >= want - du.max_unavailable(d):
            du.set_condition(st, du.new_condition("Available", "True", du.MIN_AVAILABLE, "Deployment has minimum availability."))
        else:
            du.set_condition(
                st, du.new_condition("Available", "False", du.MIN_UNAVAILABLE, "Deployment does not have minimum availability.")
            )
        return _omit_zero(st)

    async def _sync_status(self, s: _Sync, new: Obj | None) -> None:
        await self._update_status(s.d, self._calculate_status(s, new))

    async def _sync_status_only(self, s: _Sync) -> None:
        new, _ = await self._get_all(s, False)
        await self._sync_status(s, new)

    async def _check_paused(self, d: Obj) -> None:
        if du.progress_deadline(d) is None:
            return
        st = dict(d.get("status") or {})
        cond = du.get_condition(st, "Progressing")
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and not paused_cond:
            du.set_condition(st, du.new_condition("Progressing", "Unknown", du.PAUSED, "Deployment is paused"))
        elif not paused and paused_cond:
            du.set_condition(st, du.new_condition("Progressing", "Unknown", du.RESUMED, "Deployment is resumed"))
        else:
            return
        await self._update_status(d, st)

    async def _sync_rollout_status(self, s: _Sync, new: Obj | None) -> float | None:
        d = s.d
        st = self._calculate_status(s, new)
        deadline = du.progress_deadline(d)
        if deadline is None:
            du.remove_condition(st, "Progressing")
        cur = du.get_condition(st, "Progressing")
        complete = (
            st.get("replicas", 0) == st.get("updatedReplicas", 0)
            and cur is not None
            and cur.get("reason") == du.NEW_RS_AVAILABLE
        )
        now = time.time()
        new_name = meta(new)["name"] if new is not None else ""
        if deadline is not None and not complete:
            if du.deployment_complete(d, st):
                du.set_condition(
                    st,
                    du.new_condition(
                        "Progressing", "True", du.NEW_RS_AVAILABLE, f'ReplicaSet "{new_name}" has successfully progressed.'
                    ),
                )
            elif du.deployment_progressing(d, st):
                msg = f'ReplicaSet "{new_name}" is progressing.' if new is not None else f'Deployment "{meta(d)["name"]}" is progressing.'
                cond = du.new_condition("Progressing", "True", du.RS_UPDATED, msg)
                if cur is not None:
                    if cur.get("status") == "True":
                        cond["lastTransitionTime"] = cur.get("lastTransitionTime", cond["lastTransitionTime"])
                    du.remove_condition(st, "Progressing")
                du.set_condition(st, cond)
            elif du.deployment_timed_out(d, st, now):
                du.set_condition(
                    st,
                    du.new_condition("Progressing", "False", du.TIMED_OUT, f'ReplicaSet "{new_name}" has timed out progressing.'),
                )
                self.recorder.event(d, "Warning", du.TIMED_OUT, f'Deployment "{meta(d)["name"]}" has timed out progressing.')
        failure = self._replica_failure(s, new)
        if failure is not None:
            du.set_condition(st, failure)
        else:
            du.remove_condition(st, "ReplicaFailure")
        await self._update_status(d, st)
        return self._requeue_stuck(d, st, now)

    def _replica_failure(self, s: _Sync, new: Obj | None) -> dict[str, Any] | None:
        ordered = ([new] if new is not None else []) + [r for r in s.all() if new is None or r is not new]
        for rs in ordered:
            c = du.get_condition(rs.get("status") or {}, "ReplicaFailure")
            if c is not None and c.get("status") == "True":
                return du.new_condition("ReplicaFailure", "True", str(c.get("reason", "")), str(c.get("message", "")))
        return None

    def _requeue_stuck(self, d: Obj, st: dict[str, Any], now: float) -> float | None:
        deadline = du.progress_deadline(d)
        cond = du.get_condition(st, "Progressing")
        if deadline is None or cond is None:
            return None
        if cond.get("reason") in (du.NEW_RS_AVAILABLE, du.TIMED_OUT) or du.deployment_complete(d, st):
            return None
        after = ts(cond.get("lastUpdateTime")) + deadline - now
        return max(after, 1.0)


def _created(rs: Obj) -> float:
    return ts(meta(rs).get("creationTimestamp"))


def _omit_zero(st: dict[str, Any]) -> dict[str, Any]:
    """Upstream's omitempty: zero counts are not written."""
    return {k: v for k, v in st.items() if v != 0}
