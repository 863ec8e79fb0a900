"""The informers every service-facing component shares: Services and EndpointSlices, indexed by Service.

Components register one callback ("something changed") and re-read the whole picture when they sync, which is
how they batch bursts of changes into one rebuild (kube-proxy's minSyncPeriod idea).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.client.informer import Handlers, Informer, InformerFactory
from kybernetes.proxy.model import ServicePort, service_key_of_slice, service_ports

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class ServiceWatch:
    def __init__(self, factory: InformerFactory) -> None:
        self.services: Informer = factory.informer("", "v1", "services")
        self.slices: Informer = factory.informer("discovery.k8s.io", "v1", "endpointslices")
        self.slices.add_index("service", lambda o: [k] if (k := service_key_of_slice(o)) else [])

    def on_change(self, fn: Callable[[], None]) -> None:
        h = Handlers(on_add=lambda o: fn(), on_update=lambda a, b: fn(), on_delete=lambda o: fn())
        self.services.add_handlers(h)
        self.slices.add_handlers(h)

    def slices_for(self, namespace: str, name: str) -> list[Obj]:
        return self.slices.by_index("service", f"{namespace}/{name}")

    def service(self, namespace: str, name: str) -> Obj | None:
        return self.services.get_by(namespace, name)

    def ports_of(self, svc: Obj) -> list[ServicePort]:
        m = svc.get("metadata") or {}
        return service_ports(svc, self.slices_for(m.get("namespace", ""), m.get("name", "")))

    def ports(self) -> list[ServicePort]:
        out: list[ServicePort] = []
        for svc in self.services.list():
            out.extend(self.ports_of(svc))
        return out


class SyncLoop:
    """Runs `sync` after changes, batching those that arrive within `batch` seconds, and every `resync` seconds.

    A failed sync is retried with backoff. `synced` counts completed syncs (tests and callers wait on it).
    """

    def __init__(self, name: str, sync: Callable[[], Awaitable[None]], batch: float = 0.05, resync: float = 60.0) -> None:
        self.name = name
        self._sync = sync
        self.batch = batch
        self.resync = resync
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.syncs = 0

    def trigger(self) -> None:
        self._dirty.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.resync)
            await asyncio.sleep(self.batch)
            self._dirty.clear()
            try:
                await self._sync()
                self.syncs += 1
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: sync failed; retrying in %.1fs", self.name, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self._dirty.set()
