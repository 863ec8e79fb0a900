"""Port-forward: `portforward.k8s.io` over SPDY (native or WebSocket-tunnelled) and the WebSocket channel variant.

For every local connection kubectl opens a pair of SPDY streams sharing a `requestid`: an error stream (which it
half-closes at once) and a data stream, both carrying the target `port` in their headers. The data stream is
spliced to a TCP connection the runtime makes inside the pod; a failure is written as text on the error stream.
kubectl ≥ 1.31 sends the same SPDY bytes inside WebSocket binary messages, so both paths share `serve_spdy`.

The WebSocket channel variant (`v4.channel.k8s.io` with `?ports=`, used by the official Python client) gives each
requested port a data channel 2i and an error channel 2i+1, each opened by a message carrying the port number as
two little-endian bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable

from kybernetes.streaming import websocket as wsproto
from kybernetes.streaming.runtime_api import StreamingError
from kybernetes.streaming.spdy import SpdyConnection, SpdyStream, StreamClosed

log = logging.getLogger(__name__)

PROTOCOL = "portforward.k8s.io"
PAIR_TIMEOUT = 30.0

Connector = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
"""Opens a TCP connection to a port of the pod (the runtime's port_forward bound to one pod)."""


class _Pair:
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.error: SpdyStream | None = None
        self.data: SpdyStream | None = None
        self.complete = asyncio.Event()


async def _splice_spdy(stream: SpdyStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy both ways until both directions ended (or the client reset the stream)."""

    async def up() -> None:
        # client -> pod
        try:
            while chunk := await stream.read():
                writer.write(chunk)
                await writer.drain()
            if stream.reset:
                writer.close()
            elif writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass

    async def down() -> None:
        # pod -> client
        try:
            while chunk := await reader.read(65536):
                await stream.write(chunk)
        except (ConnectionError, OSError, StreamClosed):
            pass
        finally:
            await stream.close()

    up_task = asyncio.create_task(up())
    down_task = asyncio.create_task(down())
    try:
        done, _ = await asyncio.wait({up_task, down_task}, return_when=asyncio.FIRST_COMPLETED)
        if up_task in done and stream.reset:
            down_task.cancel()
        elif down_task in done and not up_task.done():
            # The pod closed its side; keep accepting client bytes until the client finishes or resets.
            pass
        await asyncio.gather(up_task, down_task, return_exceptions=True)
    finally:
        for t in (up_task, down_task):
            t.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _forward_pair(pair: _Pair, connect: Connector) -> None:
    assert pair.data is not None
    data, error = pair.data, pair.error
    port_s = data.headers.get("port", "")
    try:
        port = int(port_s)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        msg = f"invalid port: {port_s!r}"
        await _report(error, msg)
        await data.cancel()
        return
    try:
        reader, writer = await connect(port)
    except (StreamingError, OSError) as e:
        msg = f"error forwarding port {port} to pod: {e}"
        log.info("%s", msg)
        await _report(error, msg)
        await data.close()
        return
    await _splice_spdy(data, reader, writer)
    if error is not None:
        await error.close()


async def _report(error: SpdyStream | None, msg: str) -> None:
    if error is None:
        return
    with contextlib.suppress(StreamClosed):
        await error.write(msg.encode())
    await error.close()


async def serve_spdy(conn: SpdyConnection, connect: Connector) -> None:
    """Serve the port-forward streams of one SPDY connection until the client goes away."""
    pairs: dict[str, _Pair] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def run_pair(pair: _Pair) -> None:
        try:
            await asyncio.wait_for(pair.complete.wait(), PAIR_TIMEOUT)
        except TimeoutError:
            log.info("port-forward request %s: stream pair incomplete, resetting", pair.request_id)
            for s in (pair.data, pair.error):
                if s is not None:
                    await s.cancel()
            pairs.pop(pair.request_id, None)
            return
        try:
            await _forward_pair(pair, connect)
        finally:
            pairs.pop(pair.request_id, None)

    try:
        while True:
            stream = await conn.accept()
            if stream is None:
                break
            kind = stream.headers.get("streamtype", "")
            rid = stream.headers.get("requestid", "")
            if kind not in ("error", "data"):
                await stream.cancel()
                continue
            pair = pairs.get(rid)
            if pair is None:
                pair = pairs[rid] = _Pair(rid)
                t = asyncio.create_task(run_pair(pair))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            if getattr(pair, kind) is not None:
                await stream.cancel()
                continue
            setattr(pair, kind, stream)
            if pair.data is not None and pair.error is not None:
                pair.complete.set()
    finally:
        for t in list(tasks):
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.gather(*tasks, return_exceptions=True)


# ------------------------------------------------------------ WebSocket channels
def port_header(port: int) -> bytes:
    return struct.pack("<H", port)


async def serve_websocket(ws: wsproto.ChannelWebSocket, ports: list[int], connect: Connector) -> None:
    """The channel variant: one connection per requested port, data on channel 2i, errors on 2i+1."""
    run = asyncio.create_task(ws.run())

    async def forward(i: int, port: int) -> None:
        data_ch, err_ch = 2 * i, 2 * i + 1
        await ws.send(data_ch, port_header(port))
        await ws.send(err_ch, port_header(port))
        try:
            reader, writer = await connect(port)
        except (StreamingError, OSError) as e:
            await ws.send(err_ch, f"error forwarding port {port} to pod: {e}".encode())
            return
        inbound = ws.input(data_ch)

        async def up() -> None:
            try:
                while chunk := await inbound.read():
                    writer.write(chunk)
                    await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
            except (ConnectionError, OSError):
                pass

        async def down() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while chunk := await reader.read(65536):
                    await ws.send(data_ch, chunk)

        try:
            await asyncio.gather(up(), down())
        finally:
            writer.close()

    try:
        tasks = [asyncio.create_task(forward(i, p)) for i, p in enumerate(ports)]
        await asyncio.wait({run, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await ws.close()
        run.cancel()
        for t in tasks:
            t.cancel()
