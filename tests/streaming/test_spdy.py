"""SPDY/3.1 framing: the dictionary, header compression contexts, every frame type, and a loopback connection."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.streaming import spdy


def test_dictionary_matches_spdy3() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == spdy.DICTIONARY_ADLER32 == 0xE3C6A7C2


def test_compressed_block_announces_the_dictionary() -> None:
    data = spdy.HeaderCompressor().compress([("streamtype", "error")])
    # zlib header with FDICT set, then the dictionary's Adler-32: what kubectl's zlib stream starts with too.
    assert data[0] == 0x78 and data[1] & 0x20
    assert data[2:6] == bytes.fromhex("e3c6a7c2")


def test_header_context_spans_blocks() -> None:
    c, d = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
    blocks = [[("streamtype", "error")], [("streamtype", "stdout")], [], [("port", "80"), ("requestid", "0")]]
    encoded = [c.compress(b) for b in blocks]
    assert [d.decompress(e) for e in encoded] == blocks
    # The second block reuses the window, so it cannot be decoded by a fresh context.
    with pytest.raises(spdy.ProtocolError):
        spdy.HeaderDecompressor().decompress(encoded[1])


def test_empty_header_block_is_still_compressed() -> None:
    data = spdy.HeaderCompressor().compress([])
    assert data and spdy.HeaderDecompressor().decompress(data) == []


def test_multiple_values_joined_with_nul() -> None:
    block = spdy.encode_header_block([("X-Stream-Protocol-Version", "v4"), ("x-stream-protocol-version", "v3")])
    assert block == struct.pack(">I", 1) + struct.pack(">I", 25) + b"x-stream-protocol-version" + struct.pack(">I", 5) + b"v4\x00v3"
    assert spdy.decode_header_block(block) == [("x-stream-protocol-version", "v4"), ("x-stream-protocol-version", "v3")]


FRAMES: list[spdy.Frame] = [
    spdy.SynStream(1, [("streamtype", "error")], 0, 0, 0, 0),
    spdy.SynStream(3, [("streamtype", "data"), ("port", "8000"), ("requestid", "0")], spdy.FLAG_FIN, 1, 7, 0),
    spdy.SynReply(1, []),
    spdy.SynReply(3, [("a", "b")], spdy.FLAG_FIN),
    spdy.RstStream(5, spdy.CANCEL),
    spdy.Settings([(0, 4, 100), (1, 7, 65536)]),
    spdy.Ping(1),
    spdy.GoAway(7, spdy.GOAWAY_OK),
    spdy.HeadersFrame(3, [("x", "y")]),
    spdy.WindowUpdate(0, 65536),
    spdy.DataFrame(1, b"hello"),
    spdy.DataFrame(3, b"", spdy.FLAG_FIN),
    spdy.UnknownControl(42, b"\x00\x01"),
]


def test_every_frame_round_trips() -> None:
    enc, dec = spdy.FrameEncoder(), spdy.FrameDecoder()
    wire = b"".join(enc.encode(f) for f in FRAMES)
    assert dec.feed(wire) == FRAMES


def test_control_frame_layout() -> None:
    raw = spdy.FrameEncoder().encode(spdy.Ping(0x01020304))
    assert raw == bytes.fromhex("80030006") + bytes.fromhex("00000004") + bytes.fromhex("01020304")
    raw = spdy.FrameEncoder().encode(spdy.RstStream(1, spdy.CANCEL))
    assert raw == bytes.fromhex("80030003 00000008 00000001 00000005".replace(" ", ""))
    raw = spdy.FrameEncoder().encode(spdy.DataFrame(3, b"ab", spdy.FLAG_FIN))
    assert raw == bytes.fromhex("00000003 01000002 6162".replace(" ", ""))


@given(st.lists(st.integers(1, 40), min_size=1, max_size=60))
def test_decoder_reassembles_any_split(cuts: list[int]) -> None:
    enc = spdy.FrameEncoder()
    wire = b"".join(enc.encode(f) for f in FRAMES)
    dec = spdy.FrameDecoder()
    out: list[spdy.Frame] = []
    pos = 0
    i = 0
    while pos < len(wire):
        n = cuts[i % len(cuts)]
        out += dec.feed(wire[pos : pos + n])
        pos += n
        i += 1
    assert out == FRAMES and dec.buffered == 0


@given(st.lists(st.tuples(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20),
                          st.text(max_size=50).filter(lambda v: "\x00" not in v)), max_size=10))
def test_header_blocks_round_trip(pairs: list[tuple[str, str]]) -> None:
    c, d = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
    merged: dict[str, list[str]] = {}
    for k, v in pairs:
        merged.setdefault(k, []).append(v)
    expect = [(k, v) for k, vs in merged.items() for v in vs]
    assert d.decompress(c.compress(pairs)) == expect


def test_wrong_version_is_a_protocol_error() -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.FrameDecoder().feed(struct.pack(">HHI", 0x8002, 6, 4) + b"\0\0\0\1")


class PipeChannel:
    """Two in-memory byte queues: the test plays the client on the other end."""

    def __init__(self) -> None:
        self.inbound: asyncio.Queue[bytes] = asyncio.Queue()
        self.outbound: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed = False

    async def read(self) -> bytes:
        return await self.inbound.get()

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError
        await self.outbound.put(data)

    async def close(self) -> None:
        self.closed = True


class Client:
    def __init__(self, ch: PipeChannel) -> None:
        self.ch = ch
        self.enc = spdy.FrameEncoder()
        self.dec = spdy.FrameDecoder()
        self.pending: list[spdy.Frame] = []

    async def send(self, frame: spdy.Frame) -> None:
        await self.ch.inbound.put(self.enc.encode(frame))

    async def recv(self) -> spdy.Frame:
        while not self.pending:
            self.pending += self.dec.feed(await asyncio.wait_for(self.ch.outbound.get(), 5))
        return self.pending.pop(0)


async def test_connection_replies_echoes_pings_and_carries_data() -> None:
    ch = PipeChannel()
    conn = spdy.SpdyConnection(ch)
    serving = asyncio.create_task(conn.serve())
    client = Client(ch)
    await client.send(spdy.SynStream(1, [("streamtype", "stdin")]))
    assert await client.recv() == spdy.SynReply(1, [])
    stream = await conn.accept()
    assert stream is not None and stream.headers == {"streamtype": "stdin"}
    await client.send(spdy.Ping(1))
    assert await client.recv() == spdy.Ping(1)
    await client.send(spdy.DataFrame(1, b"hello "))
    await client.send(spdy.DataFrame(1, b"world", spdy.FLAG_FIN))
    assert await stream.readall() == b"hello world"
    await stream.write(b"x" * (spdy.MAX_DATA_CHUNK + 1))
    f1, f2 = await client.recv(), await client.recv()
    assert isinstance(f1, spdy.DataFrame) and isinstance(f2, spdy.DataFrame)
    assert len(f1.data) == spdy.MAX_DATA_CHUNK and len(f2.data) == 1
    await stream.close()
    assert await client.recv() == spdy.DataFrame(1, b"", spdy.FLAG_FIN)
    # Even stream ids (server-initiated) and reused ids are refused.
    await client.send(spdy.SynStream(2, []))
    assert await client.recv() == spdy.RstStream(2, spdy.PROTOCOL_ERROR)
    await client.send(spdy.SynStream(3, [("streamtype", "data")]))
    assert await client.recv() == spdy.SynReply(3, [])
    s3 = await conn.accept()
    assert s3 is not None
    await client.send(spdy.RstStream(3, spdy.CANCEL))
    assert await s3.read() == b""
    with pytest.raises(spdy.StreamClosed):
        await s3.write(b"late")
    await ch.inbound.put(b"")  # EOF
    await serving
    assert await conn.accept() is None
