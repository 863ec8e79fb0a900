"""Events about pods (Created, Started, Killing, BackOff, Unhealthy, FailedMount ...), as `kubectl describe` shows them.

Recording never blocks a pod worker: events go to a bounded queue drained by one task. Repeats of the same
(pod, reason, message) bump the existing Event's count, like client-go's event correlator, instead of flooding
the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.machinery.meta import now_rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MAX_QUEUE = 1000


class EventRecorder:
    def __init__(self, client: Client, node_name: str, component: str = "kubelet") -> None:
        self.client = client
        self.node = node_name
        self.component = component
        self._queue: asyncio.Queue[tuple[Obj, str, str, str, str]] = asyncio.Queue(MAX_QUEUE)
        self._seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kubelet events")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def record(self, pod: Obj, reason: str, message: str, type_: str = "Normal", field_path: str = "") -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((pod, reason, message, type_, field_path))

    def forget(self, uid: str) -> None:
        for k in [k for k in self._seen if k[0] == uid]:
            del self._seen[k]

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._post(*item)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("event not recorded: %s", e)

    async def _post(self, pod: Obj, reason: str, message: str, type_: str, field_path: str) -> None:
        meta = pod.get("metadata") or {}
        ns = str(meta.get("namespace", "default"))
        uid = str(meta.get("uid", ""))
        key = (uid, reason, message, field_path)
        ts = now_rfc3339()
        prev = self._seen.get(key)
        if prev is not None:
            name, count = prev
            try:
                await self.client.patch(
                    resource_path("", "v1", "events", namespace=ns, name=name),
                    {"count": count + 1, "lastTimestamp": ts},
                )
                self._seen[key] = (name, count + 1)
                return
            except ApiError as e:
                if e.status != 404:
                    raise
        name = f"{meta.get('name', 'pod')}.{secrets.token_hex(8)}"
        involved: Obj = {
            "kind": "Pod",
            "namespace": ns,
            "name": meta.get("name", ""),
            "uid": uid,
            "apiVersion": "v1",
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if field_path:
            involved["fieldPath"] = field_path
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": self.component, "host": self.node},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.node,
        }
        await self.client.create(resource_path("", "v1", "events", namespace=ns), ev)
        self._seen[key] = (name, 1)
