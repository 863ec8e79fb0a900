"""The periodic compactor compacts, each tick, to the revision it saw at the previous tick."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kybernetes.storage.compactor import run_compactor
from kybernetes.storage.interface import Backend, StorageError


class FakeBackend:
    """Just enough of a backend: a revision that moves on every tick and a record of compactions."""

    def __init__(self) -> None:
        self.revision = 0
        self.compacted: asyncio.Queue[int] = asyncio.Queue()
        self.fail_next = False

    async def current_revision(self) -> int:
        self.revision += 10
        return self.revision

    async def compact(self, revision: int) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StorageError("etcd is down")
        await self.compacted.put(revision)


async def test_compacts_to_the_revision_seen_one_tick_earlier() -> None:
    fake = FakeBackend()
    task = asyncio.ensure_future(run_compactor(fake, interval=0.01))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(10):
            assert await fake.compacted.get() == 10  # tick 1 saw 10, tick 2 compacts to it
            assert await fake.compacted.get() == 20
            fake.fail_next = True  # a failing compaction is retried on the next tick
            assert await fake.compacted.get() == 30
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_rejects_a_bad_interval() -> None:
    backend: Backend = FakeBackend()  # type: ignore[assignment]
    with pytest.raises(ValueError):
        await run_compactor(backend, interval=0)
