"""Informers: list, then watch from the list's resourceVersion into an indexed in-memory cache.

This is client-go's shared informer in asyncio form. A controller reads only from the cache (never lists the API
in its loop) and registers handlers that merely enqueue keys. On a 410 or a dropped stream the informer relists
and replays the differences as events, so handlers never miss a change. Several controllers share one informer
per resource through `InformerFactory`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kybernetes.client.rest import ApiError, Client, resource_path

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]


def meta_key(obj: Obj) -> str:
    """'namespace/name' (or 'name' for cluster-scoped objects), client-go's MetaNamespaceKeyFunc."""
    m = obj.get("metadata") or {}
    ns = m.get("namespace")
    return f"{ns}/{m.get('name', '')}" if ns else str(m.get("name", ""))


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name


@dataclass
class Handlers:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


def by_namespace(obj: Obj) -> list[str]:
    return [str((obj.get("metadata") or {}).get("namespace", ""))]


class Informer:
    """One resource (optionally one namespace / selector), cached and kept current."""

    def __init__(
        self,
        client: Client,
        group: str,
        version: str,
        resource: str,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        resync_seconds: float = 0.0,
    ) -> None:
        self.client = client
        self.path = resource_path(group, version, resource, namespace=namespace or None)
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_seconds = resync_seconds
        self.store: dict[str, Obj] = {}
        self.indexers: dict[str, IndexFunc] = {"namespace": by_namespace}
        self._indices: dict[str, dict[str, set[str]]] = {"namespace": {}}
        self.handlers: list[Handlers] = []
        self.resource_version = ""
        self.synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- setup
    def add_handlers(self, handlers: Handlers) -> None:
        self.handlers.append(handlers)
        for obj in list(self.store.values()):
            if handlers.on_add:
                handlers.on_add(obj)

    def add_index(self, name: str, fn: IndexFunc) -> None:
        self.indexers[name] = fn
        idx: dict[str, set[str]] = {}
        for key, obj in self.store.items():
            for v in fn(obj):
                idx.setdefault(v, set()).add(key)
        self._indices[name] = idx

    async def start(self) -> None:
        self.start_soon()

    def start_soon(self) -> None:
        """Start listing and watching in the background (needs a running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer {self.path}")
        if self.resync_seconds > 0 and self._resync_task is None:
            self._resync_task = asyncio.create_task(self._resync_loop(), name=f"informer resync {self.path}")

    async def stop(self) -> None:
        for t in (self._task, self._resync_task):
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        self._task = None
        self._resync_task = None

    @property
    def has_synced(self) -> bool:
        return self.synced.is_set()

    async def _resync_loop(self) -> None:
        """Every resync period, replay every cached object as an update (client-go's resync)."""
        while True:
            await asyncio.sleep(self.resync_seconds)
            for obj in list(self.store.values()):
                for h in self.handlers:
                    if h.on_update:
                        h.on_update(obj, obj)

    async def wait_synced(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self.synced.wait(), timeout)

    # ----------------------------------------------------------------- reads
    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def get_by(self, namespace: str, name: str) -> Obj | None:
        return self.store.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self.store.values())
        return self.by_index("namespace", namespace)

    def by_index(self, index: str, value: str) -> builtins.list[Obj]:
        keys = self._indices.get(index, {}).get(value, set())
        return [self.store[k] for k in keys if k in self.store]

    # ------------------------------------------------------------- internals
    def _index_add(self, key: str, obj: Obj) -> None:
        for name, fn in self.indexers.items():
            for v in fn(obj):
                self._indices.setdefault(name, {}).setdefault(v, set()).add(key)

    def _index_remove(self, key: str, obj: Obj) -> None:
        for name, fn in self.indexers.items():
            idx = self._indices.get(name, {})
            for v in fn(obj):
                s = idx.get(v)
                if s is not None:
                    s.discard(key)
                    if not s:
                        del idx[v]

    def _upsert(self, obj: Obj) -> None:
        key = meta_key(obj)
        old = self.store.get(key)
        if old is not None:
            self._index_remove(key, old)
        self.store[key] = obj
        self._index_add(key, obj)
        for h in self.handlers:
            try:
                if old is None:
                    if h.on_add:
                        h.on_add(obj)
                elif h.on_update:
                    h.on_update(old, obj)
            except Exception:
                log.exception("informer %s: handler failed", self.path)

    def _remove(self, obj: Obj) -> None:
        key = meta_key(obj)
        old = self.store.pop(key, None)
        if old is not None:
            self._index_remove(key, old)
        last = old or obj
        for h in self.handlers:
            try:
                if h.on_delete:
                    h.on_delete(last)
            except Exception:
                log.exception("informer %s: handler failed", self.path)

    def _params(self) -> dict[str, Any]:
        p: dict[str, Any] = {}
        if self.label_selector:
            p["labelSelector"] = self.label_selector
        if self.field_selector:
            p["fieldSelector"] = self.field_selector
        return p

    async def _relist(self) -> None:
        items: list[Obj] = []
        cont = ""
        while True:
            params = self._params()
            params["limit"] = 500
            if cont:
                params["continue"] = cont
            lst = await self.client.get(self.path, **params)
            items.extend(lst.get("items") or [])
            cont = (lst.get("metadata") or {}).get("continue", "")
            if not cont:
                break
        kind = str(lst.get("kind", "")).removesuffix("List")
        api_version = lst.get("apiVersion", "")
        fresh = {}
        for it in items:
            it.setdefault("kind", kind)
            it.setdefault("apiVersion", api_version)
            fresh[meta_key(it)] = it
        for key in [k for k in self.store if k not in fresh]:
            self._remove(self.store[key])
        for key, it in fresh.items():
            old = self.store.get(key)
            if old is None or (old.get("metadata") or {}).get("resourceVersion") != (it.get("metadata") or {}).get(
                "resourceVersion"
            ):
                self._upsert(it)
        self.resource_version = (lst.get("metadata") or {}).get("resourceVersion", "")
        self.synced.set()

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                if not self.resource_version:
                    await self._relist()
                timeout = int(300 + random.random() * 300)
                async for ev in self.client.watch(self.path, self.resource_version, timeout_seconds=timeout, **self._params()):
                    typ = ev.get("type")
                    obj = ev.get("object") or {}
                    if typ == "ERROR":
                        if obj.get("code") == 410:
                            self.resource_version = ""
                        else:
                            log.warning("informer %s: watch error %s", self.path, obj.get("message"))
                            await asyncio.sleep(backoff)
                            backoff = min(backoff * 2, 5.0)
                        break
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        self.resource_version = rv
                    if typ == "BOOKMARK":
                        continue
                    if typ == "DELETED":
                        self._remove(obj)
                    else:
                        self._upsert(obj)
                    backoff = 0.2
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.status == 410:
                    self.resource_version = ""
                    continue
                log.warning("informer %s: %s", self.path, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as e:
                log.warning("informer %s: %s", self.path, e)
                self.resource_version = ""
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


class InformerFactory:
    """Shares one informer per (group, version, resource, namespace, selectors) among controllers.

    Informers asked for after `start` are started at once, so controllers may join late (the garbage collector
    adds informers as discovery finds new resources).
    """

    def __init__(self, client: Client, resync_seconds: float = 0.0) -> None:
        self.client = client
        self.resync_seconds = resync_seconds
        self._informers: dict[tuple[str, str, str, str, str, str], Informer] = {}
        self._started = False

    def informer(
        self,
        group: str,
        version: str,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Informer:
        key = (group, version, resource, namespace, label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(
                self.client,
                group,
                version,
                resource,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                resync_seconds=self.resync_seconds,
            )
            self._informers[key] = inf
            if self._started:
                inf.start_soon()
        return inf

    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    async def start(self) -> None:
        self._started = True
        for inf in list(self._informers.values()):
            await inf.start()

    async def wait_synced(self, timeout: float = 30.0) -> None:
        await asyncio.gather(*(inf.wait_synced(timeout) for inf in list(self._informers.values())))

    async def stop(self) -> None:
        self._started = False
        for inf in list(self._informers.values()):
            await inf.stop()
