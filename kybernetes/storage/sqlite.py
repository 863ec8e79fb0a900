"""The single-node storage backend: etcd v3 semantics on one SQLite file.

Why it exists: a kybernetes control plane should start with no external database. This backend gives the API
server the same revisioned key-value contract as etcd (see interface.py) from a file next to the server.

Design, in the spirit of k3s-io/kine: one append-only table `kv` where every write (create, update, delete) is a
new row and the row id *is* the global revision. A row records the key, whether it created or deleted the key,
the key's create revision, the revision it supersedes (prev_revision), the TTL expiry, the new value and the
value it replaced (so a watch can report prev_kv without a join). A unique index on (name, prev_revision) is the
optimistic lock: two writers superseding the same version cannot both commit.

Threading: every statement runs synchronously on the event-loop thread through one connection. One writer is
all SQLite allows anyway, and an in-loop point write or read costs microseconds, far less than a hop to a
worker thread. Writes are single autocommit statements, and no coroutine here awaits between reading the
latest version of a key and inserting its successor, so each operation is atomic with respect to the others.
Long scans (list, watch catch-up, compaction) work in bounded chunks and yield to the loop between chunks.

Durability: WAL with synchronous=NORMAL (the default) makes an acknowledged write survive a crash or SIGKILL of
this process (the WAL frame is in the OS page cache before the call returns), but a power loss or kernel crash
can lose the most recent transactions. Pass synchronous="full" to fsync the WAL on every commit and survive
power loss too, at a large cost in write throughput.

Watches: after each commit the writer appends the event to an in-memory ring of recent events and wakes the
waiting watchers (an asyncio.Event, no polling). A watcher whose position is still in the ring reads from
memory; one that starts further back (or fell behind) reads rows with id > position from the table in
batches until it catches up.

Only one process may open a database file: a lock file (`<path>.lock`, flock) enforces it, because watches and
the revision counter live in this process's memory.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import heapq
import logging
import os
import sqlite3
import time
from collections.abc import AsyncGenerator
from typing import IO, Literal

from kybernetes.storage.interface import (
    CompactedError,
    ConflictError,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    StorageError,
    WatchEvent,
)

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the revision of this write
    name TEXT NOT NULL,                    -- the key
    created INTEGER NOT NULL,              -- 1 when this write created the key
    deleted INTEGER NOT NULL,              -- 1 when this write deleted the key (a tombstone)
    create_revision INTEGER NOT NULL,      -- revision at which the key was (last) created
    prev_revision INTEGER NOT NULL,        -- id of the row this one supersedes, 0 for none
    lease INTEGER NOT NULL,                -- TTL expiry in unix milliseconds, 0 for none
    value BLOB NOT NULL,                   -- the new value (empty for a tombstone)
    old_value BLOB,                        -- value of the superseded row, NULL for none
    old_lease INTEGER NOT NULL DEFAULT 0   -- lease of the superseded row
);
CREATE UNIQUE INDEX IF NOT EXISTS kv_name_prev_revision ON kv (name, prev_revision);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE INDEX IF NOT EXISTS kv_lease ON kv (lease) WHERE lease > 0;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# Columns needed to rebuild a watch event from a row.
_EVENT_COLUMNS = "id, name, deleted, create_revision, prev_revision, lease, value, old_value, old_lease"
_EventRow = tuple[int, str, int, int, int, int, bytes, bytes | None, int]

_RING_SIZE = 1024  # recent events kept in memory for live watchers (between 1x and 2x this)
_WATCH_WINDOW = 2000  # rows scanned per query while a watcher catches up from the table
_LIST_CHUNK = 1000  # keys fetched per query while listing
_COMPACT_BATCH = 500  # rows examined per compaction transaction
_EXPIRE_BATCH = 500  # expired keys deleted per timer callback


def _prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with prefix (None: no upper bound)."""
    p = prefix.rstrip("\U0010ffff")
    if not p:
        return None
    return p[:-1] + chr(ord(p[-1]) + 1)


def _event_from_row(row: _EventRow) -> WatchEvent:
    rev, name, deleted, create_rev, prev_rev, lease, value, old_value, old_lease = row
    prev = None
    if prev_rev and old_value is not None:
        prev = KeyValue(name, old_value, create_rev, prev_rev, old_lease)
    if deleted:
        last_value = old_value if old_value is not None else b""
        return WatchEvent(EventType.DELETE, KeyValue(name, last_value, create_rev, rev, old_lease), prev)
    return WatchEvent(EventType.PUT, KeyValue(name, value, create_rev, rev, lease), prev)


