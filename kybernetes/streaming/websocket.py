"""The Kubernetes WebSocket channel protocols, over aiohttp's WebSocketResponse.

kubectl ≥ 1.30 runs exec and attach over WebSocket `v5.channel.k8s.io`: every binary message starts with a
channel byte (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize) and v5 adds a close signal (255 + channel) so
stdin can end without closing the socket. Older clients (the official Python client) use v4 and earlier, the same
framing without the close signal. kubectl ≥ 1.31 also tunnels a raw SPDY byte stream for port-forward through
binary messages (`SPDY/3.1+portforward.k8s.io`); `WebSocketByteChannel` turns that back into bytes.

aiohttp does the WebSocket framing, masking and ping/pong; this module only adds channels.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

__all__ = [
    "CHANNEL_PROTOCOLS",
    "CLOSE_SIGNAL",
    "ERROR",
    "PORT_FORWARD_TUNNEL",
    "RESIZE",
    "STDERR",
    "STDIN",
    "STDOUT",
    "ChannelWebSocket",
    "WebSocketByteChannel",
    "decode_message",
    "encode_message",
]

STDIN = 0
STDOUT = 1
STDERR = 2
ERROR = 3
RESIZE = 4
CLOSE_SIGNAL = 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
CHANNEL_PROTOCOLS = (V5, V4, V3, V2, V1)
PORT_FORWARD_TUNNEL = "SPDY/3.1+portforward.k8s.io"
PORT_FORWARD_WEBSOCKET = "v4.channel.k8s.io"


def encode_message(channel: int, data: bytes) -> bytes:
    """One binary message: the channel byte, then the data."""
    if not 0 <= channel <= 255:
        raise ValueError(f"bad channel {channel}")
    return bytes((channel,)) + data


def decode_message(message: bytes) -> tuple[int, bytes]:
    """Split a binary message into (channel, data); an empty message is channel -1."""
    if not message:
        return -1, b""
    return message[0], message[1:]


def new_response(protocols: tuple[str, ...]) -> web.WebSocketResponse:
    """A server WebSocket offering `protocols`: no compression (kubectl never asks), pings answered, no size cap."""
    return web.WebSocketResponse(protocols=protocols, autoping=True, compress=False, max_msg_size=0)


class _Inbound:
    """Bytes that arrived on one input channel, readable as an InputStream."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._event = asyncio.Event()
        self.eof = False

    def feed(self, data: bytes) -> None:
        if not self.eof:
            self._buf += data
            self._event.set()

    def close(self) -> None:
        self.eof = True
        self._event.set()

    async def read(self, n: int = 65536) -> bytes:
        while not self._buf:
            if self.eof:
                return b""
            self._event.clear()
            await self._event.wait()
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        return chunk


class _Outbound:
    """One output channel as an OutputStream; writes after the socket closed are dropped."""

    def __init__(self, ws: ChannelWebSocket, channel: int) -> None:
        self.ws = ws
        self.channel = channel

    async def write(self, data: bytes) -> None:
        if data:
            await self.ws.send(self.channel, data)

    async def close(self) -> None:
        # The channel protocols have no per-channel end of output; the session ends with the status message.
        return None


class ChannelWebSocket:
    """A prepared WebSocket speaking one of the channel protocols: per-channel input, output and close signals."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.protocol = ws.ws_protocol or V1
        self._inputs: dict[int, _Inbound] = {}
        self._lock = asyncio.Lock()
        self.closed = asyncio.Event()

    @property
    def version(self) -> int:
        """5 for v5.channel.k8s.io ... 1 for channel.k8s.io."""
        return CHANNEL_PROTOCOLS[::-1].index(self.protocol) + 1 if self.protocol in CHANNEL_PROTOCOLS else 1

    def input(self, channel: int) -> _Inbound:
        return self._inputs.setdefault(channel, _Inbound())

    def output(self, channel: int) -> _Outbound:
        return _Outbound(self, channel)

    async def send(self, channel: int, data: bytes) -> None:
        if self.closed.is_set() or self.ws.closed:
            return
        async with self._lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_bytes(encode_message(channel, data))

    async def run(self) -> None:
        """Read messages until the client closes; feed input channels; close them all at the end."""
        try:
            async for msg in self.ws:
                if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                    # Upstream reads both kinds alike; the Python client sends str stdin as text messages.
                    raw = msg.data.encode() if isinstance(msg.data, str) else msg.data
                    channel, data = decode_message(raw)
                    if channel == CLOSE_SIGNAL and self.version >= 5:
                        if data:
                            self.input(data[0]).close()
                        continue
                    if channel >= 0:
                        self.input(channel).feed(data)
                else:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.closed.set()
            for inp in self._inputs.values():
                inp.close()

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
            await self.ws.close()
        self.closed.set()


class WebSocketByteChannel:
    """A byte stream carried in binary WebSocket messages (the SPDY port-forward tunnel), as a spdy.ByteChannel.

    The client splits its writes arbitrarily, so reads return whatever one message carried; each write becomes one
    binary message.
    """

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()

    async def read(self) -> bytes:
        while True:
            try:
                msg = await self.ws.receive()
            except (ConnectionError, RuntimeError):
                return b""
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    return bytes(msg.data)
                continue
            if msg.type == WSMsgType.TEXT:
                continue
            return b""

    async def write(self, data: bytes) -> None:
        if self.ws.closed:
            raise ConnectionResetError("websocket closed")
        async with self._lock:
            await self.ws.send_bytes(data)

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
            await self.ws.close()
