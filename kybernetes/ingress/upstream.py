"""A lean HTTP/1.1 client for the ingress: pooled keep-alive connections per endpoint, raw asyncio streams.

aiohttp's client costs about four times what its server does per proxied request (measured in
bench/bench_services.py), and a reverse proxy needs none of its features (cookies, redirects, decompression,
DNS): it only writes a request head it already has and relays a response. A request on a pooled connection that
dies before any response byte is retried once on a fresh connection (the peer closed an idle keep-alive);
connect failures are raised as `ConnectError` so the caller can try another endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 300.0
MAX_IDLE_PER_ENDPOINT = 64
MAX_HEAD = 64 * 1024


class ConnectError(OSError):
    """The endpoint could not be reached at all (no request bytes were delivered)."""


class UpstreamError(Exception):
    """The endpoint answered with something that is not HTTP/1.x."""


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    length: int | None  # None: chunked or until close
    chunked: bool
    _reader: asyncio.StreamReader
    _reusable: bool = True
    _done: bool = field(default=False)

    async def body(self) -> AsyncIterator[bytes]:
        r = self._reader
        if self.length is not None:
            left = self.length
            while left > 0:
                chunk = await asyncio.wait_for(r.read(min(left, 1 << 16)), READ_TIMEOUT)
                if not chunk:
                    raise UpstreamError("upstream closed mid-body")
                left -= len(chunk)
                yield chunk
        elif self.chunked:
            while True:
                line = await asyncio.wait_for(r.readuntil(b"\r\n"), READ_TIMEOUT)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while (await asyncio.wait_for(r.readuntil(b"\r\n"), READ_TIMEOUT)) != b"\r\n":
                        pass  # trailers are dropped
                    break
                data = await asyncio.wait_for(r.readexactly(size + 2), READ_TIMEOUT)
                yield data[:-2]
        else:
            self._reusable = False
            while chunk := await asyncio.wait_for(r.read(1 << 16), READ_TIMEOUT):
                yield chunk
        self._done = True

    async def read(self) -> bytes:
        return b"".join([c async for c in self.body()])


class Pool:
    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[Conn]] = {}

    async def _connect(self, ip: str, port: int) -> Conn:
        try:
            return await asyncio.wait_for(asyncio.open_connection(ip, port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise ConnectError(str(e)) from e

    def _take(self, key: tuple[str, int]) -> Conn | None:
        idle = self._idle.get(key)
        while idle:
            r, w = idle.pop()
            if not w.is_closing() and not r.at_eof():
                return r, w
            w.close()
        return None

    def release(self, key: tuple[str, int], conn: Conn, resp: Response) -> None:
        w = conn[1]
        if resp._reusable and resp._done and not w.is_closing():
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_ENDPOINT:
                idle.append(conn)
                return
        w.close()

    def discard(self, conn: Conn) -> None:
        conn[1].close()

    async def close(self) -> None:
        for conns in self._idle.values():
            for _, w in conns:
                w.close()
        self._idle.clear()

    async def request(self, ip: str, port: int, head: bytes, body: bytes, method: str) -> tuple[Response, Conn]:
        """Send one request (`head` ends with the blank line) and read the response head."""
        key = (ip, port)
        conn = self._take(key)
        if conn is not None:
            try:
                return await self._exchange(conn, head, body, method), conn
            except (OSError, asyncio.IncompleteReadError, UpstreamError):
                conn[1].close()  # a stale keep-alive connection: try once more on a fresh one
        conn = await self._connect(ip, port)
        try:
            return await self._exchange(conn, head, body, method), conn
        except BaseException:
            conn[1].close()
            raise

    async def _exchange(self, conn: Conn, head: bytes, body: bytes, method: str) -> Response:
        r, w = conn
        w.write(head + body if body else head)
        await w.drain()
        while True:
            raw = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            if len(raw) > MAX_HEAD:
                raise UpstreamError("response head too large")
            lines = raw[:-4].decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise UpstreamError(f"not HTTP/1.x: {lines[0][:80]!r}")
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                continue  # interim responses (100 Continue) are not relayed
            break
        headers: list[tuple[str, str]] = []
        length: int | None = None
        chunked = False
        reusable = parts[0] == "HTTP/1.1"
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            k, v = k.strip(), v.strip()
            lk = k.lower()
            if lk == "content-length":
                with contextlib.suppress(ValueError):
                    length = int(v)
            elif lk == "transfer-encoding":
                chunked = "chunked" in v.lower()
            elif lk == "connection":
                reusable = reusable and "close" not in v.lower()
            headers.append((k, v))
        if method == "HEAD" or status in (204, 304):
            length, chunked = 0, False
        if chunked:
            length = None
        return Response(status, parts[2] if len(parts) > 2 else "", headers, length, chunked, r, _reusable=reusable)