class SqliteBackend:
    """etcd-shaped storage on one SQLite file (see the module docstring). Use from one event loop only."""

    name = "sqlite"

    def __init__(self, path: str, *, synchronous: Literal["normal", "full"] = "normal") -> None:
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        self.path = path
        self.synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        self._lock_file: IO[bytes] | None = None
        self._rev = 0
        self._compacted = 0
        self._closed = False
        # Recent events: self._ring[i] has revision self._ring_base + i (revisions are contiguous).
        self._ring: list[WatchEvent] = []
        self._ring_base = 0
        self._commit_event: asyncio.Event | None = None
        self._compact_lock = asyncio.Lock()
        self._expiry_heap: list[tuple[int, str, int]] = []  # (expiry ms, key, mod revision)
        self._timer: asyncio.Handle | None = None
        self._timer_at = 0

    # ----------------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._db is not None:
            raise StorageError("backend already started")
        if self.path != ":memory:":
            self._acquire_lock()
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            self._release_lock()
            raise StorageError(f"cannot open {self.path}: {e}") from e
        self._db = db
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kv'").fetchone()
        self._rev = int(row[0]) if row else 0
        self._compacted = self._meta("compacted")
        for name, rev, lease in db.execute(
            "SELECT name, id, lease FROM kv WHERE lease > 0 AND deleted = 0"
            " AND id = (SELECT MAX(k2.id) FROM kv AS k2 WHERE k2.name = kv.name)"
        ):
            self._expiry_heap.append((lease, name, rev))
        heapq.heapify(self._expiry_heap)
        self._schedule_expiry()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake_watchers()
        async with self._compact_lock:  # let a running compaction batch finish
            if self._db is not None:
                self._db.close()
        self._release_lock()

    def _acquire_lock(self) -> None:
        lock_file = open(self.path + ".lock", "ab")  # held (and locked) until close()
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise StorageError(f"{self.path} is in use by another process") from None
        self._lock_file = lock_file

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the flock
            self._lock_file = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None or self._closed:
            raise StorageError("sqlite backend is not open")
        return self._db

    def _meta(self, key: str) -> int:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------------------------------------- reads

    async def current_revision(self) -> int:
        self._conn()
        return self._rev

    async def compacted_revision(self) -> int:
        self._conn()
        return self._compacted

    def _read_revision(self, revision: int) -> int:
        if revision == 0:
            return self._rev
        if revision < 0 or revision > self._rev:
            raise FutureRevisionError(f"revision {revision} is newer than the current {self._rev}")
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted, self._rev)
        return revision

    def _latest(self, key: str) -> tuple[int, int, int, int, bytes] | None:
        row: tuple[int, int, int, int, bytes] | None = (
            self._conn()
            .execute(
                "SELECT id, deleted, create_revision, lease, value FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1",
                (key,),
            )
            .fetchone()
        )
        return row

    async def get(self, key: str, revision: int = 0) -> tuple[KeyValue | None, int]:
        db = self._conn()
        rev = self._read_revision(revision)
        row = db.execute(
            "SELECT id, deleted, create_revision, lease, value FROM kv"
            " WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1",
            (key, rev),
        ).fetchone()
        if row is None or row[1]:
            return None, rev
        return KeyValue(key, row[4], row[2], row[0], row[3]), rev

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_key: str = "") -> ListResult:
        self._conn()
        rev = self._read_revision(revision)
        end = _prefix_end(prefix)
        lo = max(prefix, start_key)
        want = limit + 1 if limit > 0 else 0  # one extra live key tells whether there is more
        items: list[KeyValue] = []
        range_sql = "name >= ?" + (" AND name < ?" if end is not None else "")
        sql = (
            "SELECT name, value, create_revision, id, lease, deleted FROM kv WHERE id IN ("
            f"SELECT MAX(id) FROM kv WHERE {range_sql} AND id <= ? GROUP BY name ORDER BY name LIMIT ?"
            ") ORDER BY name"
        )
        while True:
            chunk = min(_LIST_CHUNK, want - len(items)) if want else _LIST_CHUNK
            args: tuple[object, ...] = (lo, end, rev, chunk) if end is not None else (lo, rev, chunk)
            rows = self._conn().execute(sql, args).fetchall()
            for name, value, create_rev, mod_rev, lease, deleted in rows:
                if not deleted:
                    items.append(KeyValue(name, value, create_rev, mod_rev, lease))
            if len(rows) < chunk or (want and len(items) >= want):
                break
            lo = rows[-1][0] + "\x00"
            await asyncio.sleep(0)  # let writers run between chunks
            if self._closed:
                raise StorageError("sqlite backend closed during list")
            if rev < self._compacted:  # a compaction ran meanwhile and may have removed rows we need
                raise CompactedError(rev, self._compacted, self._rev)
        more = bool(want) and len(items) > limit
        if more:
            del items[limit:]
        return ListResult(items, rev, more)

    async def count(self, prefix: str) -> int:
        db = self._conn()
        end = _prefix_end(prefix)
        range_sql = "name >= ?" + (" AND name < ?" if end is not None else "")
        args: tuple[str, ...] = (prefix, end) if end is not None else (prefix,)
        row = db.execute(
            f"SELECT COUNT(*) FROM kv WHERE id IN (SELECT MAX(id) FROM kv WHERE {range_sql} GROUP BY name)"
            " AND deleted = 0",
            args,
        ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------------------------------------ writes

    def _insert(
        self,
        key: str,
        *,
        created: bool,
        deleted: bool,
        create_revision: int,
        prev_revision: int,
        lease: int,
        value: bytes,
        old_value: bytes | None,
        old_lease: int,
    ) -> int:
        """Append one row as revision current+1 (one autocommit transaction) and publish its event."""
        db = self._conn()
        rev = self._rev + 1
        if created:
            create_revision = rev
        try:
            db.execute(
                "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, lease, value,"
                " old_value, old_lease) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rev,
                    key,
                    int(created),
                    int(deleted),
                    create_revision,
                    prev_revision,
                    lease,
                    value,
                    old_value,
                    old_lease,
                ),
            )
        except sqlite3.Error as e:
            raise StorageError(f"write of {key} failed: {e}") from e
        self._rev = rev
        if not self._ring:
            self._ring_base = rev
        self._ring.append(
            _event_from_row(
                (rev, key, int(deleted), create_revision, prev_revision, lease, value, old_value, old_lease)
            )
        )
        if len(self._ring) >= 2 * _RING_SIZE:
            del self._ring[:_RING_SIZE]
            self._ring_base += _RING_SIZE
        self._wake_watchers()
        return rev

    def _expiry(self, ttl: int) -> int:
        return int(time.time() * 1000) + ttl * 1000 if ttl > 0 else 0

    async def create(self, key: str, value: bytes, ttl: int = 0) -> int:
        cur = self._latest(key)
        if cur is not None and not cur[1]:
            raise KeyExistsError(key, KeyValue(key, cur[4], cur[2], cur[0], cur[3]))
        lease = self._expiry(ttl)
        rev = self._insert(
            key,
            created=True,
            deleted=False,
            create_revision=0,
            prev_revision=cur[0] if cur else 0,
            lease=lease,
            value=value,
            old_value=None,
            old_lease=0,
        )
        if lease:
            self._add_expiry(lease, key, rev)
        return rev

    async def update(self, key: str, value: bytes, expected_mod_revision: int, ttl: int = 0) -> int:
        cur = self._latest(key)
        if cur is None or cur[1]:
            raise KeyNotFoundError(key)
        cur_rev, _, create_rev, cur_lease, cur_value = cur
        if expected_mod_revision and cur_rev != expected_mod_revision:
            raise ConflictError(key, KeyValue(key, cur_value, create_rev, cur_rev, cur_lease))
        lease = self._expiry(ttl)
        rev = self._insert(
            key,
            created=False,
            deleted=False,
            create_revision=create_rev,
            prev_revision=cur_rev,
            lease=lease,
            value=value,
            old_value=cur_value,
            old_lease=cur_lease,
        )
        if lease:
            self._add_expiry(lease, key, rev)
        return rev

    async def delete(self, key: str, expected_mod_revision: int = 0) -> tuple[int, KeyValue]:
        return self._delete(key, expected_mod_revision)

    def _delete(self, key: str, expected_mod_revision: int) -> tuple[int, KeyValue]:
        cur = self._latest(key)
        if cur is None or cur[1]:
            raise KeyNotFoundError(key)
        cur_rev, _, create_rev, cur_lease, cur_value = cur
        last = KeyValue(key, cur_value, create_rev, cur_rev, cur_lease)
        if expected_mod_revision and cur_rev != expected_mod_revision:
            raise ConflictError(key, last)
        rev = self._insert(
            key,
            created=False,
            deleted=True,
            create_revision=create_rev,
            prev_revision=cur_rev,
            lease=0,
            value=b"",
            old_value=cur_value,
            old_lease=cur_lease,
        )
        return rev, last

    # ------------------------------------------------------------------------------------------------- TTL

    def _add_expiry(self, expiry_ms: int, key: str, rev: int) -> None:
        heapq.heappush(self._expiry_heap, (expiry_ms, key, rev))
        self._schedule_expiry()

    def _schedule_expiry(self) -> None:
        if self._closed or not self._expiry_heap:
            return
        first = self._expiry_heap[0][0]
        if self._timer is not None:
            if self._timer_at <= first:
                return
            self._timer.cancel()
        delay = max(0.0, first / 1000 - time.time())
        self._timer_at = first
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        """Timer callback: delete every key whose TTL has passed, as ordinary deletes (with events)."""
        self._timer = None
        if self._closed:
            return
        now = int(time.time() * 1000)
        done = 0
        while self._expiry_heap and self._expiry_heap[0][0] <= now and done < _EXPIRE_BATCH:
            _, key, rev = heapq.heappop(self._expiry_heap)
            cur = self._latest(key)
            if cur is None or cur[0] != rev or cur[1]:
                continue  # rewritten or deleted since; a newer version carries its own expiry
            try:
                self._delete(key, rev)
            except StorageError:
                log.exception("expiring %s failed", key)
            done += 1
        if self._expiry_heap and self._expiry_heap[0][0] <= now:
            self._timer_at = now
            self._timer = asyncio.get_running_loop().call_soon(self._expire)
        else:
            self._schedule_expiry()

    # ----------------------------------------------------------------------------------------------- watches

    def _wake_watchers(self) -> None:
        ev = self._commit_event
        if ev is not None:
            self._commit_event = None
            ev.set()

    async def _wait_for_commit(self) -> None:
        if self._commit_event is None:
            self._commit_event = asyncio.Event()
        await self._commit_event.wait()

    def watch(self, prefix: str, start_revision: int) -> AsyncGenerator[builtins.list[WatchEvent], None]:
        return self._watch(prefix, start_revision)

    async def _watch(
        self, prefix: str, start_revision: int
    ) -> AsyncGenerator[builtins.list[WatchEvent], None]:
        self._conn()
        if start_revision < 0:
            raise ValueError("start_revision must be >= 0")
        if start_revision == 0:
            last = self._rev
        else:
            if start_revision < self._compacted:
                raise CompactedError(start_revision, self._compacted, self._rev)
            last = start_revision - 1
        end = _prefix_end(prefix)
        while not self._closed:
            if last >= self._rev:
                await self._wait_for_commit()
                continue
            if self._ring and self._ring_base <= last + 1:
                # Live path: every revision after `last` is in the in-memory ring.
                batch = [
                    ev for ev in self._ring[last + 1 - self._ring_base :] if ev.kv.key.startswith(prefix)
                ]
                last = self._rev
            else:
                # Catch-up path: read a bounded window of rows after `last` from the table.
                if last + 1 < self._compacted:
                    raise CompactedError(last + 1, self._compacted, self._rev)
                hi = min(self._rev, last + _WATCH_WINDOW)
                range_sql = " AND name >= ?" + (" AND name < ?" if end is not None else "")
                args: tuple[object, ...] = (last, hi, prefix) + ((end,) if end is not None else ())
                rows = (
                    self._conn()
                    .execute(
                        f"SELECT {_EVENT_COLUMNS} FROM kv NOT INDEXED WHERE id > ? AND id <= ?{range_sql}"
                        " ORDER BY id",
                        args,
                    )
                    .fetchall()
                )
                batch = [_event_from_row(r) for r in rows]
                last = hi
                if not batch:
                    await asyncio.sleep(0)  # scanning a long stretch of other keys: let others run
                    continue
            if batch:
                yield batch

    # ------------------------------------------------------------------------------------------- compaction

    async def compact(self, revision: int) -> None:
        self._conn()
        if revision > self._rev:
            raise FutureRevisionError(f"cannot compact to {revision}: current revision is {self._rev}")
        async with self._compact_lock:
            if self._closed:
                return
            db = self._conn()
            if revision > self._compacted:
                # Publish the new compaction point first: from now on nobody reads below it, so the rows
                # deleted below are never needed again.
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('compacted', ?)", (revision,))
                self._compacted = revision
            target = self._compacted
            cursor = self._meta("compact_cursor")  # rows with id < cursor are already processed
            while cursor < target and not self._closed:
                rows = db.execute(
                    "SELECT id, prev_revision, deleted FROM kv WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?",
                    (cursor, target, _COMPACT_BATCH),
                ).fetchall()
                doomed = [(prev,) for _, prev, _ in rows if prev]  # superseded at or before target
                doomed += [(rid,) for rid, _, deleted in rows if deleted and rid < target]  # tombstones
                # A tombstone at exactly `target` stays (a watch from `target` must see it); the cursor stops
                # at `target` so the next compaction examines that row again.
                cursor = target if len(rows) < _COMPACT_BATCH else min(rows[-1][0] + 1, target)
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany("DELETE FROM kv WHERE id = ?", doomed)
                    db.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('compact_cursor', ?)", (cursor,)
                    )
                    db.execute("COMMIT")
                except sqlite3.Error as e:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise StorageError(f"compaction failed: {e}") from e
                await asyncio.sleep(0)  # let writers and readers run between batches


def default_path(data_dir: str) -> str:
    """Where open_backend("sqlite") keeps its database inside data_dir."""
    return os.path.join(data_dir, "state.db")
