"""A pool of hollow nodes: many simulated Nodes in one process, each an honest API client's worth of traffic.

Nodes register like kubelets (a Node with capacity, addresses and a Ready condition, labelled `type=hollow`), keep
their Lease in kube-node-lease renewed, and run pods as data (see `kybernetes.hollow.pods`). Heartbeats for all
nodes come from one task working through a heap of due times (with jitter), so ten thousand nodes cost one task
and a bounded number of in-flight requests rather than ten thousand sleeping coroutines.

A node's heartbeat can be stopped, to play a dead machine for the node lifecycle controller: either call
`stop_heartbeat(name)` or annotate the Node `hollow.kybernetes.io/heartbeat=stopped` (remove the annotation to
revive it). A stopped node renews nothing and does nothing to its pods.

When started by `kyb server --hollow-nodes N`, these environment variables override the defaults:
KYB_HOLLOW_RUNNING_DELAY, KYB_HOLLOW_JOB_DURATION, KYB_HOLLOW_HEARTBEAT_INTERVAL (seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import random
import time
from typing import Any

from kybernetes.client.informer import Handlers, Informer
from kybernetes.client.rest import MERGE_PATCH, ApiError, Client, resource_path
from kybernetes.hollow.nodes import (
    DEFAULT_CAPACITY,
    HEARTBEAT_ANNOTATION,
    HOLLOW_LABEL,
    HOLLOW_VALUE,
    LEASE_DURATION,
    LEASE_NAMESPACE,
    HollowNode,
    node_ip,
    pod_subnet,
)
from kybernetes.hollow.pods import PodLifecycle

log = logging.getLogger(__name__)


def _env_float(name: str, given: float | None, default: float) -> float:
    if given is not None:
        return given
    raw = os.environ.get(name)
    if raw:
        try:
            return float(raw)
        except ValueError:
            log.warning("ignoring %s=%r: not a number", name, raw)
    return default


class HollowNodePool:
    def __init__(
        self,
        client: Client,
        count: int,
        *,
        name_prefix: str = "hollow-",
        running_delay: float | None = None,
        heartbeat_interval: float | None = None,
        job_duration: float | None = None,
        jitter: float = 0.2,
        pod_cidr: str = "10.64.0.0/10",
        node_cidr: str = "10.200.0.0/16",
        capacity: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        concurrency: int = 32,
        first_index: int = 0,
    ) -> None:
        self.client = client
        self.count = count
        self.name_prefix = name_prefix
        self.running_delay = _env_float("KYB_HOLLOW_RUNNING_DELAY", running_delay, 0.0)
        self.heartbeat_interval = _env_float("KYB_HOLLOW_HEARTBEAT_INTERVAL", heartbeat_interval, 10.0)
        self.job_duration = _env_float("KYB_HOLLOW_JOB_DURATION", job_duration, 1.0)
        self.jitter = jitter
        self.capacity = dict(capacity or DEFAULT_CAPACITY)
        self.labels = dict(labels or {})
        self.concurrency = concurrency
        self.nodes: dict[str, HollowNode] = {}
        for i in range(first_index, first_index + count):
            name = f"{name_prefix}{i}"
            self.nodes[name] = HollowNode(name, i, node_ip(node_cidr, i), pod_subnet(pod_cidr, i))
        self.pods = PodLifecycle(
            client, self.nodes.get, running_delay=self.running_delay, job_duration=self.job_duration
        )
        self.node_informer = Informer(client, "", "v1", "nodes", label_selector=f"{HOLLOW_LABEL}={HOLLOW_VALUE}")
        self.node_informer.add_handlers(
            Handlers(on_add=self._node_seen, on_update=lambda _o, n: self._node_seen(n), on_delete=self._node_gone)
        )
        self._sem = asyncio.Semaphore(concurrency)
        self._heap: list[tuple[float, str]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._manual_stops: set[str] = set()
        self.heartbeats_sent = 0

    # ----------------------------------------------------------- lifecycle
    async def start(self) -> None:
        await self.register()
        await self.node_informer.start()
        await self.pods.start()
        now = time.monotonic()
        for name in self.nodes:
            heapq.heappush(self._heap, (now + random.random() * self.heartbeat_interval, name))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="hollow-heartbeats"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in [*self._tasks, *self._inflight]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.pods.stop()
        await self.node_informer.stop()
        await self.client.close()

    async def wait_synced(self, timeout: float = 30.0) -> None:
        await self.pods.informer.wait_synced(timeout)
        await self.node_informer.wait_synced(timeout)

    # --------------------------------------------------------- registration
    async def register(self) -> None:
        """Create every Node (or refresh its status if it exists) and its Lease, with bounded concurrency."""

        async def one(node: HollowNode) -> None:
            async with self._sem:
                await self._register_node(node)
                await self._renew(node)

        results = await asyncio.gather(*(one(n) for n in self.nodes.values()), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            log.warning("hollow: %d of %d nodes failed to register: %s", len(failed), len(results), failed[0])

    async def _register_node(self, node: HollowNode) -> None:
        path = resource_path("", "v1", "nodes")
        try:
            created = await self.client.create(path, node.node_object(self.capacity, self.labels))
            node.uid = created["metadata"]["uid"]
            return
        except ApiError as e:
            if e.status != 409:
                raise
        cur = await self.client.get(f"{path}/{node.name}")
        node.uid = cur["metadata"]["uid"]
        await self._post_status(node, cur)

    async def _post_status(self, node: HollowNode, cur: dict[str, Any] | None) -> None:
        prev = ((cur or {}).get("status") or {}).get("conditions")
        await self.client.patch(
            resource_path("", "v1", "nodes", name=node.name, subresource="status"),
            {"status": node.status(self.capacity, prev)},
            content_type=MERGE_PATCH,
        )

    # ------------------------------------------------------------ heartbeat
    def stop_heartbeat(self, name: str) -> None:
        self._manual_stops.add(name)
        node = self.nodes.get(name)
        if node is not None:
            node.heartbeat = False

    def resume_heartbeat(self, name: str) -> None:
        self._manual_stops.discard(name)
        node = self.nodes.get(name)
        if node is not None and not node.heartbeat:
            node.heartbeat = True
            self._schedule(name, 0.0)
            self.pods.kick_node(name)

    def _schedule(self, name: str, delay: float) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay, name))
        self._wake.set()

    async def _heartbeat_loop(self) -> None:
        while True:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, name = heapq.heappop(self._heap)
                node = self.nodes.get(name)
                if node is None or not node.heartbeat:
                    continue
                await self._sem.acquire()
                t = asyncio.create_task(self._beat(node))
                self._inflight.add(t)
                t.add_done_callback(self._inflight.discard)
            self._wake.clear()
            timeout = max(self._heap[0][0] - time.monotonic(), 0.0) if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _beat(self, node: HollowNode) -> None:
        try:
            await self._renew(node)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("hollow node %s: lease renewal failed: %s", node.name, e)
        finally:
            self._sem.release()
            spread = self.heartbeat_interval * self.jitter
            self._schedule(node.name, self.heartbeat_interval + random.uniform(-spread, spread))

    async def _renew(self, node: HollowNode) -> None:
        """One PUT per renewal: the Lease strategy creates on update, so no read is needed."""
        path = resource_path("coordination.k8s.io", "v1", "leases", namespace=LEASE_NAMESPACE, name=node.name)
        await self.client.update(path, node.lease(LEASE_DURATION))
        self.heartbeats_sent += 1

    # --------------------------------------------------------- node events
    def _node_seen(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        node = self.nodes.get(meta.get("name", ""))
        if node is None:
            return
        node.uid = meta.get("uid", node.uid)
        stopped = (meta.get("annotations") or {}).get(HEARTBEAT_ANNOTATION) == "stopped"
        if stopped or node.name in self._manual_stops:
            node.heartbeat = False
            return
        if not node.heartbeat:
            self.resume_heartbeat(node.name)
        ready = next(
            (c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None
        )
        if ready is None or ready.get("status") != "True":
            # Like a kubelet noticing the controller marked it Unknown: post fresh status.
            t = asyncio.get_running_loop().create_task(self._repost(node, obj))
            self._inflight.add(t)
            t.add_done_callback(self._inflight.discard)

    async def _repost(self, node: HollowNode, cur: dict[str, Any]) -> None:
        async with self._sem:
            try:
                await self._renew(node)
                await self._post_status(node, cur)
            except Exception as e:
                log.warning("hollow node %s: status update failed: %s", node.name, e)

    def _node_gone(self, obj: dict[str, Any]) -> None:
        node = self.nodes.get((obj.get("metadata") or {}).get("name", ""))
        if node is not None:
            log.info("hollow node %s was deleted; it stops", node.name)
            node.heartbeat = False
