"""Storage: the revisioned key-value store behind the API server.

Why it exists: the API server needs etcd v3 semantics (global revisions, guarded writes, watches from a past
revision, compaction, TTLs) and should run either standalone on one SQLite file or against a real etcd
cluster. interface.py is the contract; sqlite.py and etcd.py are the two backends; compactor.py trims history
periodically. open_backend() picks a backend by name.
"""

from __future__ import annotations

from kybernetes.storage.interface import (
    Backend,
    CompactedError,
    ConflictError,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    StorageError,
    UnavailableError,
    WatchEvent,
)

__all__ = [
    "Backend",
    "CompactedError",
    "ConflictError",
    "EventType",
    "FutureRevisionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "ListResult",
    "StorageError",
    "UnavailableError",
    "WatchEvent",
    "open_backend",
]


def open_backend(kind: str, *, data_dir: str, etcd_endpoints: list[str] | None = None) -> Backend:
    """A backend that is not started yet (call `await backend.start()`).

    kind "sqlite": the database is `<data_dir>/state.db` (data_dir is created when missing).
    kind "etcd": etcd_endpoints like ["http://127.0.0.1:2379"]; data_dir is unused.
    """
    if kind == "sqlite":
        import os

        from kybernetes.storage.sqlite import SqliteBackend, default_path

        os.makedirs(data_dir, exist_ok=True)
        return SqliteBackend(default_path(data_dir))
    if kind == "etcd":
        if not etcd_endpoints:
            raise ValueError("the etcd backend needs etcd_endpoints")
        from kybernetes.storage.etcd import EtcdBackend

        return EtcdBackend(etcd_endpoints)
    raise ValueError(f"unknown storage backend {kind!r} (expected 'sqlite' or 'etcd')")
