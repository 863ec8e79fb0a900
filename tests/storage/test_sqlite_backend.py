"""SQLite-only storage tests: crash durability, the single-process lock, the watch catch-up path across the
in-memory event ring, and compaction actually shrinking the table."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from kybernetes.storage import open_backend
from kybernetes.storage.interface import CompactedError, EventType, StorageError, WatchEvent
from kybernetes.storage.sqlite import _RING_SIZE, SqliteBackend

WAIT = 20.0

# Creates keys as fast as it can and prints "<index> <revision>" after each create has returned.
BURST_CHILD = """
import asyncio, sys
from kybernetes.storage.sqlite import SqliteBackend

async def main() -> None:
    backend = SqliteBackend(sys.argv[1])
    await backend.start()
    i = 0
    while True:
        rev = await backend.create(f"/burst/{i:08d}", b"x" * 256)
        print(i, rev, flush=True)
        i += 1

asyncio.run(main())
"""


async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BURST_CHILD, path, stdout=asyncio.subprocess.PIPE
    )
    acked: dict[int, int] = {}
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(WAIT):
            while len(acked) < 3000:
                line = await proc.stdout.readline()
                assert line, "the child exited early"
                index, rev = map(int, line.split())
                acked[index] = rev
        proc.send_signal(signal.SIGKILL)  # mid-burst: the child is busy creating
        await asyncio.wait_for(proc.wait(), WAIT)
        assert proc.returncode == -signal.SIGKILL
        async with asyncio.timeout(WAIT):  # anything acknowledged before the kill counts too
            assert proc.stdout is not None
            for line in (await proc.stdout.read()).splitlines():
                parts = line.split()
                if len(parts) == 2:
                    acked[int(parts[0])] = int(parts[1])
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    backend = SqliteBackend(path)
    await backend.start()
    try:
        assert await backend.current_revision() >= max(acked.values())
        listed = await backend.list("/burst/")
        by_key = {kv.key: kv.mod_revision for kv in listed.items}
        for index, rev in acked.items():
            assert by_key.get(f"/burst/{index:08d}") == rev, index
        assert await backend.create("/after", b"x") == await backend.current_revision()
    finally:
        await backend.close()


async def test_one_process_per_database(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    first = SqliteBackend(path)
    await first.start()
    second = SqliteBackend(path)
    with pytest.raises(StorageError, match="in use"):
        await second.start()
    await first.create("/k", b"v")
    await first.close()
    third = SqliteBackend(path)
    await third.start()
    assert (await third.get("/k"))[0] is not None
    await third.close()


async def test_synchronous_full_and_memory(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SqliteBackend(str(tmp_path / "x.db"), synchronous="off")  # type: ignore[arg-type]
    full = SqliteBackend(str(tmp_path / "full.db"), synchronous="full")
    await full.start()
    assert full._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert full._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    await full.create("/k", b"v")
    await full.close()
    memory = SqliteBackend(":memory:")
    await memory.start()
    rev = await memory.create("/k", b"v")
    assert (await memory.get("/k"))[0] is not None and rev == 1
    await memory.close()


async def test_open_backend(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    backend = open_backend("sqlite", data_dir=str(data_dir))
    await backend.start()
    await backend.create("/k", b"v")
    await backend.close()
    assert (data_dir / "state.db").exists()
    with pytest.raises(ValueError):
        open_backend("etcd", data_dir=str(data_dir))
    with pytest.raises(ValueError):
        open_backend("zookeeper", data_dir=str(data_dir))
    assert open_backend("etcd", data_dir="", etcd_endpoints=["http://127.0.0.1:2379"]).name == "etcd"


async def _collect(watch: object, n: int) -> list[WatchEvent]:
    events: list[WatchEvent] = []
    async with asyncio.timeout(WAIT):
        while len(events) < n:
            events.extend(await anext(watch))  # type: ignore[call-overload]
    return events


async def test_watch_catch_up_beyond_the_ring(tmp_path: Path) -> None:
    backend = SqliteBackend(str(tmp_path / "state.db"))
    await backend.start()
    try:
        n = 3 * _RING_SIZE
        first = await backend.create("/ring/k00000", b"0")
        for i in range(1, n):
            await backend.create(f"/ring/k{i:05d}", str(i).encode())
            await backend.create(f"/noise/k{i:05d}", b"")
        from_start = backend.watch("/ring/", first)  # older than the ring: read from the table
        live = backend.watch("/ring/", await backend.current_revision() + 1)
        events = await _collect(from_start, n)
        assert [e.kv.key for e in events] == [f"/ring/k{i:05d}" for i in range(n)]
        assert all(e.type is EventType.PUT and e.prev_kv is None for e in events)
        revs = [e.revision for e in events]
        assert revs == sorted(revs)
        # Both watchers now follow live writes.
        rev = await backend.update("/ring/k00001", b"new", 0)
        for watch in (from_start, live):
            (event,) = await _collect(watch, 1)
            assert event.revision == rev and event.prev_kv is not None and event.prev_kv.value == b"1"
        await from_start.aclose()
        await live.aclose()
    finally:
        await backend.close()


async def test_slow_watcher_behind_compaction_gets_compacted_error(tmp_path: Path) -> None:
    backend = SqliteBackend(str(tmp_path / "state.db"))
    await backend.start()
    try:
        start = await backend.create("/slow/k", b"0")
        watch = backend.watch("/slow/", start)
        assert len(await _collect(watch, 1)) == 1
        rev = start
        for i in range(2 * _RING_SIZE + 10):  # the watcher falls out of the ring
            rev = await backend.update("/slow/k", str(i).encode(), rev)
        await backend.compact(rev)
        with pytest.raises(CompactedError) as exc:
            await _collect(watch, 1)
        assert exc.value.compacted_revision == rev
    finally:
        await backend.close()


async def test_compaction_shrinks_the_table_in_batches(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    backend = SqliteBackend(path)
    await backend.start()
    try:
        revs = {}
        for i in range(300):
            revs[i] = await backend.create(f"/cmp/k{i:03d}", b"v0")
        for round_ in range(1, 5):
            for i in range(300):
                revs[i] = await backend.update(f"/cmp/k{i:03d}", f"v{round_}".encode(), revs[i])
        for i in range(0, 300, 3):
            await backend.delete(f"/cmp/k{i:03d}")
        target = await backend.current_revision()
        writes = asyncio.ensure_future(_write_during(backend))
        await backend.compact(target)
        await writes
        rows = backend._conn().execute("SELECT COUNT(*) FROM kv WHERE id <= ?", (target,)).fetchone()[0]
        # 200 live keys keep one row each; the 100 tombstones are gone except one at exactly `target`.
        assert rows == 201
        listed = await backend.list("/cmp/")
        assert len(listed.items) == 200 and all(kv.value == b"v4" for kv in listed.items)
        again = await backend.create("/cmp/k000", b"back")
        await backend.compact(await backend.current_revision())
        assert (await backend.get("/cmp/k000"))[0] is not None and again > target
    finally:
        await backend.close()
    reopened = SqliteBackend(path)
    await reopened.start()
    try:
        assert await reopened.compacted_revision() > target
        assert await reopened.count("/cmp/") == 201
    finally:
        await reopened.close()


async def _write_during(backend: SqliteBackend) -> None:
    for i in range(50):
        await backend.create(f"/during/{i}", b"x")
        await asyncio.sleep(0)


def test_database_file_is_plain_sqlite(tmp_path: Path) -> None:
    """The schema is inspectable with any SQLite tool (and the stdlib)."""
    path = str(tmp_path / "state.db")

    async def write() -> None:
        backend = SqliteBackend(path)
        await backend.start()
        rev = await backend.create("/k", b"v")
        await backend.update("/k", b"w", rev)
        await backend.close()

    asyncio.run(write())
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT id, name, created, deleted, prev_revision, value, old_value FROM kv"
        ).fetchall()
    finally:
        db.close()
    assert rows == [(1, "/k", 1, 0, 0, b"v", None), (2, "/k", 0, 0, 1, b"w", b"v")]
    assert os.path.exists(path + ".lock")
