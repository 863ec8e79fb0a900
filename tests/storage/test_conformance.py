"""The storage conformance suite: every test runs against SQLite and against a real etcd (see conftest.py).

Revisions are global (and shared between tests on etcd), so tests compare revisions with each other and never
assume absolute numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable

import pytest

from kybernetes.storage.interface import (
    Backend,
    CompactedError,
    ConflictError,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    WatchEvent,
)

OpenStore = Callable[[], Awaitable[Backend]]  # the open_store fixture (conftest.py)

WAIT = 10.0  # upper bound for any single awaited watch event


async def collect(it: AsyncGenerator[list[WatchEvent], None], n: int) -> list[WatchEvent]:
    """The next n events of a watch (failing after WAIT seconds)."""
    events: list[WatchEvent] = []
    async with asyncio.timeout(WAIT):
        while len(events) < n:
            events.extend(await anext(it))
    return events


async def test_create_get(store: Backend) -> None:
    before = await store.current_revision()
    rev = await store.create("/r/k1", b"v1")
    assert rev > before
    assert await store.current_revision() == rev
    kv, read_at = await store.get("/r/k1")
    assert kv is not None and read_at == rev
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.lease) == ("/r/k1", b"v1", rev, rev, 0)
    with pytest.raises(KeyExistsError) as exc:
        await store.create("/r/k1", b"other")
    assert exc.value.current is not None and exc.value.current.mod_revision == rev
    assert await store.current_revision() == rev  # a failed create writes nothing
    missing, _ = await store.get("/r/nope")
    assert missing is None
    assert (await store.create("/r/empty", b"")) > rev
    empty, _ = await store.get("/r/empty")
    assert empty is not None and empty.value == b""


async def test_update_and_reads_at_revision(store: Backend) -> None:
    r0 = await store.create("/u/before", b"")
    r1 = await store.create("/u/k", b"one")
    r2 = await store.update("/u/k", b"two", r1)
    assert r2 > r1
    with pytest.raises(ConflictError) as exc:
        await store.update("/u/k", b"stale", r1)
    assert exc.value.current.mod_revision == r2 and exc.value.current.value == b"two"
    r3 = await store.update("/u/k", b"three", 0)  # unconditional
    with pytest.raises(KeyNotFoundError):
        await store.update("/u/missing", b"x", 0)
    with pytest.raises(KeyNotFoundError):
        await store.update("/u/missing", b"x", r1)

    kv, _ = await store.get("/u/k")
    assert kv is not None and (kv.value, kv.create_revision, kv.mod_revision) == (b"three", r1, r3)
    old, at = await store.get("/u/k", revision=r2)
    assert (
        at == r2
        and old is not None
        and (old.value, old.mod_revision, old.create_revision) == (b"two", r2, r1)
    )
    before, _ = await store.get("/u/k", revision=r0)
    assert before is None
    listed = await store.list("/u/", revision=r1)
    assert [(i.key, i.value) for i in listed.items] == [("/u/before", b""), ("/u/k", b"one")]
    assert listed.revision == r1
    with pytest.raises(FutureRevisionError):
        await store.get("/u/k", revision=r3 + 1000)
    with pytest.raises(FutureRevisionError):
        await store.list("/u/", revision=r3 + 1000)


async def test_list_paging_and_count(store: Backend) -> None:
    names = [f"/l/item-{i:02d}" for i in range(10)]
    for name in reversed(names):  # insertion order differs from key order
        await store.create(name, name.encode())
    await store.create("/l-other/x", b"x")
    await store.create("/k/before", b"x")
    deleted_at, _ = await store.delete("/l/item-03")
    live = [n for n in names if n != "/l/item-03"]

    full = await store.list("/l/")
    assert [i.key for i in full.items] == live and not full.more
    assert full.revision == await store.current_revision()
    assert await store.count("/l/") == 9
    assert await store.count("/l") == 10  # plain string prefix: includes /l-other/x

    pages: list[str] = []
    start, revision = "", 0
    while True:
        page = await store.list("/l/", revision=revision, limit=4, start_key=start)
        revision = page.revision
        pages.extend(i.key for i in page.items)
        assert len(page.items) <= 4
        if not page.more:
            break
        start = page.items[-1].key + "\x00"
        await store.create(f"/l/late-{len(pages)}", b"late")  # writes between pages do not show up
    assert pages == live

    exact = await store.list("/l/", revision=revision, limit=9)  # exactly 9 live keys at that revision
    assert len(exact.items) == 9 and not exact.more
    at_old = await store.list("/l/", revision=deleted_at - 1)
    assert "/l/item-03" in [i.key for i in at_old.items]


async def test_prefix_isolation(store: Backend) -> None:
    start = await store.current_revision() + 1
    await store.create("/a/b/x", b"1")
    await store.create("/a/bc/y", b"2")
    await store.create("/a/b", b"3")
    assert [i.key for i in (await store.list("/a/b/")).items] == ["/a/b/x"]
    assert [i.key for i in (await store.list("/a/bc/")).items] == ["/a/bc/y"]
    assert [i.key for i in (await store.list("/a/b")).items] == ["/a/b", "/a/b/x", "/a/bc/y"]
    assert await store.count("/a/b/") == 1

    watch = store.watch("/a/b/", start)
    try:
        await store.update("/a/bc/y", b"2b", 0)
        await store.update("/a/b/x", b"1b", 0)
        events = await collect(watch, 2)
        assert [(e.type, e.kv.key, e.kv.value) for e in events] == [
            (EventType.PUT, "/a/b/x", b"1"),
            (EventType.PUT, "/a/b/x", b"1b"),
        ]
    finally:
        await watch.aclose()


async def test_delete(store: Backend) -> None:
    r1 = await store.create("/d/k", b"v1")
    r2 = await store.update("/d/k", b"v2", r1)
    with pytest.raises(ConflictError) as exc:
        await store.delete("/d/k", expected_mod_revision=r1)
    assert exc.value.current.mod_revision == r2
    rev, last = await store.delete("/d/k", expected_mod_revision=r2)
    assert rev > r2
    assert (last.key, last.value, last.create_revision, last.mod_revision) == ("/d/k", b"v2", r1, r2)
    assert (await store.get("/d/k"))[0] is None
    with pytest.raises(KeyNotFoundError):
        await store.delete("/d/k")
    with pytest.raises(KeyNotFoundError):
        await store.delete("/d/k", expected_mod_revision=r2)
    r4 = await store.create("/d/k", b"again")  # recreate: a new generation
    kv, _ = await store.get("/d/k")
    assert kv is not None and kv.create_revision == r4 and kv.value == b"again"
    rev5, last5 = await store.delete("/d/k")  # unconditional
    assert rev5 > r4 and last5.mod_revision == r4


async def test_racing_guarded_updates(store: Backend) -> None:
    rev = await store.create("/race/k", b"0")
    for round_ in range(5):
        results = await asyncio.gather(
            *(store.update("/race/k", f"{round_}-{i}".encode(), rev) for i in range(8)),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, ConflictError)]
        assert len(winners) == 1 and len(losers) == 7, results
        rev = winners[0]
        kv, _ = await store.get("/race/k")
        assert kv is not None and kv.mod_revision == rev
    creates = await asyncio.gather(
        *(store.create("/race/new", b"x") for _ in range(6)), return_exceptions=True
    )
    assert sum(isinstance(r, int) for r in creates) == 1
    assert sum(isinstance(r, KeyExistsError) for r in creates) == 5


async def test_watch_from_past_revision_with_prev_kv(store: Backend) -> None:
    r1 = await store.create("/w/a", b"a1")
    r2 = await store.update("/w/a", b"a2", r1)
    r3, _ = await store.delete("/w/a", r2)
    r4 = await store.create("/w/b", b"b1")
    await store.create("/elsewhere", b"x")

    watch = store.watch("/w/", r1)
    try:
        events = await collect(watch, 4)
    finally:
        await watch.aclose()
    assert [(e.type, e.kv.key, e.revision) for e in events] == [
        (EventType.PUT, "/w/a", r1),
        (EventType.PUT, "/w/a", r2),
        (EventType.DELETE, "/w/a", r3),
        (EventType.PUT, "/w/b", r4),
    ]
    create, update, delete, _ = events
    assert create.prev_kv is None and create.kv.value == b"a1" and create.kv.create_revision == r1
    assert update.prev_kv is not None
    assert (update.prev_kv.value, update.prev_kv.mod_revision) == (b"a1", r1)
    assert (update.kv.value, update.kv.create_revision, update.kv.mod_revision) == (b"a2", r1, r2)
    assert (delete.kv.value, delete.kv.mod_revision) == (b"a2", r3)
    assert delete.prev_kv is not None
    assert (delete.prev_kv.value, delete.prev_kv.mod_revision, delete.prev_kv.create_revision) == (
        b"a2",
        r2,
        r1,
    )

    later = store.watch("/w/", r3)  # start in the middle
    try:
        events = await collect(later, 2)
    finally:
        await later.aclose()
    assert [e.revision for e in events] == [r3, r4]


async def test_watch_live_changes(store: Backend) -> None:
    start = await store.current_revision() + 1
    watch = store.watch("/live/", start)
    try:
        pending = asyncio.ensure_future(collect(watch, 30))
        revs = []
        for i in range(10):
            rev = await store.create(f"/live/k{i}", b"v")
            revs.append(rev)
            revs.append(await store.update(f"/live/k{i}", b"w", rev))
            revs.append((await store.delete(f"/live/k{i}"))[0])
            await store.create(f"/dead/k{i}", b"v")
        events = await pending
        assert [e.revision for e in events] == revs
        assert [e.type for e in events[:3]] == [EventType.PUT, EventType.PUT, EventType.DELETE]
        # Writes after the watcher caught up still arrive.
        more = asyncio.ensure_future(collect(watch, 1))
        last = await store.create("/live/last", b"v")
        assert [e.revision for e in await more] == [last]
    finally:
        await watch.aclose()


async def test_watch_ends_when_backend_closes(open_store: OpenStore) -> None:
    store = await open_store()
    start = await store.current_revision() + 1
    watch = store.watch("/closing/", start)
    await store.create("/closing/k", b"v")
    assert len(await collect(watch, 1)) == 1
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)  # let the watcher block on the next event
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, WAIT)


async def test_compaction(store: Backend) -> None:
    r1 = await store.create("/c/k", b"1")
    r2 = await store.update("/c/k", b"2", r1)
    r3 = await store.update("/c/k", b"3", r2)
    gone = await store.create("/c/gone", b"x")
    r5, _ = await store.delete("/c/gone")
    r6 = await store.create("/c/other", b"o")
    await store.compact(r3)
    assert await store.compacted_revision() == r3

    with pytest.raises(CompactedError) as exc:
        await store.get("/c/k", revision=r2)
    assert exc.value.compacted_revision == r3 and exc.value.requested == r2
    with pytest.raises(CompactedError):
        await store.list("/c/", revision=r1)
    with pytest.raises(CompactedError):
        await anext(store.watch("/c/", r2))

    kv, _ = await store.get("/c/k", revision=r3)  # the compaction point itself stays readable
    assert kv is not None and kv.value == b"3"
    assert [i.key for i in (await store.list("/c/", revision=r3)).items] == ["/c/k"]
    assert [i.key for i in (await store.list("/c/", revision=gone)).items] == ["/c/gone", "/c/k"]
    assert [i.key for i in (await store.list("/c/")).items] == ["/c/k", "/c/other"]

    watch = store.watch("/c/", r3)
    try:
        events = await collect(watch, 4)
    finally:
        await watch.aclose()
    assert [e.revision for e in events] == [r3, gone, r5, r6]
    assert events[2].prev_kv is not None and events[2].prev_kv.value == b"x"

    await store.compact(r2)  # older than the compaction point: a no-op
    assert await store.compacted_revision() == r3
    with pytest.raises(FutureRevisionError):
        await store.compact(await store.current_revision() + 100)

    # Compact past a delete: the deleted key is gone from every readable revision; writes go on.
    await store.compact(r6)
    assert await store.compacted_revision() == r6
    assert [i.key for i in (await store.list("/c/")).items] == ["/c/k", "/c/other"]
    r7 = await store.update("/c/k", b"4", r3)
    r8 = await store.create("/c/gone", b"back")
    kv, _ = await store.get("/c/gone")
    assert kv is not None and kv.create_revision == r8 and r8 > r7


async def test_ttl_expiry_produces_delete_event(store: Backend) -> None:
    rev = await store.create("/ttl/k", b"short-lived", ttl=1)
    await store.create("/ttl/keep", b"stays")
    kv, _ = await store.get("/ttl/k")
    assert kv is not None and kv.lease != 0
    watch = store.watch("/ttl/", rev)
    try:
        events = await collect(watch, 2)
        while len(events) < 3:
            events.extend(await collect(watch, 1))
    finally:
        await watch.aclose()
    assert [(e.type, e.kv.key) for e in events] == [
        (EventType.PUT, "/ttl/k"),
        (EventType.PUT, "/ttl/keep"),
        (EventType.DELETE, "/ttl/k"),
    ]
    assert events[2].kv.value == b"short-lived"
    assert events[2].prev_kv is not None and events[2].prev_kv.mod_revision == rev
    assert (await store.get("/ttl/k"))[0] is None
    assert (await store.get("/ttl/keep"))[0] is not None


async def test_update_without_ttl_clears_it(store: Backend) -> None:
    rev = await store.create("/ttl2/k", b"v", ttl=1)
    rev2 = await store.update("/ttl2/k", b"v2", rev)  # no ttl: the key no longer expires
    marker_watch = store.watch("/ttl2/", rev2 + 1)
    try:
        rev3 = await store.create("/ttl2/marker", b"m", ttl=1)
        events = await collect(marker_watch, 2)  # marker put, then marker expiry
    finally:
        await marker_watch.aclose()
    assert [(e.type, e.kv.key) for e in events] == [
        (EventType.PUT, "/ttl2/marker"),
        (EventType.DELETE, "/ttl2/marker"),
    ]
    assert events[0].revision == rev3
    kv, _ = await store.get("/ttl2/k")  # expired markers were written after k's old expiry: k is still there
    assert kv is not None and kv.mod_revision == rev2 and kv.lease == 0


async def test_restart_persistence(open_store: OpenStore) -> None:
    store = await open_store()
    r1 = await store.create("/p/a", b"a")
    r2 = await store.update("/p/a", b"a2", r1)
    r3 = await store.create("/p/b", b"b")
    r4, _ = await store.delete("/p/b")
    ttl_rev = await store.create("/p/ttl", b"t", ttl=1)
    await store.compact(r2)
    before = await store.current_revision()
    await store.close()

    store = await open_store()
    assert await store.current_revision() == before
    assert await store.compacted_revision() == r2
    kv, _ = await store.get("/p/a")
    assert kv is not None and (kv.value, kv.create_revision, kv.mod_revision) == (b"a2", r1, r2)
    assert [i.key for i in (await store.list("/p/", revision=r3)).items] == ["/p/a", "/p/b"]
    with pytest.raises(CompactedError):
        await store.get("/p/a", revision=r1)
    watch = store.watch("/p/", r2)  # history from before the restart, then the TTL expiry after it
    try:
        events = await collect(watch, 5)
    finally:
        await watch.aclose()
    assert [(e.type, e.revision) for e in events[:4]] == [
        (EventType.PUT, r2),
        (EventType.PUT, r3),
        (EventType.DELETE, r4),
        (EventType.PUT, ttl_rev),
    ]
    assert (events[4].type, events[4].kv.key) == (EventType.DELETE, "/p/ttl")
    new = await store.create("/p/c", b"c")
    assert new > events[4].revision


async def test_concurrent_creates_get_unique_increasing_revisions(store: Backend) -> None:
    start = await store.current_revision()
    revs = await asyncio.gather(*(store.create(f"/cc/k{i:03d}", str(i).encode()) for i in range(200)))
    assert len(set(revs)) == 200 and min(revs) > start
    listed = await store.list("/cc/")
    assert len(listed.items) == 200
    by_key = {kv.key: kv for kv in listed.items}
    for i, rev in enumerate(revs):
        kv = by_key[f"/cc/k{i:03d}"]
        assert kv.mod_revision == kv.create_revision == rev and kv.value == str(i).encode()
    watch = store.watch("/cc/", min(revs))
    try:
        events = await collect(watch, 200)
    finally:
        await watch.aclose()
    seen = [e.revision for e in events]
    assert seen == sorted(revs)  # the watch order is the revision order
