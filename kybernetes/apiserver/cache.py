"""The watch cache: every object in memory as encoded JSON, fed by one storage watch.

Upstream's cacher keeps one etcd watch per resource and serves lists and watches from memory. Here a single
storage watch over the whole registry feeds one `ResourceCache` per storage prefix (created on demand, so custom
resources need no wiring). Each object is decoded once when its event arrives, stamped with its resourceVersion and
re-encoded once; lists concatenate those bytes and watchers receive the same bytes, so a thousand watchers cost a
thousand socket writes, not a thousand encodes. Each cache keeps a ring of recent events (with the previous state,
so a selector watch sees an object leave its selection) from which watches resume; older resourceVersions fall
back to a storage watch, and compacted ones get 410 Gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sortedcontainers import SortedDict

from kybernetes.machinery.selectors import FieldSelector, LabelSelector
from kybernetes.storage.interface import Backend, CompactedError, EventType, KeyValue, WatchEvent

log = logging.getLogger(__name__)

REGISTRY_ROOT = "/registry/"
RING_CAPACITY = 4096
WATCHER_QUEUE_LIMIT = 20000

FieldsFunc = Callable[[dict[str, Any]], dict[str, str]]


def prefix_of(key: str) -> str:
    """'/registry/core/pods/ns/name' -> '/registry/core/pods/'."""
    parts = key.split("/", 4)
    return "/".join(parts[:4]) + "/"


@dataclass(slots=True)
class CachedObject:
    key: str
    namespace: str
    name: str
    rv: int
    raw: bytes
    labels: dict[str, str]
    fields: dict[str, str]
    uid: str = ""

    def decode(self) -> dict[str, Any]:
        obj: dict[str, Any] = orjson.loads(self.raw)
        return obj


@dataclass(slots=True)
class CacheEvent:
    type: str  # ADDED | MODIFIED | DELETED
    rv: int
    obj: CachedObject
    prev: CachedObject | None


def decode_kv(kv: KeyValue, rv: int, fields_for: Callable[[str], FieldsFunc]) -> CachedObject:
    """Storage value -> CachedObject stamped with resourceVersion `rv`."""
    obj = orjson.loads(kv.value)
    meta = obj.setdefault("metadata", {})
    meta["resourceVersion"] = str(rv)
    labels = meta.get("labels") or {}
    fields = fields_for(prefix_of(kv.key))(obj)
    return CachedObject(
        key=kv.key,
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        rv=rv,
        raw=orjson.dumps(obj),
        labels=labels,
        fields=fields,
        uid=meta.get("uid", ""),
    )


def default_fields(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}


class Watcher:
    """One client watch: a filter and a bounded queue of events to send."""

    def __init__(
        self,
        namespace: str,
        labels: LabelSelector,
        fields: FieldSelector,
    ) -> None:
        self.namespace = namespace
        self.label_selector = labels
        self.field_selector = fields
        self.queue: deque[tuple[str, CachedObject]] = deque()
        self.wake = asyncio.Event()
        self.closed = False
        self.overflowed = False

    def _matches(self, o: CachedObject) -> bool:
        if self.namespace and o.namespace != self.namespace:
            return False
        return self.label_selector.matches(o.labels) and self.field_selector.matches(o.fields)

    def offer(self, ev: CacheEvent) -> None:
        if self.closed:
            return
        cur = self._matches(ev.obj)
        if ev.type == "ADDED":
            if not cur:
                return
            t = "ADDED"
        elif ev.type == "DELETED":
            if not cur:
                return
            t = "DELETED"
        else:
            prev = ev.prev is not None and self._matches(ev.prev)
            if cur and prev:
                t = "MODIFIED"
            elif cur:
                t = "ADDED"
            elif prev:
                t = "DELETED"
            else:
                return
        if len(self.queue) >= WATCHER_QUEUE_LIMIT:
            self.overflowed = True
            self.close()
            return
        self.queue.append((t, ev.obj))
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def next_batch(self, timeout: float | None) -> list[tuple[str, CachedObject]] | None:
        """Wait for events; [] on timeout, None once closed and drained."""
        if not self.queue:
            if self.closed:
                return None
            self.wake.clear()
            try:
                if timeout is None:
                    await self.wake.wait()
                else:
                    await asyncio.wait_for(self.wake.wait(), timeout)
            except TimeoutError:
                return []
        if not self.queue:
            return None if self.closed else []
        batch = list(self.queue)
        self.queue.clear()
        return batch


class ResourceCache:
    """Current objects and recent events of one storage prefix."""

    def __init__(self, prefix: str, start_rv: int) -> None:
        self.prefix = prefix
        self.objects: SortedDict = SortedDict()  # key -> CachedObject
        self.ring: deque[CacheEvent] = deque(maxlen=RING_CAPACITY)
        # Events with rv > oldest_rv are all in the ring (or it would have been evicted and oldest_rv raised).
        self.oldest_rv = start_rv
        self.watchers: set[Watcher] = set()

    def apply(self, ev: CacheEvent) -> None:
        if ev.type == "DELETED":
            self.objects.pop(ev.obj.key, None)
        else:
            self.objects[ev.obj.key] = ev.obj
        if len(self.ring) == self.ring.maxlen:
            self.oldest_rv = self.ring[0].rv
        self.ring.append(ev)
        for w in list(self.watchers):
            w.offer(ev)

    def iter_prefix(self, prefix: str, start_key: str = "") -> Iterator[CachedObject]:
        lo = max(prefix, start_key) if start_key else prefix
        for k in self.objects.irange(minimum=lo):
            if not k.startswith(prefix):
                break
            yield self.objects[k]

    def events_since(self, rv: int) -> list[CacheEvent] | None:
        """Events with revision > rv, or None when the ring no longer reaches back that far."""
        if rv < self.oldest_rv:
            return None
        out: list[CacheEvent] = []
        for ev in reversed(self.ring):
            if ev.rv <= rv:
                break
            out.append(ev)
        out.reverse()
        return out


class WatchCache:
    """All resource caches, kept current by one storage watch on the registry root."""

    def __init__(self, backend: Backend, fields_for: Callable[[str], FieldsFunc]) -> None:
        self.backend = backend
        self.fields_for = fields_for
        self.caches: dict[str, ResourceCache] = {}
        self.revision = 0
        self.start_revision = 0
        self._advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        # Revisions at or below this were compacted in storage: watches from there get 410, like upstream.
        self.compacted_revision = 0

    def note_compacted(self, revision: int) -> None:
        self.compacted_revision = max(self.compacted_revision, revision)

    def cache(self, prefix: str) -> ResourceCache:
        c = self.caches.get(prefix)
        if c is None:
            c = ResourceCache(prefix, self.start_revision)
            self.caches[prefix] = c
        return c

    async def start(self) -> None:
        await self._initial_list()
        self._task = asyncio.create_task(self._run(), name="watch-cache")

    async def _initial_list(self) -> None:
        res = await self.backend.list(REGISTRY_ROOT)
        self.caches.clear()
        self.revision = res.revision
        self.start_revision = res.revision
        for kv in res.items:
            o = decode_kv(kv, kv.mod_revision, self.fields_for)
            self.cache(prefix_of(kv.key)).objects[kv.key] = o
        for c in self.caches.values():
            c.oldest_rv = res.revision
        self.ready.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for c in self.caches.values():
            for w in list(c.watchers):
                w.close()

    async def _run(self) -> None:
        while True:
            try:
                async for batch in self.backend.watch(REGISTRY_ROOT, self.revision + 1):
                    for wev in batch:
                        self._dispatch(wev)
                    if batch:
                        self.revision = max(self.revision, batch[-1].revision)
                        self._advanced.set()
                        self._advanced = asyncio.Event()
                # Backend closed the watch: reconnect unless we're shutting down.
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                raise
            except CompactedError:
                log.warning("watch cache fell behind compaction; relisting")
                for c in self.caches.values():
                    for w in list(c.watchers):
                        w.close()
                await self._initial_list()
            except Exception:
                log.exception("storage watch failed; restarting")
                await asyncio.sleep(0.5)

    def _dispatch(self, wev: WatchEvent) -> None:
        prefix = prefix_of(wev.kv.key)
        c = self.cache(prefix)
        prev = c.objects.get(wev.kv.key)
        if wev.type is EventType.DELETE:
            last = prev
            if last is None and wev.prev_kv is not None:
                last = decode_kv(wev.prev_kv, wev.prev_kv.mod_revision, self.fields_for)
            if last is None:
                return
            obj = decode_kv(
                KeyValue(wev.kv.key, _raw_of(last), last.rv, wev.revision), wev.revision, self.fields_for
            )
            c.apply(CacheEvent("DELETED", wev.revision, obj, last))
        else:
            obj = decode_kv(wev.kv, wev.revision, self.fields_for)
            c.apply(CacheEvent("MODIFIED" if prev is not None else "ADDED", wev.revision, obj, prev))

    async def wait_for(self, rv: int, timeout: float = 3.0) -> bool:
        """Wait until the cache has applied revision `rv`; False on timeout."""
        if self.revision >= rv:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.revision < rv:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            ev = self._advanced
            try:
                await asyncio.wait_for(ev.wait(), remaining)
            except TimeoutError:
                return self.revision >= rv
        return True

    async def wait_fresh(self, timeout: float = 3.0) -> bool:
        """Wait until the cache reflects every write committed before this call."""
        return await self.wait_for(await self.backend.current_revision(), timeout)

    async def storage_events(self, prefix: str, since: int) -> AsyncGenerator[list[CacheEvent], None]:
        """Replay events after `since` straight from storage (for resumes older than the ring)."""
        last_by_key: dict[str, CachedObject] = {}
        async for batch in self.backend.watch(prefix, since + 1):
            out: list[CacheEvent] = []
            for wev in batch:
                if wev.type is EventType.DELETE:
                    src = wev.prev_kv or wev.kv
                    prev = decode_kv(src, src.mod_revision, self.fields_for)
                    obj = decode_kv(
                        KeyValue(wev.kv.key, src.value, src.create_revision, wev.revision),
                        wev.revision,
                        self.fields_for,
                    )
                    out.append(CacheEvent("DELETED", wev.revision, obj, prev))
                    last_by_key.pop(wev.kv.key, None)
                else:
                    obj = decode_kv(wev.kv, wev.revision, self.fields_for)
                    prev_o = None
                    if wev.prev_kv is not None:
                        prev_o = decode_kv(wev.prev_kv, wev.prev_kv.mod_revision, self.fields_for)
                    t = "ADDED" if wev.prev_kv is None and wev.kv.create_revision == wev.revision else "MODIFIED"
                    out.append(CacheEvent(t, wev.revision, obj, prev_o))
                    last_by_key[wev.kv.key] = obj
            yield out


def _raw_of(o: CachedObject) -> bytes:
    """Stored form of a cached object: the same JSON (the stamped resourceVersion is overwritten on decode)."""
    return o.raw
