"""Helpers for controller tests against a real `kyb server` with hollow nodes: API clients, and waiting on
informers (every wait is a predicate re-checked on each watch event, with a deadline; no sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from kybernetes.client.informer import Handlers, Informer
from kybernetes.client.rest import Client
from kybernetes.hollow.kubeconfig import client_from_kubeconfig
from tests.support.cluster import Server, running_server

Obj = dict[str, Any]
QUIET = ["--disable-agent", "--disable-dns", "--disable-proxy", "--disable-ingress"]


@contextlib.contextmanager
def hollow_server(tmp: Path, nodes: int, env: dict[str, str] | None = None, extra: list[str] | None = None) -> Iterator[Server]:
    """A private kyb server with N hollow nodes; env tunes the controllers and hollow nodes (KYB_*)."""
    args = ([] if nodes <= 0 else ["--hollow-nodes", str(nodes)]) + QUIET + (extra or [])
    with mock.patch.dict(os.environ, env or {}), running_server(tmp, "sqlite", extra_args=args) as srv:
        yield srv


def client(srv: Server) -> Client:
    return client_from_kubeconfig(srv.kubeconfig, user_agent="kybernetes-tests")


def new_namespace(srv: Server) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    srv.kubectl("create", "namespace", name)
    return name


class Watch:
    """An informer whose cache tests can wait on: `await w.until(pred)` re-checks pred after every event."""

    def __init__(
        self,
        api: Client,
        group: str,
        version: str,
        resource: str,
        namespace: str = "",
        on_event: Callable[[str, Obj], None] | None = None,
        **selectors: str,
    ) -> None:
        self.informer = Informer(api, group, version, resource, namespace=namespace, **selectors)
        self._changed = asyncio.Event()
        self.on_event = on_event

        def note(kind: str, obj: Obj) -> None:
            if self.on_event is not None:
                self.on_event(kind, obj)
            self._changed.set()

        self.informer.add_handlers(
            Handlers(
                on_add=lambda o: note("ADDED", o),
                on_update=lambda _o, n: note("MODIFIED", n),
                on_delete=lambda o: note("DELETED", o),
            )
        )

    async def __aenter__(self) -> Watch:
        await self.informer.start()
        await self.informer.wait_synced(30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.informer.stop()

    @property
    def items(self) -> list[Obj]:
        return self.informer.list()

    def get(self, name: str, namespace: str = "") -> Obj | None:
        for o in self.items:
            m = o.get("metadata") or {}
            if m.get("name") == name and (not namespace or m.get("namespace") == namespace):
                return o
        return None

    async def until(self, pred: Callable[[list[Obj]], Any], timeout: float = 30.0, what: str = "condition") -> list[Obj]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            items = self.items
            if pred(items):
                return items
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; last state: {summary(items)}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


def summary(items: list[Obj]) -> list[str]:
    out = []
    for o in items[:40]:
        m = o.get("metadata") or {}
        st = o.get("status") or {}
        out.append(f"{m.get('name')}:{st.get('phase', '')}{' (deleting)' if m.get('deletionTimestamp') else ''}")
    return out


def name_of(o: Obj) -> str:
    return str((o.get("metadata") or {}).get("name", ""))


def is_active(pod: Obj) -> bool:
    return not (pod.get("metadata") or {}).get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in (
        "Succeeded",
        "Failed",
    )


def is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or []
    )


def condition(obj: Obj, type_: str) -> Obj | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), None)


async def kubectl(srv: Server, *args: str, **kw: Any) -> Any:
    """The real kubectl, off the event loop (in-process hollow nodes and informers keep running meanwhile)."""
    return await asyncio.to_thread(srv.kubectl, *args, **kw)
