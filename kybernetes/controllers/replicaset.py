"""The ReplicaSet controller (and, with a different kind, the ReplicationController manager).

Keeps `spec.replicas` active pods matching the selector. Pods are created in slow-start batches (1, 2, 4, ...)
so a broken template fails once instead of five hundred times; creates and deletes are recorded as expectations
and the set is not acted on again until the informer has shown them. On scale-down the pods that matter least go
first (unscheduled, pending, not ready, crowded nodes, newest). Status carries replicas, fullyLabeledReplicas,
readyReplicas, availableReplicas (ready for minReadySeconds) and observedGeneration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj, meta_key, split_key
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers.base import Controller, Expectations, deepcopy
from kybernetes.controllers.owners import (
    ClaimManager,
    controller_ref,
    ensure_controller_index,
    owned_by,
    resolve_controller,
)
from kybernetes.controllers.pods import (
    colocation,
    deletion_order,
    is_active,
    is_available,
    is_ready,
    meta,
    pod_from_template,
)
from kybernetes.machinery.meta import now_rfc3339
from kybernetes.machinery.selectors import LabelSelector, selector_from_object

log = logging.getLogger(__name__)

BURST_REPLICAS = 500


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    resource: str
    kind: str


REPLICASET = Kind("apps", "v1", "replicasets", "ReplicaSet")
REPLICATION_CONTROLLER = Kind("", "v1", "replicationcontrollers", "ReplicationController")


async def slow_start_batch(count: int, create: Callable[[], Awaitable[None]], initial: int = 1) -> int:
    """Run `create` count times in batches of 1, 2, 4, ...; stop after the first batch with a failure.

    Returns how many succeeded. The first error is re-raised after counting, so callers can lower expectations."""
    done = 0
    batch = min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(create() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += batch - len(errors)
        if errors:
            raise SlowStartError(done, errors[0])
        remaining = count - done
        batch = min(remaining, 2 * batch)
    return done


class SlowStartError(Exception):
    def __init__(self, succeeded: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.succeeded = succeeded
        self.cause = cause


def rc_selector(obj: Obj) -> LabelSelector:
    spec = obj.get("spec") or {}
    sel = spec.get("selector")
    if sel is None:
        sel = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    return selector_from_object({"matchLabels": sel})


def owner_selector(kind: Kind, obj: Obj) -> LabelSelector:
    if kind is REPLICATION_CONTROLLER:
        return rc_selector(obj)
    try:
        return selector_from_object((obj.get("spec") or {}).get("selector"))
    except ValueError:
        return selector_from_object(None)


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    workers = 4

    def __init__(self, client: Client, informers: InformerFactory, kind: Kind = REPLICASET) -> None:
        super().__init__(client, informers)
        self.kind = kind
        if kind is REPLICATION_CONTROLLER:
            self.name = "replicationcontroller-controller"
            self.recorder.component = "replication-controller"
        self.expectations = Expectations()
        self.owners = self.informer(kind.group, kind.version, kind.resource)
        self.pods = self.informer("", "v1", "pods")
        ensure_controller_index(self.pods)
        self.owners.add_handlers(
            Handlers(on_add=self.enqueue, on_update=self._owner_updated, on_delete=self._owner_deleted)
        )
        self.pods.add_handlers(Handlers(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted))

    # ------------------------------------------------------------- handlers
    def _owner_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)
        old_mrs = (old.get("spec") or {}).get("minReadySeconds") or 0
        new_mrs = (new.get("spec") or {}).get("minReadySeconds") or 0
        if new_mrs > 0 and old_mrs != new_mrs:
            self.enqueue_after(new, float(new_mrs))

    def _owner_deleted(self, obj: Obj) -> None:
        self.expectations.forget(meta_key(obj))
        self.enqueue(obj)

    def _matching_owners(self, pod: Obj) -> list[Obj]:
        labels = meta(pod).get("labels") or {}
        return [o for o in self.owners.list(meta(pod).get("namespace", "")) if owner_selector(self.kind, o).matches(labels)]

    def _pod_added(self, pod: Obj) -> None:
        if meta(pod).get("deletionTimestamp"):
            self._pod_deleted(pod)
            return
        owner = resolve_controller(self.owners, pod, self.kind.kind)
        if owner is not None:
            self.expectations.creation_observed(meta_key(owner))
            self.enqueue(owner)
            return
        if controller_ref(pod) is None:
            for o in self._matching_owners(pod):
                self.enqueue(o)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        if meta(new).get("deletionTimestamp") and not meta(old).get("deletionTimestamp"):
            self._pod_deleted(new)
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref is not None and (new_ref is None or old_ref.get("uid") != new_ref.get("uid")):
            prev = resolve_controller(self.owners, old, self.kind.kind)
            if prev is not None:
                self.enqueue(prev)
        owner = resolve_controller(self.owners, new, self.kind.kind)
        if owner is not None:
            self.enqueue(owner)
            mrs = (owner.get("spec") or {}).get("minReadySeconds") or 0
            if mrs > 0 and is_ready(new) and not is_ready(old):
                self.enqueue_after(owner, float(mrs) + 0.5)
            return
        if new_ref is None and (
            meta(old).get("labels") != meta(new).get("labels") or old_ref is not None
        ):
            for o in self._matching_owners(new):
                self.enqueue(o)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = resolve_controller(self.owners, pod, self.kind.kind)
        if owner is None:
            return
        key = meta_key(owner)
        self.expectations.deletion_observed(key, str(meta(pod).get("uid", "")))
        self.enqueue(owner)

    # ------------------------------------------------------------ reconcile
    def _path(self, ns: str, name: str = "", sub: str = "") -> str:
        k = self.kind
        return resource_path(k.group, k.version, k.resource, namespace=ns, name=name or None, subresource=sub or None)

    async def reconcile(self, key: str) -> float | None:
        ns, name = split_key(key)
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.forget(key)
            return None
        selector = owner_selector(self.kind, owner)
        uid = meta(owner).get("uid", "")
        candidates = [p for p in self.pods.list(ns) if is_active(p)]
        owned = owned_by(self.pods, uid)
        pool = {meta(p).get("uid"): p for p in candidates if controller_ref(p) is None}
        for p in owned:
            if is_active(p):
                pool[meta(p).get("uid")] = p

        async def fresh() -> Obj | None:
            try:
                return await self.client.get(self._path(ns, name))
            except ApiError as e:
                if e.status == 404:
                    return None
                raise

        claims = ClaimManager(self.client, owner, selector, lambda p: self._pod_path(p), fresh)
        active = await claims.claim(list(pool.values()))
        manage_error: Exception | None = None
        if self.expectations.satisfied(key) and not meta(owner).get("deletionTimestamp"):
            try:
                await self._manage(key, owner, active)
            except Exception as e:
                manage_error = e
        again = await self._update_status(owner, active, manage_error)
        if manage_error is not None:
            raise manage_error
        return again

    def _pod_path(self, pod: Obj) -> str:
        return resource_path("", "v1", "pods", namespace=meta(pod).get("namespace"), name=meta(pod).get("name"))

    async def _manage(self, key: str, owner: Obj, active: list[Obj]) -> None:
        spec = owner.get("spec") or {}
        want = spec.get("replicas")
        want = 1 if want is None else int(want)
        diff = len(active) - want
        ns = meta(owner).get("namespace", "")
        if diff < 0:
            n = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, n)
            template = spec.get("template") or {}
            pods_path = resource_path("", "v1", "pods", namespace=ns)
            gen_name = f"{meta(owner).get('name')}-"

            async def create() -> None:
                try:
                    await self.client.create(pods_path, pod_from_template(template, owner, gen_name))
                except ApiError as e:
                    if e.status == 403 and "being terminated" in str(e.body.get("message", "")):
                        return  # the namespace is going away; the pod will never be observed
                    raise

            try:
                created = await slow_start_batch(n, create)
            except SlowStartError as e:
                self.expectations.lower_creations(key, n - e.succeeded)
                self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {e.cause}")
                raise e.cause from None
            if created:
                self.recorder.event(owner, "Normal", "SuccessfulCreate", f"Created {created} pod(s)")
        elif diff > 0:
            n = min(diff, BURST_REPLICAS)
            victims = deletion_order(active, colocation(self.pods.list(ns)))[:n]
            self.expectations.expect_deletions(key, [str(meta(p).get("uid", "")) for p in victims])

            async def delete(pod: Obj) -> None:
                try:
                    await self.client.delete(self._pod_path(pod), {"preconditions": {"uid": meta(pod).get("uid")}})
                except ApiError as e:
                    self.expectations.deletion_observed(key, str(meta(pod).get("uid", "")))
                    if e.status not in (404, 409):
                        raise

            results = await asyncio.gather(*(delete(p) for p in victims), return_exceptions=True)
            errs = [r for r in results if isinstance(r, BaseException)]
            names = ", ".join(meta(p).get("name", "") for p in victims)
            self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod(s): {names}")
            if errs:
                raise errs[0]

    async def _update_status(self, owner: Obj, active: list[Obj], err: Exception | None) -> float | None:
        spec = owner.get("spec") or {}
        mrs = int(spec.get("minReadySeconds") or 0)
        tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        now = time.time()
        ready = [p for p in active if is_ready(p)]
        available = [p for p in ready if is_available(p, mrs, now)]
        fully = [p for p in active if all((meta(p).get("labels") or {}).get(k) == v for k, v in tmpl_labels.items())]
        old = owner.get("status") or {}
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(fully),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "observedGeneration": meta(owner).get("generation", 1),
        }
        conds = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if err is not None:
            conds.append(
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate" if len(active) < (spec.get("replicas") or 0) else "FailedDelete",
                    "message": str(err)[:500],
                    "lastTransitionTime": now_rfc3339(),
                }
            )
        if conds:
            status["conditions"] = conds
        # Upstream's omitempty: zero counts are left out (replicas is always there).
        status = {k: v for k, v in status.items() if v or k == "replicas"}
        again: float | None = None
        if mrs > 0 and len(ready) > len(available):
            again = float(mrs)
        if status == old:
            return again
        body = deepcopy(owner)
        body["status"] = status
        ns, name = meta(owner).get("namespace", ""), meta(owner).get("name", "")
        try:
            await self.client.update(self._path(ns, name, "status"), body)
        except ApiError as e:
            if e.status == 404:
                return None
            raise
        return again
