"""Leader election on a coordination.k8s.io/v1 Lease, so only one copy of a component acts at a time.

Several `kyb server` processes sharing one etcd each run a controller manager and a scheduler; exactly one of each
must act. Like client-go's `leaderelection` package, candidates race to write themselves into a Lease with the
resourceVersion as the lock, the holder renews it every `retry_period`, and the others take over once they have
seen the same record unchanged for `lease_duration` (measured on their own monotonic clock, so clock skew between
machines does not matter). A leader that cannot renew for `renew_deadline` steps down; on `stop()` it releases the
Lease at once so a successor need not wait for it to expire.

API (also meant for the scheduler):

    elector = LeaderElector(
        client,                              # kybernetes.client.rest.Client
        name="kube-scheduler",               # the Lease, in namespace "kube-system" by default
        on_started_leading=start_work,       # async () -> None, awaited once leadership is won
        on_stopped_leading=stop_work,        # async () -> None, awaited when it is lost or released
        identity=None,                       # default "<hostname>_<uuid4>"
        lease_duration=15.0, renew_deadline=10.0, retry_period=2.0,
    )
    await elector.start()                    # campaigns in the background; returns at once
    elector.is_leader                        # True while holding the Lease
    await elector.wait_for_leadership(timeout)
    await elector.stop()                     # stops campaigning; releases the Lease if held

After losing leadership the elector campaigns again; `on_started_leading` may therefore run more than once, always
after a matching `on_stopped_leading`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.machinery.meta import now_micro

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4()}"


class LeaderElector:
    def __init__(
        self,
        client: Client,
        *,
        name: str,
        on_started_leading: Callback,
        on_stopped_leading: Callback | None = None,
        namespace: str = "kube-system",
        identity: str | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (lease_duration > renew_deadline > retry_period > 0):
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.clock = clock
        self.is_leader = False
        self._leading = asyncio.Event()
        self._observed: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def path(self) -> str:
        return resource_path("coordination.k8s.io", "v1", "leases", namespace=self.namespace, name=self.name)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"leader-election {self.name}")

    async def wait_for_leadership(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._leading.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self.is_leader:
            await self._step_down()
            with contextlib.suppress(Exception):
                await self._release()

    # ------------------------------------------------------------------ loop
    async def _run(self) -> None:
        while True:
            await self._acquire()
            log.info("%s: %s became leader", self.name, self.identity)
            self.is_leader = True
            self._leading.set()
            try:
                await self.on_started_leading()
            except Exception:
                log.exception("%s: on_started_leading failed", self.name)
            await self._renew_until_lost()
            log.warning("%s: %s lost leadership", self.name, self.identity)
            await self._step_down()

    async def _acquire(self) -> None:
        """Try every retry_period until the Lease is ours."""
        while True:
            if await self._try_acquire_or_renew():
                return
            await asyncio.sleep(self.retry_period)

    async def _renew_until_lost(self) -> None:
        last_ok = self.clock()
        while True:
            await asyncio.sleep(self.retry_period)
            if await self._try_acquire_or_renew():
                last_ok = self.clock()
            elif self.clock() - last_ok >= self.renew_deadline or not self._still_ours():
                return

    def _still_ours(self) -> bool:
        """False once someone else's record has been observed (we were replaced)."""
        holder = (self._observed or {}).get("holderIdentity")
        return not holder or holder == self.identity

    async def _step_down(self) -> None:
        self.is_leader = False
        self._leading.clear()
        if self.on_stopped_leading is not None:
            try:
                await self.on_stopped_leading()
            except Exception:
                log.exception("%s: on_stopped_leading failed", self.name)

    # ------------------------------------------------------------ one round
    def _spec(self, acquire_time: str, transitions: int, duration: float | None = None) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(duration if duration is not None else self.lease_duration),
            "acquireTime": acquire_time,
            "renewTime": now_micro(),
            "leaseTransitions": transitions,
        }

    async def _try_acquire_or_renew(self) -> bool:
        now = self.clock()
        try:
            lease = await self.client.get(self.path)
        except ApiError as e:
            if e.status != 404:
                log.warning("%s: reading lease failed: %s", self.name, e)
                return False
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(now_micro(), 0),
            }
            try:
                created = await self.client.create(
                    resource_path("coordination.k8s.io", "v1", "leases", namespace=self.namespace), body
                )
            except ApiError as ce:
                if ce.status != 409:
                    log.warning("%s: creating lease failed: %s", self.name, ce)
                return False
            self._observe(created.get("spec") or {}, now)
            return True
        except Exception as e:
            log.warning("%s: reading lease failed: %s", self.name, e)
            return False
        spec = lease.get("spec") or {}
        self._observe(spec, now)
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity:
            duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
            if self._observed_at + duration > now:
                return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            new_spec = self._spec(spec.get("acquireTime") or now_micro(), transitions)
        else:
            new_spec = self._spec(now_micro(), transitions + 1)
        lease["spec"] = new_spec
        try:
            updated = await self.client.update(self.path, lease)
        except ApiError as e:
            if e.status != 409:
                log.warning("%s: updating lease failed: %s", self.name, e)
            return False
        except Exception as e:
            log.warning("%s: updating lease failed: %s", self.name, e)
            return False
        self._observe(updated.get("spec") or new_spec, now)
        return True

    def _observe(self, spec: dict[str, Any], now: float) -> None:
        if spec != self._observed:
            self._observed = dict(spec)
            self._observed_at = now

    async def _release(self) -> None:
        lease = await self.client.get(self.path)
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return
        lease["spec"] = {
            "leaseDurationSeconds": 1,
            "acquireTime": now_micro(),
            "renewTime": now_micro(),
            "leaseTransitions": int(spec.get("leaseTransitions") or 0),
        }
        await self.client.update(self.path, lease)
