"""Events that controllers emit about the objects they act on (what `kubectl describe` lists at the bottom).

Recording must never slow a controller down or fail it: events go into a bounded buffer that one background task
writes as core/v1 Events; when the buffer is full, new events are dropped (upstream's broadcaster does the same).
Repeats of the same (object, reason, message) within a short window bump the count of the existing Event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.machinery.meta import now_rfc3339

log = logging.getLogger(__name__)

MAX_PENDING = 1000
AGGREGATE_WINDOW = 600.0


class EventRecorder:
    def __init__(self, client: Client, component: str) -> None:
        self.client = client
        self.component = component
        self._pending: asyncio.Queue[tuple[dict[str, Any], str, str, str]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[tuple[str, str, str], tuple[str, int, float]] = {}
        self.enabled = True

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event about obj (Normal or Warning). Never blocks, never raises."""
        if not self.enabled:
            return
        if self._pending is None:
            self._pending = asyncio.Queue(MAX_PENDING)
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"events-{self.component}")
        with contextlib.suppress(asyncio.QueueFull):
            self._pending.put_nowait((obj, type_, reason, message))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self._pending = None

    async def _run(self) -> None:
        assert self._pending is not None
        while True:
            obj, type_, reason, message = await self._pending.get()
            try:
                await self._write(obj, type_, reason, message)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("event %s for %s not recorded: %s", reason, obj.get("metadata", {}).get("name"), e)

    async def _write(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        uid = str(meta.get("uid", ""))
        key = (uid, reason, message)
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen[2] < AGGREGATE_WINDOW:
            name, count, _ = seen
            with contextlib.suppress(ApiError):
                await self.client.patch(
                    resource_path("", "v1", "events", namespace=ns, name=name),
                    {"count": count + 1, "lastTimestamp": now_rfc3339()},
                )
                self._seen[key] = (name, count + 1, now)
                return
        name = f"{meta.get('name', 'unknown')}.{int(datetime.now(UTC).timestamp() * 1e9):x}"
        ts = now_rfc3339()
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "kind": obj.get("kind", ""),
                "apiVersion": obj.get("apiVersion", ""),
                "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""),
                "uid": uid,
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": self.component},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "eventTime": None,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": "",
        }
        await self.client.create(resource_path("", "v1", "events", namespace=ns), ev)
        if len(self._seen) > 10000:
            self._seen.clear()
        self._seen[key] = (name, 1, now)
