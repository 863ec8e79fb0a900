"""Taking over an aiohttp connection after answering `101 Switching Protocols`.

aiohttp only switches its parser off for `Upgrade: websocket`; for `Upgrade: SPDY/3.1` it would keep parsing the
SPDY frames as HTTP requests. WebSocketResponse shows the supported way in: answer 101, then install a payload
parser on the request's protocol, which from then on receives every byte the client sends. `hijack` does the same
with a parser that just queues bytes, and hands back a raw byte channel over the (possibly TLS) transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiohttp import web

__all__ = ["HijackedConnection", "hijack", "wait_disconnected"]

PAUSE_AT = 1024 * 1024


class _RawParser:
    """What aiohttp's protocol feeds after `set_parser`: every byte, then EOF when the connection is lost."""

    def __init__(self, conn: HijackedConnection) -> None:
        self.conn = conn

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.conn._feed(data)
        return False, b""

    def feed_eof(self) -> None:
        self.conn._feed_eof()


class HijackedConnection:
    """The client's byte stream after the 101: `read` what it sends, `write` raw bytes back."""

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response
        transport = request.transport
        if transport is None:
            raise ConnectionResetError("connection lost")
        self.transport = transport
        self._buf = bytearray()
        self._eof = False
        self._event = asyncio.Event()
        self._paused = False

    def _feed(self, data: bytes) -> None:
        self._buf += data
        self._event.set()
        if len(self._buf) > PAUSE_AT and not self._paused and not self.transport.is_closing():
            self._paused = True
            self.transport.pause_reading()

    def _feed_eof(self) -> None:
        self._eof = True
        self._event.set()

    async def read(self) -> bytes:
        """The next bytes from the client; b"" when it closed the connection."""
        while not self._buf:
            if self._eof:
                return b""
            self._event.clear()
            await self._event.wait()
        data = bytes(self._buf)
        self._buf.clear()
        if self._paused and not self.transport.is_closing():
            self._paused = False
            self.transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        if self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        await self.response.write(data)

    async def close(self) -> None:
        if not self.transport.is_closing():
            # A TLS transport sends close_notify; a plain one shuts down after flushing.
            self.transport.close()
        self._feed_eof()

    @property
    def closed(self) -> bool:
        return self._eof or self.transport.is_closing()


async def hijack(request: web.Request, headers: Mapping[str, str]) -> HijackedConnection:
    """Answer 101 with `headers` and return the connection's raw byte stream.

    The handler must return `conn.response` when it is done; aiohttp then writes nothing more and closes the
    connection (keep-alive is off).
    """
    resp = web.StreamResponse(status=101, reason="Switching Protocols")
    for k, v in headers.items():
        resp.headers[k] = v
    resp.force_close()
    conn = HijackedConnection(request, resp)
    protocol = request.protocol
    # Bytes the client sends after the 101 go to us from now on (set before answering, so none are lost).
    protocol.set_parser(_RawParser(conn))  # type: ignore[arg-type]
    protocol.keep_alive(False)
    await resp.prepare(request)
    return conn


async def wait_disconnected(request: web.Request, poll: float = 1.0) -> None:
    """Return once the client of a streaming response has gone away.

    aiohttp does not cancel handlers on disconnect (handler_cancellation is off), and a quiet `logs -f` never
    writes, so the loss would otherwise go unnoticed until the next line; streaming handlers race this instead.
    """
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(poll)
