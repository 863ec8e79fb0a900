"""The shape every controller shares: informers feed a work queue, N workers reconcile one key at a time.

A controller registers informer handlers that only enqueue keys, reads state only from informer caches, writes
through the API, and returns from `reconcile` when done (optionally asking to be called again after a delay).
Because caches lag behind the controller's own writes, controllers that create or delete in bulk record
*expectations* ("I created 4 pods for rs X") and do not act on X again until the informer has shown them those
4 pods; otherwise a second sync would create them twice. This is client-go's ControllerExpectations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.client.informer import Handlers, Informer, InformerFactory, Obj, meta_key
from kybernetes.client.rest import ApiError, Client
from kybernetes.client.workqueue import WorkQueue
from kybernetes.controllers.events import EventRecorder

log = logging.getLogger(__name__)

EXPECTATIONS_TTL = 300.0


def deepcopy(obj: Obj) -> Obj:
    """A private copy of a cached object; cached objects are shared and must never be mutated."""
    out: Obj = orjson.loads(orjson.dumps(obj))
    return out


class Controller:
    """Base class: subclasses set `name`, wire informers in `__init__` and implement `reconcile(key)`."""

    name = "controller"
    workers = 2

    def __init__(self, client: Client, informers: InformerFactory, recorder: EventRecorder | None = None) -> None:
        self.client = client
        self.informers = informers
        self.queue = WorkQueue()
        self.recorder = recorder or EventRecorder(client, self.name)
        self._tasks: list[asyncio.Task[None]] = []
        self._watched: list[Informer] = []

    # -------------------------------------------------------------- wiring
    def informer(self, group: str, version: str, resource: str, **kw: str) -> Informer:
        inf = self.informers.informer(group, version, resource, **kw)
        self._watched.append(inf)
        return inf

    def watch_primary(self, inf: Informer) -> None:
        """Enqueue the object's own key on every change."""
        inf.add_handlers(
            Handlers(
                on_add=self.enqueue,
                on_update=lambda old, new: self.enqueue(new),
                on_delete=self.enqueue,
            )
        )

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(meta_key(obj))

    def enqueue_after(self, obj: Obj, delay: float) -> None:
        self.queue.add_after(meta_key(obj), delay)

    # ----------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Wait for this controller's informers, then start the workers."""
        for inf in self._watched:
            try:
                await inf.wait_synced(60.0)
            except TimeoutError:
                log.warning("%s: %s not synced after 60s; starting anyway", self.name, inf.path)
        await self.on_synced()
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}"))

    async def on_synced(self) -> None:
        """Hook run once the informers are synced, before the workers start."""

    async def stop(self) -> None:
        self.queue.shutdown()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.recorder.stop()

    def spawn(self, coro: Any, name: str) -> None:
        """Run a background loop owned by this controller (cancelled on stop)."""
        self._tasks.append(asyncio.create_task(coro, name=f"{self.name}-{name}"))

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                again = await self.reconcile(key)
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except ApiError as e:
                if e.status == 409:
                    log.debug("%s: %s: conflict, retrying", self.name, key)
                else:
                    log.warning("%s: %s: %s", self.name, key, e)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("%s: reconciling %s failed", self.name, key)
                self.queue.add_rate_limited(key)
            self.queue.done(key)

    async def reconcile(self, key: str) -> float | None:
        """Bring the object named by key to its desired state; return seconds to requeue after, or None."""
        raise NotImplementedError


@dataclass
class _Expectation:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    stamp: float = field(default_factory=time.monotonic)


class Expectations:
    """Per-controller-key counts of creates and deletes not yet observed through the informer.

    Deletes are tracked by pod uid (client-go's UIDTrackingControllerExpectations), so a delete event for a pod we
    did not delete does not satisfy an expectation. Expectations older than the TTL are considered satisfied: a
    lost watch event must not wedge a controller forever.
    """

    def __init__(self, ttl: float = EXPECTATIONS_TTL) -> None:
        self.ttl = ttl
        self._items: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        e = self._items.get(key)
        if e is None:
            return True
        if e.adds <= 0 and not e.deletes:
            return True
        return time.monotonic() - e.stamp > self.ttl

    def expect_creations(self, key: str, n: int) -> None:
        e = self._items.setdefault(key, _Expectation())
        e.adds = n
        e.stamp = time.monotonic()

    def expect_deletions(self, key: str, uids: Iterable[str]) -> None:
        e = self._items.setdefault(key, _Expectation())
        e.deletes = set(uids)
        e.stamp = time.monotonic()

    def creation_observed(self, key: str) -> None:
        e = self._items.get(key)
        if e is not None:
            e.adds -= 1

    def lower_creations(self, key: str, n: int) -> None:
        e = self._items.get(key)
        if e is not None:
            e.adds -= n

    def deletion_observed(self, key: str, uid: str) -> None:
        e = self._items.get(key)
        if e is not None:
            e.deletes.discard(uid)

    def forget(self, key: str) -> None:
        self._items.pop(key, None)
