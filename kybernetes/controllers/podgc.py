"""The pod garbage collector: removes pods nobody else will.

Every period (20 s upstream) it force-deletes (grace 0) pods bound to nodes that no longer exist (after confirming
with a live read and a quarantine, so a node that is only late to appear in the cache is spared), terminating
pods that were never scheduled, and terminating pods on NotReady nodes tainted `node.kubernetes.io/out-of-service`;
and it deletes the oldest finished pods once there are more than `terminated_pod_gc_threshold`. Pods get a
DisruptionTarget condition (DeletionByPodGC) first, as upstream.
"""

from __future__ import annotations

import asyncio
import logging
import time

from kybernetes.client.informer import InformerFactory, Obj
from kybernetes.client.rest import MERGE_PATCH, ApiError, Client, resource_path
from kybernetes.controllers.base import Controller
from kybernetes.controllers.pods import condition, is_terminal, meta, ts
from kybernetes.machinery.meta import now_rfc3339

log = logging.getLogger(__name__)

OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


class PodGC(Controller):
    name = "pod-garbage-collector"
    workers = 0

    def __init__(
        self,
        client: Client,
        informers: InformerFactory,
        *,
        threshold: int = 12500,
        period: float = 20.0,
        quarantine: float = 40.0,
    ) -> None:
        super().__init__(client, informers)
        self.threshold = threshold
        self.period = period
        self.quarantine = quarantine
        self.pods = self.informer("", "v1", "pods")
        self.nodes = self.informer("", "v1", "nodes")
        self._missing_since: dict[str, float] = {}

    async def on_synced(self) -> None:
        self.spawn(self._loop(), "loop")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("pod gc: %s", e)

    async def gc(self) -> None:
        pods = self.pods.list()
        if self.threshold > 0:
            await self._gc_terminated(pods)
        await self._gc_orphaned(pods)
        await self._gc_unscheduled_terminating(pods)
        await self._gc_out_of_service(pods)

    async def _gc_terminated(self, pods: list[Obj]) -> None:
        done = [p for p in pods if is_terminal(p) and not meta(p).get("deletionTimestamp")]
        excess = len(done) - self.threshold
        if excess <= 0:
            return
        done.sort(key=lambda p: ts(meta(p).get("creationTimestamp")))
        await asyncio.gather(*(self._force_delete(p, "PodGC: terminated pod over the threshold") for p in done[:excess]))

    async def _gc_orphaned(self, pods: list[Obj]) -> None:
        now = time.monotonic()
        absent: dict[str, bool] = {}
        for p in pods:
            node = (p.get("spec") or {}).get("nodeName")
            if not node or self.nodes.get(node) is not None:
                continue
            if node not in absent:
                absent[node] = await self._node_absent(node)
            if not absent[node]:
                continue
            first = self._missing_since.setdefault(node, now)
            if now - first < self.quarantine:
                continue
            await self._force_delete(p, "PodGC: node no longer exists")
        for node in [n for n in self._missing_since if n not in absent]:
            self._missing_since.pop(node, None)

    async def _node_absent(self, name: str) -> bool:
        try:
            await self.client.get(resource_path("", "v1", "nodes", name=name))
            return False
        except ApiError as e:
            return e.status == 404

    async def _gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        for p in pods:
            if meta(p).get("deletionTimestamp") and not (p.get("spec") or {}).get("nodeName"):
                await self._force_delete(p, "PodGC: unscheduled pod being deleted")

    async def _gc_out_of_service(self, pods: list[Obj]) -> None:
        for p in pods:
            if not meta(p).get("deletionTimestamp"):
                continue
            node = self.nodes.get((p.get("spec") or {}).get("nodeName") or "")
            if node is None:
                continue
            ready = condition(node, "Ready")
            taints = (node.get("spec") or {}).get("taints") or []
            if (ready or {}).get("status") != "True" and any(t.get("key") == OUT_OF_SERVICE for t in taints):
                await self._force_delete(p, "PodGC: node is out of service")

    async def _force_delete(self, pod: Obj, why: str) -> None:
        ns, name = meta(pod)["namespace"], meta(pod)["name"]
        path = resource_path("", "v1", "pods", namespace=ns, name=name)
        log.info("%s: deleting %s/%s", why, ns, name)
        try:
            if not is_terminal(pod):
                conds = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") != "DisruptionTarget"]
                conds.append(
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "DeletionByPodGC",
                        "message": why,
                        "lastTransitionTime": now_rfc3339(),
                    }
                )
                await self.client.patch(path + "/status", {"status": {"conditions": conds}}, content_type=MERGE_PATCH)
            await self.client.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": meta(pod)["uid"]}})
        except ApiError as e:
            if e.status not in (404, 409):
                raise
