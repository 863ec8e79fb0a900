"""Leader election on a Lease: one leader at a time, fast hand-over on release, takeover after expiry."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from kybernetes.client.leaderelection import LeaderElector
from kybernetes.client.rest import ApiError


class FakeLeases:
    """The Lease API with optimistic concurrency (resourceVersion), in memory."""

    def __init__(self) -> None:
        self.obj: dict[str, Any] | None = None
        self.rv = 0
        self.fail = False

    def _check(self) -> None:
        if self.fail:
            raise ApiError(503, {"reason": "ServiceUnavailable"})

    async def get(self, path: str, **_: Any) -> dict[str, Any]:
        self._check()
        if self.obj is None:
            raise ApiError(404, {"reason": "NotFound"})
        return copy.deepcopy(self.obj)

    async def create(self, path: str, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._check()
        if self.obj is not None:
            raise ApiError(409, {"reason": "AlreadyExists"})
        self.rv += 1
        self.obj = copy.deepcopy(obj)
        self.obj["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(self.obj)

    async def update(self, path: str, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._check()
        assert self.obj is not None
        if obj["metadata"].get("resourceVersion") != self.obj["metadata"]["resourceVersion"]:
            raise ApiError(409, {"reason": "Conflict"})
        self.rv += 1
        self.obj = copy.deepcopy(obj)
        self.obj["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(self.obj)


class Log(list[str]):
    """Callback log that can be awaited."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def append(self, item: str) -> None:
        super().append(item)
        self.changed.set()

    async def seen(self, item: str) -> None:
        while item not in self:
            self.changed.clear()
            await self.changed.wait()


def elector(api: FakeLeases, ident: str, log: list[str], **kw: Any) -> LeaderElector:
    async def started() -> None:
        log.append(f"start {ident}")

    async def stopped() -> None:
        log.append(f"stop {ident}")

    opts = {"lease_duration": 0.6, "renew_deadline": 0.4, "retry_period": 0.05, **kw}
    return LeaderElector(
        api, name="kcm", identity=ident, on_started_leading=started, on_stopped_leading=stopped, **opts  # type: ignore[arg-type]
    )


async def test_only_one_leads_and_release_hands_over_at_once() -> None:
    api = FakeLeases()
    log = Log()
    a, b = elector(api, "a", log), elector(api, "b", log)
    await a.start()
    await a.wait_for_leadership(2)
    await b.start()
    await asyncio.sleep(0.3)
    assert a.is_leader and not b.is_leader
    assert api.obj is not None and api.obj["spec"]["holderIdentity"] == "a"
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await a.stop()
    await b.wait_for_leadership(2)
    assert loop.time() - t0 < 0.4, "a released lease must not wait for expiry"
    assert log == ["start a", "stop a", "start b"]
    assert api.obj["spec"]["holderIdentity"] == "b" and api.obj["spec"]["leaseTransitions"] == 1
    await b.stop()


async def test_takeover_after_the_holder_vanishes() -> None:
    api = FakeLeases()
    log = Log()
    a, b = elector(api, "a", log), elector(api, "b", log)
    await a.start()
    await a.wait_for_leadership(2)
    assert a._task is not None
    a._task.cancel()  # crash: no release
    await b.start()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await b.wait_for_leadership(3)
    assert loop.time() - t0 >= 0.5, "took over before the lease expired"
    await b.stop()


async def test_leader_steps_down_when_it_cannot_renew() -> None:
    api = FakeLeases()
    log = Log()
    a = elector(api, "a", log)
    await a.start()
    await a.wait_for_leadership(2)
    api.fail = True
    await asyncio.wait_for(log.seen("stop a"), 2)
    assert not a.is_leader and log == ["start a", "stop a"]
    api.fail = False
    await a.wait_for_leadership(2)
    assert log[-1] == "start a"
    await a.stop()


def test_bad_timings_are_refused() -> None:
    with pytest.raises(ValueError):
        elector(FakeLeases(), "a", Log(), lease_duration=1.0, renew_deadline=2.0)
