"""The clustered storage backend: the storage contract (interface.py) on a real etcd v3 cluster.

Why it exists: several API server processes can share one etcd, see each other's writes and watch events, and
get etcd's replication, exactly as upstream Kubernetes does. The contract is etcd's own, so this module is a
thin translation: create is a txn guarded by create_revision == 0, update/delete are txns guarded by
mod_revision == X, watches carry prev_kv from a start revision, compaction is etcd's compact, and TTLs are etcd
leases (one lease reused per TTL for a short while, like kube-apiserver's lease manager, so a burst of Events
does not grant a lease per key).

It is built on the aetcd asyncio client: aetcd opens the gRPC channel and provides the generated etcd protobuf
messages and stubs. Requests are sent through those stubs directly because aetcd's convenience methods lack
what is needed here (range at a revision, limits, count-only, per-watch streams with created/compacted
responses). Each watch is its own gRPC stream, so a slow or compacted watch never affects another.

Keys are stored as `prefix + key` (UTF-8), so several clusters or test runs can share one etcd.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aetcd
from aetcd import rpc

from kybernetes.storage.interface import (
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

_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"
_LEASE_NOT_FOUND = "requested lease not found"

# gRPC channel options: responses (big lists) may exceed gRPC's 4 MiB default; keepalives notice a dead etcd
# under an idle watch (etcd accepts pings every 5 s or slower by default).
_CHANNEL_OPTIONS: dict[str, Any] = {
    "grpc.max_receive_message_length": -1,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
}


def _prefix_range_end(prefix: bytes) -> bytes:
    """etcd range_end covering every key that starts with prefix (b"\\0" = no upper bound)."""
    s = bytearray(prefix)
    while s and s[-1] == 0xFF:
        s.pop()
    if not s:
        return b"\0"
    s[-1] += 1
    return bytes(s)


def _parse_endpoint(endpoint: str) -> tuple[str, int]:
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    parts = urlsplit(endpoint)
    if parts.scheme != "http":
        raise ValueError(f"unsupported etcd endpoint {endpoint!r}: only plain http:// is supported")
    if not parts.hostname:
        raise ValueError(f"etcd endpoint {endpoint!r} has no host")
    return parts.hostname, parts.port or 2379


@dataclass
class _Conn:
    client: Any  # aetcd.Client
    kv: Any  # KVStub
    lease: Any  # LeaseStub
    watch: Any  # WatchStub


@dataclass
class _Lease:
    id: int
    expires_at: float  # time.monotonic(), conservative (measured before the grant)


class EtcdBackend:
    """The storage contract on etcd v3 (see the module docstring)."""

    name = "etcd"

    def __init__(self, endpoints: list[str], prefix: str = "", *, timeout: float = 10.0) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is needed")
        self.endpoints = [_parse_endpoint(e) for e in endpoints]
        self.prefix = prefix
        self._bprefix = prefix.encode()
        self.timeout = timeout
        self._conns: dict[int, _Conn] = {}
        self._active = 0  # index of the endpoint requests go to; moves on when it is unavailable
        self._leases: dict[int, _Lease] = {}
        self._lease_lock = asyncio.Lock()
        self._compacted_hint = 0  # a lower bound of etcd's compaction point
        self._watch_calls: set[Any] = set()
        self._started = False
        self._closed = False

    # ----------------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._started:
            raise StorageError("backend already started")
        self._started = True
        await self.current_revision()  # fail early when etcd cannot be reached

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for call in list(self._watch_calls):
            call.cancel()
        conns, self._conns = self._conns, {}
        for conn in conns.values():
            await conn.client.close()

    async def _conn(self) -> _Conn:
        if self._closed or not self._started:
            raise StorageError("etcd backend is not open")
        index = self._active
        conn = self._conns.get(index)
        if conn is None:
            host, port = self.endpoints[index]
            client = aetcd.Client(host=host, port=port, options=_CHANNEL_OPTIONS)
            try:
                await client.connect()
            except aetcd.exceptions.ClientError as e:
                raise UnavailableError(f"cannot connect to etcd at {host}:{port}: {e}") from e
            conn = _Conn(client, client.kvstub, client.leasestub, rpc.WatchStub(client.channel))
            self._conns[index] = conn
        return conn

    def _rotate(self, failed: int) -> None:
        if self._active == failed:
            self._active = (failed + 1) % len(self.endpoints)

    # ------------------------------------------------------------------------------------------- rpc helpers

    async def _kv_call(self, method: str, request: Any, *, requested: int = 0, retry: bool = False) -> Any:
        """One KV RPC with etcd errors mapped to storage errors. Idempotent calls (retry=True) try every
        endpoint once when the current one is unavailable."""
        attempts = len(self.endpoints) if retry else 1
        for attempt in range(attempts):
            index = self._active
            conn = await self._conn()
            try:
                return await getattr(conn.kv, method)(request, timeout=self.timeout)
            except rpc.AioRpcError as e:
                code = e.code()
                if code in (rpc.StatusCode.UNAVAILABLE, rpc.StatusCode.DEADLINE_EXCEEDED):
                    self._rotate(index)
                    if attempt + 1 < attempts:
                        continue
                    raise UnavailableError(f"etcd {method} failed: {e.details()}") from e
                raise await self._map_error(e, requested) from e
        raise AssertionError("unreachable")

    async def _map_error(self, e: Any, requested: int) -> StorageError:
        details = str(e.details() or "")
        if _COMPACTED in details:
            compacted = await self.compacted_revision()
            return CompactedError(requested, compacted, await self.current_revision())
        if _FUTURE in details:
            return FutureRevisionError(f"revision {requested} is newer than the current revision")
        return StorageError(f"etcd error: {e.code()}: {details}")

    def _key(self, key: str) -> bytes:
        return self._bprefix + key.encode()

    def _range(self, prefix: str) -> tuple[bytes, bytes]:
        start = self._key(prefix)
        if not start:
            return b"\0", b"\0"
        return start, _prefix_range_end(start)

    def _kv(self, pb: Any) -> KeyValue:
        return KeyValue(
            pb.key[len(self._bprefix) :].decode(),
            bytes(pb.value),
            pb.create_revision,
            pb.mod_revision,
            pb.lease,
        )

    # ------------------------------------------------------------------------------------------------- reads

    async def current_revision(self) -> int:
        resp = await self._kv_call("Range", rpc.RangeRequest(key=b"\0", count_only=True), retry=True)
        return int(resp.header.revision)

    async def _readable(self, revision: int) -> bool:
        conn = await self._conn()
        try:
            await conn.kv.Range(
                rpc.RangeRequest(key=b"\0", count_only=True, revision=revision), timeout=self.timeout
            )
        except rpc.AioRpcError as e:
            if _COMPACTED in str(e.details() or ""):
                return False
            if e.code() in (rpc.StatusCode.UNAVAILABLE, rpc.StatusCode.DEADLINE_EXCEEDED):
                self._rotate(self._active)
                raise UnavailableError(f"etcd Range failed: {e.details()}") from e
            raise StorageError(f"etcd error: {e.code()}: {e.details()}") from e
        return True

    async def compacted_revision(self) -> int:
        # etcd has no call that reports its compaction point, so find the oldest readable revision by
        # bisection between what is known to be compacted and the current revision (a few cheap RPCs).
        lo = max(1, self._compacted_hint)
        hi = await self.current_revision()
        if lo >= hi or await self._readable(lo):
            return self._compacted_hint
        while hi - lo > 1:  # invariant: lo is compacted, hi is readable
            mid = (lo + hi) // 2
            if await self._readable(mid):
                hi = mid
            else:
                lo = mid
        self._compacted_hint = hi
        return hi

    async def get(self, key: str, revision: int = 0) -> tuple[KeyValue | None, int]:
        resp = await self._kv_call(
            "Range", rpc.RangeRequest(key=self._key(key), revision=revision), requested=revision, retry=True
        )
        rev = revision or int(resp.header.revision)
        if not resp.kvs:
            return None, rev
        return self._kv(resp.kvs[0]), rev

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_key: str = "") -> ListResult:
        key, range_end = self._range(prefix)
        if start_key:
            key = max(key, self._key(start_key))
        resp = await self._kv_call(
            "Range",
            rpc.RangeRequest(key=key, range_end=range_end, revision=revision, limit=limit),
            requested=revision,
            retry=True,
        )
        return ListResult(
            [self._kv(kv) for kv in resp.kvs], revision or int(resp.header.revision), bool(resp.more)
        )

    async def count(self, prefix: str) -> int:
        key, range_end = self._range(prefix)
        resp = await self._kv_call(
            "Range", rpc.RangeRequest(key=key, range_end=range_end, count_only=True), retry=True
        )
        return int(resp.count)

    # ------------------------------------------------------------------------------------------------ writes

    async def _lease_for(self, ttl: int) -> int:
        """A lease that lives at least ttl seconds and at most a little longer (5%, at most 60 s), shared
        by the writes with the same ttl during that slack."""
        async with self._lease_lock:
            now = time.monotonic()
            cached = self._leases.get(ttl)
            if cached is not None and cached.expires_at - now >= ttl:
                return cached.id
            slack = min(60, ttl // 20)
            conn = await self._conn()
            try:
                resp = await conn.lease.LeaseGrant(
                    rpc.LeaseGrantRequest(TTL=ttl + slack), timeout=self.timeout
                )
            except rpc.AioRpcError as e:
                if e.code() in (rpc.StatusCode.UNAVAILABLE, rpc.StatusCode.DEADLINE_EXCEEDED):
                    self._rotate(self._active)
                    raise UnavailableError(f"etcd lease grant failed: {e.details()}") from e
                raise StorageError(f"etcd lease grant failed: {e.details()}") from e
            self._leases[ttl] = _Lease(int(resp.ID), now + int(resp.TTL))
            return int(resp.ID)

    async def _txn(
        self, compare: builtins.list[Any], success: builtins.list[Any], failure: builtins.list[Any], ttl: int
    ) -> Any:
        """Run a txn; with ttl > 0 the success ops were built for the lease and are rebuilt once if etcd
        lost it (expired or revoked)."""
        request = rpc.TxnRequest(compare=compare, success=success, failure=failure)
        try:
            return await self._kv_call("Txn", request)
        except StorageError as e:
            if ttl <= 0 or _LEASE_NOT_FOUND not in str(e):
                raise
        self._leases.pop(ttl, None)
        lease = await self._lease_for(ttl)
        for op in success:
            if op.HasField("request_put"):
                op.request_put.lease = lease
        return await self._kv_call("Txn", rpc.TxnRequest(compare=compare, success=success, failure=failure))

    def _put_op(self, key: bytes, value: bytes, lease: int) -> Any:
        return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, lease=lease))

    def _get_op(self, key: bytes) -> Any:
        return rpc.RequestOp(request_range=rpc.RangeRequest(key=key))

    def _guard(self, key: bytes, expected_mod_revision: int) -> Any:
        if expected_mod_revision:
            return rpc.Compare(
                key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=expected_mod_revision
            )
        return rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.GREATER, create_revision=0)

    def _failed(self, key: str, resp: Any) -> StorageError:
        """The error for a guarded write whose compare failed; the failure branch read the key."""
        kvs = resp.responses[0].response_range.kvs
        if not kvs:
            return KeyNotFoundError(key)
        return ConflictError(key, self._kv(kvs[0]))

    async def create(self, key: str, value: bytes, ttl: int = 0) -> int:
        k = self._key(key)
        lease = await self._lease_for(ttl) if ttl > 0 else 0
        resp = await self._txn(
            [rpc.Compare(key=k, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0)],
            [self._put_op(k, value, lease)],
            [self._get_op(k)],
            ttl,
        )
        if not resp.succeeded:
            kvs = resp.responses[0].response_range.kvs
            raise KeyExistsError(key, self._kv(kvs[0]) if kvs else None)
        return int(resp.header.revision)

    async def update(self, key: str, value: bytes, expected_mod_revision: int, ttl: int = 0) -> int:
        k = self._key(key)
        lease = await self._lease_for(ttl) if ttl > 0 else 0
        resp = await self._txn(
            [self._guard(k, expected_mod_revision)], [self._put_op(k, value, lease)], [self._get_op(k)], ttl
        )
        if not resp.succeeded:
            raise self._failed(key, resp)
        return int(resp.header.revision)

    async def delete(self, key: str, expected_mod_revision: int = 0) -> tuple[int, KeyValue]:
        k = self._key(key)
        resp = await self._txn(
            [self._guard(k, expected_mod_revision)],
            [rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k, prev_kv=True))],
            [self._get_op(k)],
            0,
        )
        if not resp.succeeded:
            raise self._failed(key, resp)
        prev_kvs = resp.responses[0].response_delete_range.prev_kvs
        if (
            not prev_kvs
        ):  # deleted by a lease expiring between the compare and the delete: cannot happen in a txn
            raise KeyNotFoundError(key)
        return int(resp.header.revision), self._kv(prev_kvs[0])

    # ----------------------------------------------------------------------------------------------- watches

    def _event(self, ev: Any) -> WatchEvent:
        prev = self._kv(ev.prev_kv) if ev.HasField("prev_kv") else None
        if ev.type == rpc.Event.DELETE:
            key = ev.kv.key[len(self._bprefix) :].decode()
            if prev is not None:
                kv = KeyValue(key, prev.value, prev.create_revision, ev.kv.mod_revision, prev.lease)
            else:  # the previous version was compacted away before the watch read it
                kv = KeyValue(key, b"", 0, ev.kv.mod_revision)
            return WatchEvent(EventType.DELETE, kv, prev)
        return WatchEvent(EventType.PUT, self._kv(ev.kv), prev)

    def watch(self, prefix: str, start_revision: int) -> AsyncGenerator[builtins.list[WatchEvent], None]:
        return self._watch(prefix, start_revision)

    async def _watch(
        self, prefix: str, start_revision: int
    ) -> AsyncGenerator[builtins.list[WatchEvent], None]:
        if start_revision < 0:
            raise ValueError("start_revision must be >= 0")
        conn = await self._conn()
        key, range_end = self._range(prefix)
        call = conn.watch.Watch()
        self._watch_calls.add(call)
        create = rpc.WatchCreateRequest(
            key=key, range_end=range_end, start_revision=start_revision, prev_kv=True
        )
        try:
            await call.write(rpc.WatchRequest(create_request=create))
            while True:
                resp = await call.read()
                if not isinstance(resp, rpc.WatchResponse):  # end of stream
                    if self._closed:
                        return
                    raise UnavailableError("etcd ended the watch stream")
                if resp.compact_revision:
                    self._compacted_hint = max(self._compacted_hint, int(resp.compact_revision))
                    raise CompactedError(
                        start_revision, int(resp.compact_revision), int(resp.header.revision)
                    )
                if resp.canceled:
                    raise StorageError(f"etcd canceled the watch: {resp.cancel_reason}")
                if resp.events:
                    yield [self._event(ev) for ev in resp.events]
        except rpc.AioRpcError as e:
            if self._closed:
                return
            if e.code() in (rpc.StatusCode.UNAVAILABLE, rpc.StatusCode.DEADLINE_EXCEEDED):
                raise UnavailableError(f"etcd watch failed: {e.details()}") from e
            raise StorageError(f"etcd watch failed: {e.code()}: {e.details()}") from e
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and (task is None or not task.cancelling()):
                return  # close() canceled the stream, not our caller
            raise
        finally:
            self._watch_calls.discard(call)
            call.cancel()

    # ------------------------------------------------------------------------------------------- compaction

    async def compact(self, revision: int) -> None:
        if revision <= 0:
            return
        try:
            await self._kv_call("Compact", rpc.CompactionRequest(revision=revision), requested=revision)
        except CompactedError:
            return  # already compacted at or beyond revision: nothing to do
        self._compacted_hint = max(self._compacted_hint, revision)
