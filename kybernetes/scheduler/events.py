"""Events the scheduler reports (Scheduled, FailedScheduling, Preempted), written without slowing scheduling.

Like client-go's broadcaster, `event()` never blocks: it puts the event on a bounded queue that two writer
tasks drain, and drops events when the queue is full. While the scheduling queue has pods ready to try, the
writers wait (unless half the queue is full): on a small machine every HTTP request costs the scheduler CPU, and
placing pods matters more than reporting it. Timestamps are taken when the event happens, not when written. Repeats of the same (object, reason, message) bump the
existing Event's count and lastTimestamp instead of creating a new object, so `kubectl describe pod` shows
`(x3 over 20s)` as with the real scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Any

from kybernetes.client.rest import MERGE_PATCH, ApiError, Client, resource_path
from kybernetes.machinery.meta import now_rfc3339

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class EventRecorder:
    def __init__(self, client: Client, component: str = "default-scheduler", instance: str = "",
                 max_queue: int = 10000, workers: int = 2, idle: asyncio.Event | None = None) -> None:
        self.client = client
        self.idle = idle
        self.component = component
        self.instance = instance
        self.workers = workers
        self.dropped = 0
        self._q: asyncio.Queue[tuple[Obj, str, str, str, str, str]] = asyncio.Queue(max_queue)
        self._seen: OrderedDict[tuple[str, str, str], tuple[str, int]] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._worker(), name=f"events-{i}") for i in range(self.workers)]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []

    async def flush(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._q.join(), timeout)

    def event(self, obj: Obj, type_: str, reason: str, action: str, message: str) -> None:
        try:
            self._q.put_nowait((obj, type_, reason, action, message, now_rfc3339()))
        except asyncio.QueueFull:
            self.dropped += 1

    async def _worker(self) -> None:
        while True:
            # Placement first: while pods are waiting to be scheduled, events wait (unless the backlog grows).
            while self.idle is not None and not self.idle.is_set() and self._q.qsize() < self._q.maxsize // 2:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.idle.wait(), 0.5)
            item = await self._q.get()
            try:
                await self._write(*item)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("event not written: %s", e)
            finally:
                self._q.task_done()

    async def _write(self, obj: Obj, type_: str, reason: str, action: str, message: str, now: str) -> None:
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        uid = str(meta.get("uid") or "")
        key = (uid, reason, message)
        seen = self._seen.get(key)
        if seen is not None:
            name, count = seen
            try:
                await self.client.patch(
                    resource_path("", "v1", "events", ns, name),
                    {"count": count + 1, "lastTimestamp": now},
                    content_type=MERGE_PATCH,
                )
                self._seen[key] = (name, count + 1)
                self._seen.move_to_end(key)
                return
            except ApiError as e:
                if e.status != 404:
                    raise
        name = f"{meta.get('name', 'obj')}.{time.time_ns():x}"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion") or "v1",
                "kind": obj.get("kind") or "Pod",
                "name": meta.get("name"),
                "namespace": ns,
                "uid": uid,
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "action": action,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "eventTime": None,
            "count": 1,
        }
        await self.client.create(resource_path("", "v1", "events", ns), body)
        self._seen[key] = (name, 1)
        if len(self._seen) > 4096:
            self._seen.popitem(last=False)
