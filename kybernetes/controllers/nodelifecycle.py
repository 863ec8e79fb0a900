"""The node lifecycle controller: notices dead nodes, taints them, and evicts pods that do not tolerate that.

A node is alive while its Lease in kube-node-lease (or its Ready condition heartbeat) keeps changing. Seen
unchanged for longer than the grace period (40 s upstream; `node_monitor_grace_period`), its Ready, MemoryPressure,
DiskPressure and PIDPressure conditions become Unknown ("Kubelet stopped posting node status."), its pods are
marked not Ready, and it gets the `node.kubernetes.io/unreachable` NoSchedule and NoExecute taints (`not-ready`
for a node reporting Ready=False). Staleness is measured on this controller's own clock from when it last saw a
change, so clock skew between machines does not matter, and a restarted controller gives every node a fresh grace
period. Taints are removed when the node comes back.

Eviction (upstream's taint-eviction controller): a pod on a node with NoExecute taints it does not tolerate is
deleted at once; if it tolerates them all, it is deleted after the smallest tolerationSeconds among the
tolerations used (never, if one tolerates without a limit). Pods get a DisruptionTarget condition first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import MERGE_PATCH, ApiError, Client, resource_path
from kybernetes.controllers.base import Controller, deepcopy
from kybernetes.controllers.nodematch import tolerated_by
from kybernetes.controllers.pods import condition, is_terminal, meta
from kybernetes.machinery.meta import now_rfc3339

log = logging.getLogger(__name__)

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
BY_CONDITION = {
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
    "NetworkUnavailable": "node.kubernetes.io/network-unavailable",
}
MANAGED_KEYS = {UNREACHABLE, NOT_READY, UNSCHEDULABLE, *BY_CONDITION.values()}
NODE_INDEX = "spec.nodeName"


def desired_taints(node: Obj) -> list[dict[str, Any]]:
    """The taints this controller maintains, from the node's conditions and spec.unschedulable."""
    out: list[dict[str, Any]] = []
    ready = condition(node, "Ready")
    status = (ready or {}).get("status", "Unknown")
    if status == "False":
        out += [{"key": NOT_READY, "effect": "NoSchedule"}, {"key": NOT_READY, "effect": "NoExecute"}]
    elif status == "Unknown":
        out += [{"key": UNREACHABLE, "effect": "NoSchedule"}, {"key": UNREACHABLE, "effect": "NoExecute"}]
    for cond, key in BY_CONDITION.items():
        c = condition(node, cond)
        if c is not None and c.get("status") == "True":
            out.append({"key": key, "effect": "NoSchedule"})
    if (node.get("spec") or {}).get("unschedulable"):
        out.append({"key": UNSCHEDULABLE, "effect": "NoSchedule"})
    return out


def eviction_delay(pod: Obj, taints: list[dict[str, Any]]) -> float | None:
    """Seconds after which NoExecute taints evict the pod: 0 now, None never."""
    no_exec = [t for t in taints if t.get("effect") == "NoExecute"]
    if not no_exec:
        return None
    tols = (pod.get("spec") or {}).get("tolerations") or []
    limits: list[float] = []
    for taint in no_exec:
        tol = tolerated_by(tols, taint)
        if tol is None:
            return 0.0
        if tol.get("tolerationSeconds") is not None:
            limits.append(max(float(tol["tolerationSeconds"]), 0.0))
    return min(limits) if limits else None


