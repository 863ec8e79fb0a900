"""Fixtures for the storage tests: every conformance test runs against SQLite and against a real etcd.

The etcd server is started once per test session on 127.0.0.1 with free ports and a temporary data dir; each
test gets its own key prefix on it, so tests do not see each other's keys (revisions are still global, which is
why no test assumes absolute revision numbers).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from kybernetes.storage.etcd import EtcdBackend
from kybernetes.storage.interface import Backend
from kybernetes.storage.sqlite import SqliteBackend
from tests.support.etcd import EtcdServer

BackendFactory = Callable[[], Backend]
OpenStore = Callable[[], Awaitable[Backend]]


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def backend_factory(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> BackendFactory:
    """Makes (unstarted) backends that all see the same store: the same file, or the same etcd prefix."""
    if request.param == "sqlite":
        path = os.path.join(tmp_path, "state.db")
        return lambda: SqliteBackend(path)
    server: EtcdServer = request.getfixturevalue("etcd_server")
    prefix = f"/kyb-test-{uuid.uuid4().hex[:12]}"
    return lambda: EtcdBackend(server.endpoints, prefix=prefix)


@pytest.fixture
async def open_store(backend_factory: BackendFactory) -> AsyncIterator[OpenStore]:
    """Opens (starts) a backend on the test's store; every backend opened is closed after the test."""
    opened: list[Backend] = []

    async def open_() -> Backend:
        backend = backend_factory()
        await backend.start()
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        await backend.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Backend:
    return await open_store()
