"""The kubelet server's protocols with hand-made clients: protocol versions kubectl no longer speaks (SPDY v2,
channel.k8s.io), several port-forward pairs at once, failures on the error stream, the WebSocket tunnel split into
tiny messages. Plain HTTP on loopback (no TLS: authorization is tested end to end elsewhere)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from kybernetes.streaming import spdy
from kybernetes.streaming.kubeletserver import KubeletServer
from tests.streaming.hostruntime import FakeHostProcessRuntime


@pytest.fixture
async def kubelet(tmp_path: Path) -> AsyncIterator[tuple[KubeletServer, FakeHostProcessRuntime]]:
    rt = FakeHostProcessRuntime(tmp_path)
    await rt.start_pod({"metadata": {"uid": "u1", "namespace": "ns", "name": "p"},
                        "spec": {"containers": [{"name": "c", "command": ["sleep", "100000"]}]}})
    srv = KubeletServer(rt, address="127.0.0.1", port=0)
    await srv.start()
    yield srv, rt
    await srv.stop()
    await rt.stop_all()


class SpdyClient:
    """Just enough of a SPDY client: upgrade, open streams, collect frames per stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.enc, self.dec = spdy.FrameEncoder(), spdy.FrameDecoder()
        self.next_id = 1
        self.data: dict[int, bytearray] = {}
        self.fin: set[int] = set()
        self.replies: set[int] = set()
        self.changed = asyncio.Event()
        self.pump = asyncio.create_task(self._pump())

    @classmethod
    async def connect(cls, port: int, path: str, protocols: list[str]) -> tuple[SpdyClient, str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n"
        head += "".join(f"X-Stream-Protocol-Version: {p}\r\n" for p in protocols) + "\r\n"
        writer.write(head.encode())
        resp = (await reader.readuntil(b"\r\n\r\n")).decode()
        assert resp.startswith("HTTP/1.1 101"), resp
        chosen = next(ln.split(":", 1)[1].strip() for ln in resp.split("\r\n")
                      if ln.lower().startswith("x-stream-protocol-version"))
        return cls(reader, writer), chosen

    async def _pump(self) -> None:
        while chunk := await self.reader.read(65536):
            for f in self.dec.feed(chunk):
                if isinstance(f, spdy.SynReply):
                    self.replies.add(f.stream_id)
                elif isinstance(f, spdy.DataFrame):
                    self.data.setdefault(f.stream_id, bytearray()).extend(f.data)
                    if f.fin:
                        self.fin.add(f.stream_id)
                elif isinstance(f, spdy.RstStream):
                    self.fin.add(f.stream_id)
            self.changed.set()

    async def open(self, headers: list[tuple[str, str]], fin: bool = False) -> int:
        sid = self.next_id
        self.next_id += 2
        self.writer.write(self.enc.encode(spdy.SynStream(sid, headers, spdy.FLAG_FIN if fin else 0)))
        await self.until(lambda: sid in self.replies)
        return sid

    def send(self, sid: int, data: bytes, fin: bool = False) -> None:
        self.writer.write(self.enc.encode(spdy.DataFrame(sid, data, spdy.FLAG_FIN if fin else 0)))

    async def until(self, cond: object, timeout: float = 10) -> None:
        async def wait() -> None:
            while not cond():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        self.pump.cancel()
        self.writer.close()


async def test_exec_spdy_v4_and_v2(kubelet: tuple[KubeletServer, FakeHostProcessRuntime]) -> None:
    srv, _ = kubelet
    path = "/exec/ns/p/c?command=sh&command=-c&command=echo%20out%3B%20echo%20err%20%3E%262%3B%20exit%203" \
           "&stdout=true&stderr=true"
    c, proto = await SpdyClient.connect(srv.port, path, ["v4.channel.k8s.io", "v2.channel.k8s.io"])
    assert proto == "v4.channel.k8s.io"
    err = await c.open([("streamtype", "error")])
    out = await c.open([("streamtype", "stdout")])
    errout = await c.open([("streamtype", "stderr")])
    await c.until(lambda: {err, out, errout} <= c.fin)
    assert bytes(c.data[out]) == b"out\n" and bytes(c.data[errout]) == b"err\n"
    status = orjson.loads(bytes(c.data[err]))
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    await c.close()

    # v2: the error stream carries a plain message.
    c, proto = await SpdyClient.connect(srv.port, path, ["v2.channel.k8s.io"])
    assert proto == "v2.channel.k8s.io"
    err = await c.open([("streamtype", "error")])
    out = await c.open([("streamtype", "stdout")])
    errout = await c.open([("streamtype", "stderr")])
    await c.until(lambda: {err, out, errout} <= c.fin)
    assert bytes(c.data[err]).startswith(b"command terminated with non-zero exit code")
    await c.close()


async def test_exec_spdy_stdin(kubelet: tuple[KubeletServer, FakeHostProcessRuntime]) -> None:
    srv, _ = kubelet
    c, _ = await SpdyClient.connect(srv.port, "/exec/ns/p/c?command=cat&stdin=true&stdout=true",
                                    ["v5.channel.k8s.io"])
    err = await c.open([("streamtype", "error")])
    stdin = await c.open([("streamtype", "stdin")])
    out = await c.open([("streamtype", "stdout")])
    payload = bytes(range(256)) * 1000
    for i in range(0, len(payload), 10000):
        c.send(stdin, payload[i:i + 10000])
    c.send(stdin, b"", fin=True)
    await c.until(lambda: err in c.fin)
    assert bytes(c.data[out]) == payload
    assert orjson.loads(bytes(c.data[err])) == {"metadata": {}, "status": "Success"}
    await c.close()


async def test_exec_refuses_unknown_protocols_and_bad_queries(
    kubelet: tuple[KubeletServer, FakeHostProcessRuntime],
) -> None:
    srv, _ = kubelet
    async with aiohttp.ClientSession() as s:
        base = f"http://127.0.0.1:{srv.port}"
        r = await s.post(f"{base}/exec/ns/p/c?command=true&stdout=true",
                         headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v9"})
        assert r.status == 403 and "unable to negotiate protocol" in await r.text()
        r = await s.post(f"{base}/exec/ns/p/c?stdout=true", headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1"})
        assert r.status == 400 and "you must specify a command" in await r.text()
        r = await s.post(f"{base}/exec/ns/nope/c?command=true&stdout=true",
                         headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1"})
        assert r.status == 404


async def echo_server() -> tuple[asyncio.Server, int]:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while data := await r.read(65536):
            w.write(data.upper())
            await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def test_port_forward_spdy_pairs_and_errors(kubelet: tuple[KubeletServer, FakeHostProcessRuntime]) -> None:
    srv, _ = kubelet
    server, port = await echo_server()
    c, proto = await SpdyClient.connect(srv.port, "/portForward/ns/p", ["portforward.k8s.io"])
    assert proto == "portforward.k8s.io"
    pairs = []
    for rid in range(3):
        e = await c.open([("streamtype", "error"), ("port", str(port)), ("requestid", str(rid))], fin=True)
        d = await c.open([("streamtype", "data"), ("port", str(port)), ("requestid", str(rid))])
        pairs.append((e, d))
    for rid, (_, d) in enumerate(pairs):
        c.send(d, f"hello {rid}".encode())
    await c.until(lambda: all(len(c.data.get(d, b"")) == 7 for _, d in pairs))
    assert [bytes(c.data[d]) for _, d in pairs] == [b"HELLO 0", b"HELLO 1", b"HELLO 2"]
    # Half-closing our side lets the pod finish; the data stream then ends.
    c.send(pairs[0][1], b"", fin=True)
    await c.until(lambda: pairs[0][1] in c.fin)
    # Nothing listens on the port: the error stream says so.
    server.close()
    await server.wait_closed()
    e = await c.open([("streamtype", "error"), ("port", str(port)), ("requestid", "9")], fin=True)
    d = await c.open([("streamtype", "data"), ("port", str(port)), ("requestid", "9")])
    await c.until(lambda: e in c.fin)
    assert f"error forwarding port {port}".encode() in bytes(c.data[e])
    e = await c.open([("streamtype", "error"), ("port", "http"), ("requestid", "10")], fin=True)
    d = await c.open([("streamtype", "data"), ("port", "http"), ("requestid", "10")])
    await c.until(lambda: e in c.fin and d in c.fin)
    assert b"invalid port" in bytes(c.data[e])
    await c.close()


async def test_port_forward_websocket_tunnel_in_tiny_messages(
    kubelet: tuple[KubeletServer, FakeHostProcessRuntime],
) -> None:
    srv, _ = kubelet
    server, port = await echo_server()
    enc, dec = spdy.FrameEncoder(), spdy.FrameDecoder()
    async with aiohttp.ClientSession() as s, s.ws_connect(
        f"http://127.0.0.1:{srv.port}/portForward/ns/p", protocols=["SPDY/3.1+portforward.k8s.io"]
    ) as ws:
        assert ws.protocol == "SPDY/3.1+portforward.k8s.io"
        wire = enc.encode(spdy.SynStream(1, [("streamtype", "error"), ("port", str(port)), ("requestid", "0")],
                                         spdy.FLAG_FIN))
        wire += enc.encode(spdy.SynStream(3, [("streamtype", "data"), ("port", str(port)), ("requestid", "0")]))
        wire += enc.encode(spdy.DataFrame(3, b"tunnelled"))
        for i in range(0, len(wire), 3):  # the client splits writes arbitrarily
            await ws.send_bytes(wire[i:i + 3])
        got = b""
        while b"TUNNELLED" not in got:
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type == aiohttp.WSMsgType.BINARY
            for f in dec.feed(msg.data):
                if isinstance(f, spdy.DataFrame) and f.stream_id == 3:
                    got += f.data
    server.close()
    await server.wait_closed()


async def test_exec_websocket_v4(kubelet: tuple[KubeletServer, FakeHostProcessRuntime]) -> None:
    srv, _ = kubelet
    async with aiohttp.ClientSession() as s, s.ws_connect(
        f"http://127.0.0.1:{srv.port}/exec/ns/p/c?command=sh&command=-c&command=read%20x%3B%20echo%20$x%3B%20exit%202"
        "&stdin=true&stdout=true&stderr=true", protocols=["v4.channel.k8s.io"]
    ) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        await ws.send_bytes(b"\x00abc\n")
        out = b""
        status = None
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            if msg.data[0] == 1:
                out += msg.data[1:]
            elif msg.data[0] == 3:
                status = orjson.loads(msg.data[1:])
        assert out == b"abc\n"
        assert status is not None and status["details"]["causes"][0]["message"] == "2"
