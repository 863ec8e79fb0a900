"""etcd-only storage tests: several backends (API server processes) on one etcd, endpoint failover, leases."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from kybernetes.storage.etcd import EtcdBackend
from kybernetes.storage.interface import ConflictError, EventType, UnavailableError, WatchEvent

pytestmark = pytest.mark.etcd

WAIT = 10.0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _collect(watch: object, n: int) -> list[WatchEvent]:
    events: list[WatchEvent] = []
    async with asyncio.timeout(WAIT):
        while len(events) < n:
            events.extend(await anext(watch))  # type: ignore[call-overload]
    return events


async def test_two_backends_see_each_others_writes_and_events(etcd_server: object) -> None:
    endpoints = etcd_server.endpoints  # type: ignore[attr-defined]
    prefix = f"/kyb-two-{uuid.uuid4().hex[:8]}"
    a, b = EtcdBackend(endpoints, prefix), EtcdBackend(endpoints, prefix)
    await a.start()
    await b.start()
    try:
        start = await a.current_revision() + 1
        watch_b = b.watch("/pods/", start)
        watch_a = a.watch("/pods/", start)
        r1 = await a.create("/pods/p1", b"from-a")
        kv, _ = await b.get("/pods/p1")
        assert kv is not None and kv.value == b"from-a" and kv.mod_revision == r1
        r2 = await b.update("/pods/p1", b"from-b", r1)
        with pytest.raises(ConflictError):
            await a.update("/pods/p1", b"stale", r1)
        r3, _ = await a.delete("/pods/p1", r2)
        for watch in (watch_a, watch_b):
            events = await _collect(watch, 3)
            assert [(e.type, e.revision) for e in events] == [
                (EventType.PUT, r1),
                (EventType.PUT, r2),
                (EventType.DELETE, r3),
            ]
            await watch.aclose()
        await a.compact(r2)
        assert await b.compacted_revision() == r2  # b learns etcd's compaction point by itself
    finally:
        await a.close()
        await b.close()


async def test_prefix_namespaces_keys(etcd_server: object) -> None:
    endpoints = etcd_server.endpoints  # type: ignore[attr-defined]
    name = uuid.uuid4().hex[:8]
    inner, outer = EtcdBackend(endpoints, f"/ns-{name}"), EtcdBackend(endpoints)
    await inner.start()
    await outer.start()
    try:
        await inner.create("/k", b"v")
        assert (await outer.get(f"/ns-{name}/k"))[0] is not None
        assert [kv.key for kv in (await inner.list("/")).items] == ["/k"]
    finally:
        await inner.close()
        await outer.close()


async def test_failover_to_the_next_endpoint(etcd_server: object) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    backend = EtcdBackend([dead, *etcd_server.endpoints], f"/fo-{uuid.uuid4().hex[:8]}", timeout=5)  # type: ignore[attr-defined]
    await backend.start()  # the first endpoint is down: reads move on to the next one
    try:
        rev = await backend.create("/k", b"v")
        assert (await backend.get("/k"))[0] is not None and rev > 0
    finally:
        await backend.close()


async def test_unreachable_etcd_is_unavailable() -> None:
    backend = EtcdBackend([f"127.0.0.1:{_closed_port()}"], timeout=5)
    with pytest.raises(UnavailableError):
        await backend.start()
    await backend.close()


async def test_leases_are_reused_per_ttl(etcd_server: object) -> None:
    backend = EtcdBackend(etcd_server.endpoints, f"/lease-{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    await backend.start()
    try:
        await backend.create("/e1", b"", ttl=600)
        await backend.create("/e2", b"", ttl=600)
        await backend.create("/e3", b"", ttl=30)
        leases = [(await backend.get(k))[0] for k in ("/e1", "/e2", "/e3")]
        assert all(kv is not None and kv.lease for kv in leases)
        assert leases[0].lease == leases[1].lease != leases[2].lease  # type: ignore[union-attr]
    finally:
        await backend.close()


def test_endpoint_parsing() -> None:
    assert EtcdBackend(["http://10.0.0.1:2380", "etcd.local", "[::1]:4001"]).endpoints == [
        ("10.0.0.1", 2380),
        ("etcd.local", 2379),
        ("::1", 4001),
    ]
    with pytest.raises(ValueError):
        EtcdBackend(["https://10.0.0.1:2379"])
    with pytest.raises(ValueError):
        EtcdBackend([])
