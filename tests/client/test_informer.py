"""Informer: list then watch into an indexed cache; relists after 410 replay differences as events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from kybernetes.client.informer import Handlers, Informer, InformerFactory
from kybernetes.client.rest import ApiError


def cm(name: str, rv: int, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv), "labels": labels}}


class FakeAPI:
    """Serves one list and then scripted watch streams."""

    def __init__(self, items: list[dict[str, Any]], rv: int) -> None:
        self.items = items
        self.rv = rv
        self.lists = 0
        self.watches: list[str] = []
        self.streams: asyncio.Queue[list[dict[str, Any]] | Exception] = asyncio.Queue()
        self.relisted = asyncio.Event()

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        self.lists += 1
        if self.lists > 1:
            self.relisted.set()
        return {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.rv)}, "items": [dict(i) for i in self.items]}

    async def watch(self, path: str, rv: str = "", *, timeout_seconds: int = 300, **params: Any) -> AsyncIterator[dict[str, Any]]:
        self.watches.append(rv)
        nxt = await self.streams.get()
        if isinstance(nxt, Exception):
            raise nxt
        for ev in nxt:
            yield ev
        await asyncio.Event().wait()  # the stream stays open


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def handlers(self) -> Handlers:
        def rec(kind: str, obj: dict[str, Any]) -> None:
            self.events.append((kind, obj["metadata"]["name"]))
            self.changed.set()

        return Handlers(
            on_add=lambda o: rec("add", o), on_update=lambda _o, n: rec("update", n), on_delete=lambda o: rec("delete", o)
        )

    async def wait_for(self, n: int) -> None:
        async def loop() -> None:
            while len(self.events) < n:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), 2)


async def test_list_then_watch_fills_cache_and_indexes() -> None:
    api = FakeAPI([cm("a", 1, app="x"), cm("b", 2, ns="other")], rv=5)
    inf = Informer(api, "", "v1", "configmaps")  # type: ignore[arg-type]
    inf.add_index("app", lambda o: [o["metadata"].get("labels", {}).get("app", "")])
    rec = Recorder()
    inf.add_handlers(rec.handlers())
    await inf.start()
    await inf.wait_synced(2)
    assert sorted(o["metadata"]["name"] for o in inf.list()) == ["a", "b"]
    assert [o["metadata"]["name"] for o in inf.list("other")] == ["b"]
    assert inf.list()[0]["kind"] == "ConfigMap"
    await api.streams.put(
        [
            {"type": "ADDED", "object": cm("c", 6, app="x")},
            {"type": "MODIFIED", "object": cm("a", 7, app="y")},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "8"}}},
            {"type": "DELETED", "object": cm("b", 9, ns="other")},
        ]
    )
    await rec.wait_for(5)
    assert rec.events == [("add", "a"), ("add", "b"), ("add", "c"), ("update", "a"), ("delete", "b")]
    assert [o["metadata"]["name"] for o in inf.by_index("app", "x")] == ["c"]
    assert inf.resource_version == "9"
    assert api.watches == ["5"]
    await inf.stop()


async def test_gone_watch_relists_and_replays_the_difference() -> None:
    api = FakeAPI([cm("a", 1), cm("b", 2)], rv=2)
    inf = Informer(api, "", "v1", "configmaps")  # type: ignore[arg-type]
    rec = Recorder()
    inf.add_handlers(rec.handlers())
    await inf.start()
    await inf.wait_synced(2)
    # While we were away: b deleted, a changed, d created; the watch says 410.
    api.items, api.rv = [cm("a", 10), cm("d", 11)], 11
    await api.streams.put([{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}])
    await api.streams.put([])
    await rec.wait_for(5)
    assert sorted(rec.events[2:]) == [("add", "d"), ("delete", "b"), ("update", "a")]
    assert api.lists == 2 and api.watches == ["2", "11"]
    await inf.stop()


async def test_watch_410_error_response_relists() -> None:
    api = FakeAPI([cm("a", 1)], rv=1)
    inf = Informer(api, "", "v1", "configmaps")  # type: ignore[arg-type]
    await inf.start()
    await inf.wait_synced(2)
    await api.streams.put(ApiError(410, {"reason": "Expired"}))
    await api.streams.put([])

    await asyncio.wait_for(api.relisted.wait(), 2)
    assert api.lists == 2
    await inf.stop()


async def test_failing_handler_does_not_break_the_informer() -> None:
    api = FakeAPI([], rv=1)
    inf = Informer(api, "", "v1", "configmaps")  # type: ignore[arg-type]
    rec = Recorder()

    def boom(_o: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    inf.add_handlers(Handlers(on_add=boom))
    inf.add_handlers(rec.handlers())
    await inf.start()
    await api.streams.put([{"type": "ADDED", "object": cm("a", 2)}, {"type": "ADDED", "object": cm("b", 3)}])
    await rec.wait_for(2)
    assert len(inf.list()) == 2
    await inf.stop()


async def test_handlers_added_late_see_existing_objects_and_factory_shares() -> None:
    api = FakeAPI([cm("a", 1)], rv=1)
    f = InformerFactory(api)  # type: ignore[arg-type]
    one = f.informer("", "v1", "configmaps")
    assert f.informer("", "v1", "configmaps") is one
    assert f.informer("", "v1", "configmaps", label_selector="x=y") is not one
    await f.start()
    await one.wait_synced(2)
    late = f.informer("", "v1", "secrets")
    assert late._task is not None, "an informer asked for after start is started"
    rec = Recorder()
    one.add_handlers(rec.handlers())
    assert rec.events == [("add", "a")]
    await f.stop()
