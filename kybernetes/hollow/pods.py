"""Pods on hollow nodes, moved through their lifecycle as data (in the spirit of kwok's Stages).

No container ever runs. One informer watches bound pods; a pod on a live hollow node goes

    bound --(running delay)--> Running + Ready, with a podIP from the node's range
    Running --(duration)--> Succeeded (or Failed with the given exit code)     only pods of Jobs, or with a duration
    deletionTimestamp set --> deleted with gracePeriodSeconds=0

Each step is decided from the pod as it is now (level-triggered), so a restart of the pool just carries on.
Per-pod annotations override the defaults:

    hollow.kybernetes.io/running-delay: "2.5"    seconds from bound to Running
    hollow.kybernetes.io/duration: "3"           seconds from Running to completion (any pod)
    hollow.kybernetes.io/exit-code: "1"          completion exit code (non-zero means Failed)
    hollow.kybernetes.io/ready: "false"          Running but never Ready
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from kybernetes.client.informer import Handlers, Informer, meta_key
from kybernetes.client.rest import MERGE_PATCH, ApiError, Client, resource_path
from kybernetes.client.workqueue import WorkQueue
from kybernetes.hollow.nodes import ANNOTATION_PREFIX, HollowNode
from kybernetes.machinery.meta import now_rfc3339, parse_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def _float(v: Any, default: float) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def _owned_by_job(pod: Obj) -> bool:
    return any(r.get("kind") == "Job" for r in (pod.get("metadata") or {}).get("ownerReferences") or [])


def _cid(pod: Obj, name: str) -> str:
    uid = (pod.get("metadata") or {}).get("uid", "")
    return "hollow://" + hashlib.sha256(f"{uid}/{name}".encode()).hexdigest()[:32]


class PodLifecycle:
    def __init__(
        self,
        client: Client,
        node_of: Callable[[str], HollowNode | None],
        *,
        running_delay: float,
        job_duration: float,
        workers: int = 8,
    ) -> None:
        self.client = client
        self.node_of = node_of
        self.running_delay = running_delay
        self.job_duration = job_duration
        self.informer = Informer(client, "", "v1", "pods", field_selector="spec.nodeName!=")
        self.queue = WorkQueue()
        self.workers = workers
        self._first_seen: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.informer.add_handlers(Handlers(on_add=self._changed, on_update=lambda _o, n: self._changed(n), on_delete=self._deleted))

    async def start(self) -> None:
        await self.informer.start()
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"hollow-pods-{i}"))

    async def stop(self) -> None:
        self.queue.shutdown()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.informer.stop()

    def kick_node(self, node_name: str) -> None:
        """Re-examine every pod of a node (its heartbeat came back)."""
        for pod in self.informer.list():
            if (pod.get("spec") or {}).get("nodeName") == node_name:
                self.queue.add(meta_key(pod))

    # ------------------------------------------------------------- handlers
    def _changed(self, pod: Obj) -> None:
        node = self.node_of((pod.get("spec") or {}).get("nodeName") or "")
        if node is None:
            return
        uid = (pod.get("metadata") or {}).get("uid", "")
        self._first_seen.setdefault(uid, time.monotonic())
        ip = (pod.get("status") or {}).get("podIP")
        if ip:
            node.used_ips.add(ip)
        self.queue.add(meta_key(pod))

    def _deleted(self, pod: Obj) -> None:
        self._first_seen.pop((pod.get("metadata") or {}).get("uid", ""), None)
        node = self.node_of((pod.get("spec") or {}).get("nodeName") or "")
        ip = (pod.get("status") or {}).get("podIP")
        if node is not None and ip:
            node.release_ip(ip)

    # -------------------------------------------------------------- workers
    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                again = await self._step(key)
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except ApiError as e:
                if e.status not in (404, 409):
                    log.warning("hollow pod %s: %s", key, e)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("hollow pod %s failed", key)
                self.queue.add_rate_limited(key)
            self.queue.done(key)

    async def _step(self, key: str) -> float | None:
        pod = self.informer.get(key)
        if pod is None:
            return None
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        node = self.node_of(spec.get("nodeName") or "")
        if node is None or not node.heartbeat:
            return None  # not ours, or a dead node: nothing happens on it
        ann = meta.get("annotations") or {}
        path = resource_path("", "v1", "pods", namespace=meta.get("namespace"), name=meta.get("name"))
        if meta.get("deletionTimestamp"):
            with contextlib.suppress(ApiError):
                await self.client.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": meta.get("uid")}})
            return None
        phase = status.get("phase") or "Pending"
        if phase in ("Succeeded", "Failed"):
            return None
        now = time.monotonic()
        if phase == "Pending":
            seen = self._first_seen.setdefault(meta.get("uid", ""), now)
            delay = _float(ann.get(ANNOTATION_PREFIX + "running-delay"), self.running_delay)
            if now < seen + delay:
                return seen + delay - now
            await self._patch_status(path, self._running_status(pod, node))
            return None
        duration_ann = ann.get(ANNOTATION_PREFIX + "duration")
        if duration_ann is None and not _owned_by_job(pod):
            return None
        duration = _float(duration_ann, self.job_duration)
        started = parse_time(status.get("startTime"))
        elapsed = time.time() - started.timestamp() if started else duration
        if elapsed < duration:
            return duration - elapsed
        code = int(_float(ann.get(ANNOTATION_PREFIX + "exit-code"), 0))
        await self._patch_status(path, self._finished_status(pod, code))
        return None

    async def _patch_status(self, path: str, status: dict[str, Any]) -> None:
        await self.client.patch(path + "/status", {"status": status}, content_type=MERGE_PATCH)

    # --------------------------------------------------------------- shapes
    def _running_status(self, pod: Obj, node: HollowNode) -> dict[str, Any]:
        spec = pod.get("spec") or {}
        ann = (pod.get("metadata") or {}).get("annotations") or {}
        ready = str(ann.get(ANNOTATION_PREFIX + "ready", "true")).lower() != "false"
        now = now_rfc3339()
        ip = node.internal_ip if spec.get("hostNetwork") else node.allocate_ip()
        prev = (pod.get("status") or {}).get("conditions") or []
        scheduled = next((c for c in prev if c.get("type") == "PodScheduled"), None) or {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }

        def cond(t: str, ok: bool) -> dict[str, Any]:
            c: dict[str, Any] = {"type": t, "status": "True" if ok else "False", "lastProbeTime": None, "lastTransitionTime": now}
            if not ok:
                c["reason"] = "ContainersNotReady"
                c["message"] = "hollow containers are not ready"
            return c

        return {
            "phase": "Running",
            "hostIP": node.internal_ip,
            "hostIPs": [{"ip": node.internal_ip}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "conditions": [
                cond("PodReadyToStartContainers", True),
                cond("Initialized", True),
                cond("Ready", ready),
                cond("ContainersReady", ready),
                scheduled,
            ],
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": f"hollow://{c.get('image', '')}",
                    "containerID": _cid(pod, c.get("name", "")),
                    "ready": ready,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                    "lastState": {},
                }
                for c in spec.get("containers") or []
            ],
            "initContainerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": f"hollow://{c.get('image', '')}",
                    "containerID": _cid(pod, c.get("name", "")),
                    "ready": True,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}},
                    "lastState": {},
                }
                for c in spec.get("initContainers") or []
            ]
            or None,
        }

    def _finished_status(self, pod: Obj, code: int) -> dict[str, Any]:
        status = pod.get("status") or {}
        now = now_rfc3339()
        reason = "Completed" if code == 0 else "Error"
        conds = []
        for c in status.get("conditions") or []:
            c = dict(c)
            if c.get("type") in ("Ready", "ContainersReady", "PodReadyToStartContainers"):
                c.update({"status": "False", "lastTransitionTime": now, "reason": "PodCompleted"})
            conds.append(c)
        statuses = []
        for cs in status.get("containerStatuses") or []:
            cs = dict(cs)
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", now)
            cs.update(
                {
                    "ready": False,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": code,
                            "reason": reason,
                            "startedAt": started,
                            "finishedAt": now,
                            "containerID": cs.get("containerID"),
                        }
                    },
                }
            )
            statuses.append(cs)
        return {
            "phase": "Succeeded" if code == 0 else "Failed",
            "conditions": conds,
            "containerStatuses": statuses,
        }