class NodeLifecycleController(Controller):
    name = "node-lifecycle-controller"
    workers = 4

    def __init__(
        self, client: Client, informers: InformerFactory, *, grace_period: float = 40.0, monitor_period: float = 5.0
    ) -> None:
        super().__init__(client, informers)
        self.grace_period = grace_period
        self.monitor_period = monitor_period
        self.nodes = self.informer("", "v1", "nodes")
        self.leases = self.informer("coordination.k8s.io", "v1", "leases", namespace="kube-node-lease")
        self.pods = self.informer("", "v1", "pods")
        if NODE_INDEX not in self.pods.indexers:
            self.pods.add_index(NODE_INDEX, lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
        self._probe: dict[str, float] = {}
        self._seen: dict[str, tuple[str, str]] = {}
        self._evict_at: dict[str, float] = {}
        self.nodes.add_handlers(
            Handlers(on_add=self._node_seen, on_update=lambda _o, n: self._node_seen(n), on_delete=self._node_gone)
        )
        self.leases.add_handlers(Handlers(on_add=self._lease_seen, on_update=lambda _o, n: self._lease_seen(n)))
        self.pods.add_handlers(Handlers(on_add=self._pod_seen, on_update=lambda _o, n: self._pod_seen(n)))

    # ------------------------------------------------------------- handlers
    def _beat(self, node: str, lease_rv: str | None = None, heartbeat: str | None = None) -> None:
        lease, hb = self._seen.get(node, ("", ""))
        new = (lease_rv if lease_rv is not None else lease, heartbeat if heartbeat is not None else hb)
        if new != (lease, hb) or node not in self._probe:
            self._seen[node] = new
            self._probe[node] = time.monotonic()

    def _node_seen(self, node: Obj) -> None:
        name = meta(node).get("name", "")
        ready = condition(node, "Ready") or {}
        self._beat(name, heartbeat=str(ready.get("lastHeartbeatTime", "")))
        self.queue.add(name)

    def _node_gone(self, node: Obj) -> None:
        name = meta(node).get("name", "")
        self._probe.pop(name, None)
        self._seen.pop(name, None)

    def _lease_seen(self, lease: Obj) -> None:
        name = meta(lease).get("name", "")
        renew = str(((lease.get("spec") or {}).get("renewTime")) or "")
        before = self._seen.get(name, ("", ""))[0]
        self._beat(name, lease_rv=renew)
        if before != renew:
            node = self.nodes.get(name)
            ready = condition(node, "Ready") if node else None
            if ready is not None and ready.get("status") == "Unknown":
                self.queue.add(name)

    def _pod_seen(self, pod: Obj) -> None:
        node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is not None and any(t.get("effect") == "NoExecute" for t in (node.get("spec") or {}).get("taints") or []):
            self.queue.add(meta(node)["name"])

    # ------------------------------------------------------------ lifecycle
    async def on_synced(self) -> None:
        now = time.monotonic()
        for n in self.nodes.list():
            self._probe[meta(n)["name"]] = now  # a fresh grace period for everyone after a (re)start
        self.spawn(self._monitor(), "monitor")

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(self.monitor_period)
            now = time.monotonic()
            for n in self.nodes.list():
                name = meta(n)["name"]
                ready = condition(n, "Ready")
                stale = now - self._probe.get(name, now) > self.grace_period
                if stale and (ready is None or ready.get("status") != "Unknown"):
                    self.queue.add(name)

    # ------------------------------------------------------------ reconcile
    def _path(self, name: str, sub: str = "") -> str:
        return resource_path("", "v1", "nodes", name=name, subresource=sub or None)

    async def reconcile(self, key: str) -> float | None:
        cached = self.nodes.get(key)
        if cached is None:
            return None
        node = deepcopy(cached)
        now = time.monotonic()
        stale = now - self._probe.setdefault(key, now) > self.grace_period
        if stale:
            node = await self._mark_unknown(node)
        node = await self._sync_taints(node)
        return await self._evict(node)

    async def _mark_unknown(self, node: Obj) -> Obj:
        conds = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
        ts = now_rfc3339()
        changed = False
        have = {c.get("type") for c in conds}
        for c in conds:
            if c.get("type") in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure") and c.get("status") != "Unknown":
                c.update(
                    {
                        "status": "Unknown",
                        "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.",
                        "lastTransitionTime": ts,
                    }
                )
                changed = True
        if "Ready" not in have:
            conds.append(
                {
                    "type": "Ready",
                    "status": "Unknown",
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                    "lastHeartbeatTime": ts,
                    "lastTransitionTime": ts,
                }
            )
            changed = True
        if not changed:
            return node
        log.info("node %s: no heartbeat for %.0fs, marking it Unknown", meta(node)["name"], self.grace_period)
        node.setdefault("status", {})["conditions"] = conds
        out = await self.client.update(self._path(meta(node)["name"], "status"), node)
        self.recorder.event(out, "Normal", "NodeNotReady", f"Node {meta(node)['name']} status is now: NodeNotReady")
        await self._mark_pods_not_ready(meta(node)["name"])
        return out

    async def _mark_pods_not_ready(self, node: str) -> None:
        ts = now_rfc3339()
        for pod in self.pods.by_index(NODE_INDEX, node):
            ready = condition(pod, "Ready")
            if ready is None or ready.get("status") != "True" or is_terminal(pod):
                continue
            conds = []
            for c in (pod.get("status") or {}).get("conditions") or []:
                c = dict(c)
                if c.get("type") == "Ready":
                    c.update({"status": "False", "lastTransitionTime": ts})
                conds.append(c)
            try:
                await self.client.patch(
                    resource_path("", "v1", "pods", namespace=meta(pod)["namespace"], name=meta(pod)["name"], subresource="status"),
                    {"status": {"conditions": conds}},
                    content_type=MERGE_PATCH,
                )
            except ApiError as e:
                if e.status != 404:
                    log.warning("marking pod %s not ready: %s", meta(pod)["name"], e)

    async def _sync_taints(self, node: Obj) -> Obj:
        current = list((node.get("spec") or {}).get("taints") or [])
        want = desired_taints(node)
        ts = now_rfc3339()
        keep = [t for t in current if t.get("key") not in MANAGED_KEYS]
        managed = [t for t in current if t.get("key") in MANAGED_KEYS]
        new_managed = []
        for w in want:
            old = next((t for t in managed if t.get("key") == w["key"] and t.get("effect") == w["effect"]), None)
            if old is not None:
                new_managed.append(old)
            else:
                t = dict(w)
                if t["effect"] == "NoExecute":
                    t["timeAdded"] = ts
                new_managed.append(t)
        if sorted(map(repr, new_managed)) == sorted(map(repr, managed)):
            return node
        node.setdefault("spec", {})["taints"] = keep + new_managed or None
        if node["spec"]["taints"] is None:
            node["spec"].pop("taints")
        out: Obj = await self.client.update(self._path(meta(node)["name"]), node)
        return out

    async def _evict(self, node: Obj) -> float | None:
        taints = list((node.get("spec") or {}).get("taints") or [])
        name = meta(node)["name"]
        now = time.monotonic()
        again: float | None = None
        for pod in self.pods.by_index(NODE_INDEX, name):
            uid = meta(pod).get("uid", "")
            if meta(pod).get("deletionTimestamp") or is_terminal(pod):
                self._evict_at.pop(uid, None)
                continue
            delay = eviction_delay(pod, taints)
            if delay is None:
                self._evict_at.pop(uid, None)
                continue
            due = self._evict_at.setdefault(uid, now + delay)
            if due > now:
                again = due - now if again is None else min(again, due - now)
                continue
            await self._delete(pod)
            self._evict_at.pop(uid, None)
        return again

    async def _delete(self, pod: Obj) -> None:
        ns, name = meta(pod)["namespace"], meta(pod)["name"]
        path = resource_path("", "v1", "pods", namespace=ns, name=name)
        conds = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conds.append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastTransitionTime": now_rfc3339(),
            }
        )
        try:
            await self.client.patch(path + "/status", {"status": {"conditions": conds}}, content_type=MERGE_PATCH)
            await self.client.delete(path, {"preconditions": {"uid": meta(pod)["uid"]}})
            self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}")
        except ApiError as e:
            if e.status not in (404, 409):
                raise
