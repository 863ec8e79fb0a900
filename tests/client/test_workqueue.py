"""WorkQueue: the client-go guarantees controllers rely on."""

from __future__ import annotations

import asyncio

from kybernetes.client.workqueue import WorkQueue


async def test_bursts_collapse_and_order_is_fifo() -> None:
    q = WorkQueue()
    for k in ["a", "b", "a", "c", "b"]:
        q.add(k)
    assert len(q) == 3
    assert [await q.get(), await q.get(), await q.get()] == ["a", "b", "c"]


async def test_a_key_is_never_processed_twice_at_once() -> None:
    q = WorkQueue()
    q.add("k")
    first = await q.get()
    q.add("k")  # changed again while a worker holds it
    assert len(q) == 0
    getter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0.01)
    assert not getter.done(), "a second worker got a key that is still being processed"
    q.done(first or "")
    assert await asyncio.wait_for(getter, 1) == "k"


async def test_done_without_readd_does_not_requeue() -> None:
    q = WorkQueue()
    q.add("k")
    k = await q.get()
    q.done(k or "")
    assert len(q) == 0


async def test_many_waiting_workers_each_get_one_key() -> None:
    q = WorkQueue()
    workers = [asyncio.ensure_future(q.get()) for _ in range(5)]
    await asyncio.sleep(0)
    for i in range(5):
        q.add(str(i))
    got = await asyncio.wait_for(asyncio.gather(*workers), 1)
    assert sorted(k or "" for k in got) == ["0", "1", "2", "3", "4"]


async def test_cancelled_waiter_does_not_swallow_a_wakeup() -> None:
    q = WorkQueue()
    w1 = asyncio.ensure_future(q.get())
    w2 = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    w1.cancel()
    q.add("x")
    assert await asyncio.wait_for(w2, 1) == "x"


async def test_rate_limited_retries_back_off_exponentially() -> None:
    q = WorkQueue(base_delay=0.02, max_delay=1.0)
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(3):
        start = loop.time()
        q.add_rate_limited("k")
        k = await asyncio.wait_for(q.get(), 2)
        times.append(loop.time() - start)
        q.done(k or "")
    assert q.retries("k") == 3
    assert times[0] >= 0.015 and times[1] >= 0.035 and times[2] >= 0.075
    q.forget("k")
    assert q.retries("k") == 0


async def test_add_after_keeps_the_earliest_deadline() -> None:
    q = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("k", 5.0)
    q.add_after("k", 0.05)
    q.add_after("k", 3.0)
    assert await asyncio.wait_for(q.get(), 1) == "k"
    assert loop.time() - start < 1.0


async def test_shutdown_wakes_waiting_workers() -> None:
    q = WorkQueue()
    w = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.add_after("later", 10)
    q.shutdown()
    assert await asyncio.wait_for(w, 1) is None
    q.add("ignored")
    assert len(q) == 0
