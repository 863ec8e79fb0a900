"""The etcd-shaped storage interface every backend implements.

Only the API server talks to storage. It sees a flat keyspace of byte values, each write creating a new global
revision (a monotonically increasing integer shared by all keys), exactly like etcd v3. Optimistic concurrency is
expressed as "write only if the key's mod revision is still X", and watches replay every change after a revision
for as long as that revision has not been compacted away. Keeping the contract this narrow is what lets the SQLite
backend (one append-only table, in the spirit of kine) and a real etcd cluster pass one conformance suite.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol


class StorageError(Exception):
    """Base class of every error a backend raises on purpose."""


class KeyExistsError(StorageError):
    """create() found the key already present."""

    def __init__(self, key: str, current: KeyValue | None = None) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key
        self.current = current


class KeyNotFoundError(StorageError):
    """update() or delete() found no live key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class ConflictError(StorageError):
    """The key's mod revision differs from the expected one; `current` is what is stored now."""

    def __init__(self, key: str, current: KeyValue) -> None:
        super().__init__(f"conflict on {key}: mod revision is {current.mod_revision}")
        self.key = key
        self.current = current


class CompactedError(StorageError):
    """The requested revision has been compacted.

    `compacted_revision` is the store's compaction point R: revisions < R are gone, R itself is the oldest
    revision still readable (etcd semantics). `current_revision` is the newest revision, 0 when unknown.
    """

    def __init__(self, requested: int, compacted_revision: int, current_revision: int = 0) -> None:
        super().__init__(f"revision {requested} has been compacted (compacted at {compacted_revision})")
        self.requested = requested
        self.compacted_revision = compacted_revision
        self.current_revision = current_revision


class FutureRevisionError(StorageError):
    """A read (or compact) asked for a revision newer than the store's current one."""


class UnavailableError(StorageError):
    """The store cannot be reached right now (etcd down or unreachable); the request may be retried.

    For a write, the outcome is unknown: it may or may not have been applied.
    """


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One version of one key.

    create_revision: revision at which the key was (last) created.
    mod_revision: revision of this version (for a DELETE event: the revision of the delete).
    lease: TTL lease id, 0 when the key has none.
    """

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int = 0


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A change observed by a watch.

    For PUT, kv is the new version; prev_kv the version it replaced (None on creation).
    For DELETE, kv.value is the last value before deletion and kv.mod_revision the delete's revision;
    prev_kv is that last version (with its own mod revision).
    """

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the revision the list was read at
    more: bool  # True when `limit` cut the result short


class Backend(Protocol):
    """An etcd-shaped revisioned key-value store.

    Keys are strings like "/registry/pods/default/web-1". Prefix lists and watches match on plain string
    prefixes. All revisions are > 0; revision 0 in a read argument means "current".
    """

    name: str

    async def start(self) -> None:
        """Open connections / files; create schema. Must be called once before anything else."""

    async def close(self) -> None:
        """Release everything; pending watches end (their iterators finish)."""

    async def current_revision(self) -> int:
        """The newest revision in the store (0 on an empty SQLite store; a fresh etcd starts at 1)."""

    async def compacted_revision(self) -> int:
        """The compaction point R (0 when nothing was compacted): reads at revisions < R and watches
        starting below R raise CompactedError; R itself is still readable (etcd semantics)."""

    async def get(self, key: str, revision: int = 0) -> tuple[KeyValue | None, int]:
        """The live version of key at `revision` (0 = current) and the revision read at.

        Raises CompactedError for a compacted revision, FutureRevisionError beyond the current one.
        """

    async def list(
        self, prefix: str, revision: int = 0, limit: int = 0, start_key: str = ""
    ) -> ListResult:
        """Live keys with `prefix` (and >= start_key when given), in key order, at `revision` (0 = current).

        limit 0 means no limit. Raises CompactedError / FutureRevisionError like get().
        """

    async def count(self, prefix: str) -> int:
        """How many live keys have `prefix` now."""

    async def create(self, key: str, value: bytes, ttl: int = 0) -> int:
        """Create key if absent; return the new revision. ttl > 0 attaches a lease that deletes it after ttl
        seconds. Raises KeyExistsError."""

    async def update(self, key: str, value: bytes, expected_mod_revision: int, ttl: int = 0) -> int:
        """Replace key's value only if its mod revision is expected_mod_revision (0 = unconditionally, but the
        key must exist). Return the new revision. Raises KeyNotFoundError or ConflictError."""

    async def delete(self, key: str, expected_mod_revision: int = 0) -> tuple[int, KeyValue]:
        """Delete key (guarded like update when expected_mod_revision != 0). Return the delete's revision and
        the last version. Raises KeyNotFoundError or ConflictError."""

    def watch(self, prefix: str, start_revision: int) -> AsyncGenerator[builtins.list[WatchEvent], None]:
        """Every change to keys with `prefix` at revisions >= start_revision, in revision order, in batches,
        then live changes until the iterator is closed or the backend closes. start_revision 0 means "from the
        next revision on". Raises CompactedError (on first iteration) when start_revision is compacted, or later
        if a slow watcher falls behind a compaction; the caller then relists. Closing the backend ends it.
        Call `aclose()` on the generator when done with it: on etcd it holds a gRPC stream open.

        Nothing happens until the first iteration. At a compaction boundary prev_kv may be None on etcd when the
        previous version itself was compacted away."""

    async def compact(self, revision: int) -> None:
        """Forget history before `revision`: versions superseded at or before it and keys deleted before it.

        Afterwards compacted_revision() == revision and the state at `revision` is still readable. Compacting
        to a revision <= the current compaction point is a no-op; beyond the current revision it raises
        FutureRevisionError."""
