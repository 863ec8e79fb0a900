"""SPDY/3.1 framing and a server-side connection, as kubectl's SPDY streams (moby/spdystream) speak it.

kubectl ≤ 1.29 runs exec/attach over SPDY, and every kubectl version runs port-forward over it (natively after an
`Upgrade: SPDY/3.1`, or tunnelled in WebSocket binary messages from 1.31 on). No maintained Python library speaks
SPDY any more, so the framing is here: control frames (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY,
HEADERS, WINDOW_UPDATE), data frames, and header blocks compressed with zlib and the SPDY/3 dictionary, one
compression context per direction for the whole connection.

spdystream does no flow control (it ignores WINDOW_UPDATE and never sends one), so neither do we; back-pressure
comes from the byte channel underneath.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

VERSION = 3

SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
UNSUPPORTED_VERSION = 4
CANCEL = 5
INTERNAL_ERROR = 6
FLOW_CONTROL_ERROR = 7
STREAM_IN_USE = 8
STREAM_ALREADY_CLOSED = 9
FRAME_TOO_LARGE = 11

# GOAWAY status codes
GOAWAY_OK = 0
GOAWAY_PROTOCOL_ERROR = 1
GOAWAY_INTERNAL_ERROR = 2

MAX_FRAME_LENGTH = 0xFFFFFF
MAX_DATA_CHUNK = 32 * 1024
MAX_HEADER_BLOCK = 1 << 20

_WORDS = [
    *(
        "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges age "
    "allow authorization cache-control connection content-base content-encoding content-language content-length "
    "content-location content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
        "user-agent vary via warning www-authenticate method get status"
    ).split(),
    *("200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"),
]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
"""The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): 1423 bytes."""
DICTIONARY_ADLER32 = 0xE3C6A7C2


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3."""


Headers = list[tuple[str, str]]
"""Header pairs in order; names are lowercase. Several values of one name are joined with NUL on the wire."""


# ------------------------------------------------------------------ frames
@dataclass(slots=True)
class DataFrame:
    stream_id: int
    data: bytes = b""
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(slots=True)
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=list)
    flags: int = 0
    associated_id: int = 0
    priority: int = 0
    slot: int = 0


@dataclass(slots=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=list)
    flags: int = 0


@dataclass(slots=True)
class RstStream:
    stream_id: int
    status: int = CANCEL
    flags: int = 0


@dataclass(slots=True)
class Settings:
    entries: list[tuple[int, int, int]] = field(default_factory=list)  # (flags, id, value)
    flags: int = 0


@dataclass(slots=True)
class Ping:
    id: int
    flags: int = 0


@dataclass(slots=True)
class GoAway:
    last_stream_id: int = 0
    status: int = GOAWAY_OK
    flags: int = 0


@dataclass(slots=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=list)
    flags: int = 0


@dataclass(slots=True)
class WindowUpdate:
    stream_id: int
    delta: int
    flags: int = 0


@dataclass(slots=True)
class UnknownControl:
    type: int
    payload: bytes
    flags: int = 0


Frame = (
    DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate | UnknownControl
)


# ------------------------------------------------------------ header blocks
def encode_header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    """The uncompressed name/value block: count(u32), then len(u32)+name, len(u32)+value per pair."""
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), []).append(value)
    out = [struct.pack(">I", len(merged))]
    for name, values in merged.items():
        n = name.encode("utf-8")
        v = "\x00".join(values).encode("utf-8")
        out.append(struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v)
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    """Parse an uncompressed block into pairs; NUL-joined values become several pairs."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos = 4
        out: Headers = []
        for _ in range(count):
            (nlen,) = struct.unpack_from(">I", block, pos)
            pos += 4
            name = block[pos : pos + nlen].decode("utf-8")
            pos += nlen
            (vlen,) = struct.unpack_from(">I", block, pos)
            pos += 4
            value = block[pos : pos + vlen].decode("utf-8")
            pos += vlen
            if pos > len(block):
                raise ProtocolError("truncated header block")
            for v in value.split("\x00"):
                out.append((name.lower(), v))
        return out
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"bad header block: {e}") from None


class HeaderCompressor:
    """One direction's zlib stream: every block is compressed then sync-flushed, sharing the window."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def compress(self, headers: Iterable[tuple[str, str]]) -> bytes:
        block = encode_header_block(headers)
        return self._z.compress(block) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """The other direction's zlib stream; the dictionary is supplied when the stream asks for it."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(15, zdict=DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            block = self._z.decompress(data, MAX_HEADER_BLOCK)
        except zlib.error as e:
            raise ProtocolError(f"header decompression failed: {e}") from None
        if self._z.unconsumed_tail:
            raise ProtocolError("header block too large")
        return decode_header_block(block)


# ------------------------------------------------------------ frame codec
def _control(type_: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME_LENGTH:
        raise ProtocolError("frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, type_, (flags << 24) | len(payload)) + payload


class FrameEncoder:
    """Frames to bytes, with this side's header compression context."""

    def __init__(self) -> None:
        self.headers = HeaderCompressor()

    def encode(self, frame: Frame) -> bytes:
        match frame:
            case DataFrame(stream_id=sid, data=data, flags=flags):
                if len(data) > MAX_FRAME_LENGTH:
                    raise ProtocolError("frame too large")
                return struct.pack(">II", sid & 0x7FFFFFFF, (flags << 24) | len(data)) + data
            case SynStream():
                body = struct.pack(
                    ">IIBB", frame.stream_id & 0x7FFFFFFF, frame.associated_id & 0x7FFFFFFF,
                    (frame.priority & 7) << 5, frame.slot,
                )
                return _control(SYN_STREAM, frame.flags, body + self.headers.compress(frame.headers))
            case SynReply():
                body = struct.pack(">I", frame.stream_id & 0x7FFFFFFF) + self.headers.compress(frame.headers)
                return _control(SYN_REPLY, frame.flags, body)
            case RstStream():
                return _control(RST_STREAM, frame.flags, struct.pack(">II", frame.stream_id & 0x7FFFFFFF, frame.status))
            case Settings():
                body = struct.pack(">I", len(frame.entries)) + b"".join(
                    struct.pack(">II", (f << 24) | (i & 0xFFFFFF), v) for f, i, v in frame.entries
                )
                return _control(SETTINGS, frame.flags, body)
            case Ping():
                return _control(PING, frame.flags, struct.pack(">I", frame.id))
            case GoAway():
                return _control(GOAWAY, frame.flags, struct.pack(">II", frame.last_stream_id & 0x7FFFFFFF, frame.status))
            case HeadersFrame():
                body = struct.pack(">I", frame.stream_id & 0x7FFFFFFF) + self.headers.compress(frame.headers)
                return _control(HEADERS, frame.flags, body)
            case WindowUpdate():
                return _control(
                    WINDOW_UPDATE, frame.flags, struct.pack(">II", frame.stream_id & 0x7FFFFFFF, frame.delta & 0x7FFFFFFF)
                )
            case UnknownControl():
                return _control(frame.type, frame.flags, frame.payload)
        raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameDecoder:
    """Bytes to frames: feed any split of the byte stream, get the complete frames so far."""

    def __init__(self) -> None:
        self.headers = HeaderDecompressor()
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word, flags_len = struct.unpack_from(">II", self._buf, 0)
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            flags = flags_len >> 24
            if word & 0x80000000:
                version = (word >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frames.append(self._control(word & 0xFFFF, flags, payload))
            else:
                frames.append(DataFrame(word & 0x7FFFFFFF, payload, flags))
        return frames

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _control(self, type_: int, flags: int, p: bytes) -> Frame:
        try:
            if type_ == SYN_STREAM:
                sid, assoc, pri, slot = struct.unpack_from(">IIBB", p, 0)
                return SynStream(sid & 0x7FFFFFFF, self.headers.decompress(p[10:]), flags, assoc & 0x7FFFFFFF,
                                 pri >> 5, slot)
            if type_ == SYN_REPLY:
                (sid,) = struct.unpack_from(">I", p, 0)
                return SynReply(sid & 0x7FFFFFFF, self.headers.decompress(p[4:]), flags)
            if type_ == RST_STREAM:
                sid, status = struct.unpack_from(">II", p, 0)
                return RstStream(sid & 0x7FFFFFFF, status, flags)
            if type_ == SETTINGS:
                (n,) = struct.unpack_from(">I", p, 0)
                entries = []
                for i in range(n):
                    fid, value = struct.unpack_from(">II", p, 4 + 8 * i)
                    entries.append((fid >> 24, fid & 0xFFFFFF, value))
                return Settings(entries, flags)
            if type_ == PING:
                (pid,) = struct.unpack_from(">I", p, 0)
                return Ping(pid, flags)
            if type_ == GOAWAY:
                last, status = struct.unpack_from(">II", p, 0) if len(p) >= 8 else (*struct.unpack_from(">I", p, 0), 0)
                return GoAway(last & 0x7FFFFFFF, status, flags)
            if type_ == HEADERS:
                (sid,) = struct.unpack_from(">I", p, 0)
                return HeadersFrame(sid & 0x7FFFFFFF, self.headers.decompress(p[4:]), flags)
            if type_ == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", p, 0)
                return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF, flags)
        except struct.error as e:
            raise ProtocolError(f"short control frame {type_}: {e}") from None
        return UnknownControl(type_, p, flags)


# -------------------------------------------------------------- connection
class ByteChannel(Protocol):
    """The byte stream under a SPDY connection: an upgraded HTTP connection or a WebSocket tunnel."""

    async def read(self) -> bytes:
        """The next bytes; b"" at end of stream."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class StreamClosed(ConnectionError):
    """Writing to a stream the peer reset, or after the connection went away."""


class SpdyStream:
    """One client-initiated stream: its headers, an inbound byte buffer and outbound data frames."""

    def __init__(self, conn: SpdyConnection, stream_id: int, headers: Headers, fin: bool) -> None:
        self.conn = conn
        self.id = stream_id
        self.header_list = headers
        self.headers = {k: v for k, v in headers}
        self._buf = bytearray()
        self._data = asyncio.Event()
        self.remote_closed = fin  # peer sent FIN
        self.local_closed = False  # we sent FIN
        self.reset = False
        if fin:
            self._data.set()

    def __repr__(self) -> str:
        return f"<SpdyStream {self.id} {self.headers}>"

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _feed(self, data: bytes, fin: bool) -> None:
        if self.remote_closed or self.reset:
            return
        if data:
            self._buf += data
        if fin:
            self.remote_closed = True
            if self.local_closed:
                self.conn._forget(self.id)
        self._data.set()

    def _reset(self) -> None:
        self.reset = True
        self.remote_closed = True
        self.local_closed = True
        self._data.set()

    async def read(self, n: int = 65536) -> bytes:
        """Up to `n` bytes sent by the peer; b"" once it finished the stream (FIN or RST)."""
        while not self._buf:
            if self.remote_closed:
                return b""
            self._data.clear()
            await self._data.wait()
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        if not self._buf and not self.remote_closed:
            self._data.clear()
        self.conn._consumed()
        return chunk

    async def readall(self) -> bytes:
        out = bytearray()
        while chunk := await self.read():
            out += chunk
        return bytes(out)

    async def write(self, data: bytes) -> None:
        """Send `data` as data frames; raises StreamClosed if the peer reset the stream or the connection is gone."""
        if self.reset or self.conn.closed:
            raise StreamClosed(f"stream {self.id} is closed")
        if self.local_closed:
            raise StreamClosed(f"stream {self.id} is half-closed")
        for i in range(0, len(data), MAX_DATA_CHUNK):
            await self.conn.send(DataFrame(self.id, data[i : i + MAX_DATA_CHUNK]))

    async def close(self) -> None:
        """Half-close: a zero-length data frame with FIN (no more data from us)."""
        if self.local_closed or self.reset or self.conn.closed:
            self.local_closed = True
            return
        self.local_closed = True
        if self.remote_closed:
            self.conn._forget(self.id)
        with contextlib.suppress(ConnectionError):
            await self.conn.send(DataFrame(self.id, b"", FLAG_FIN))

    async def cancel(self, status: int = CANCEL) -> None:
        """Reset the stream (RST_STREAM)."""
        if self.reset:
            return
        self._reset()
        self.conn._forget(self.id)
        if not self.conn.closed:
            with contextlib.suppress(ConnectionError):
                await self.conn.send(RstStream(self.id, status))


READ_HIGH_WATER = 4 * 1024 * 1024


class SpdyConnection:
    """The server side of a SPDY/3.1 session: accepts client streams, replies to them, answers pings.

    Run `serve()` as a task; `accept()` hands out new streams (already answered with SYN_REPLY, which the client
    waits for before opening its next stream). The connection ends when the channel reaches EOF, on GOAWAY plus
    EOF, or on `close()`.
    """

    def __init__(self, channel: ByteChannel) -> None:
        self.channel = channel
        self._enc = FrameEncoder()
        self._dec = FrameDecoder()
        self._wlock = asyncio.Lock()
        self.streams: dict[int, SpdyStream] = {}
        self._incoming: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self._last_stream_id = 0
        self.closed = False
        self.goaway_received = False
        self.done = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()

    async def send(self, frame: Frame) -> None:
        if self.closed:
            raise StreamClosed("connection closed")
        async with self._wlock:
            data = self._enc.encode(frame)
            try:
                await self.channel.write(data)
            except (ConnectionError, RuntimeError) as e:
                self._mark_closed()
                raise StreamClosed(str(e)) from None

    async def accept(self) -> SpdyStream | None:
        """The next stream the client opened, or None once the connection is over."""
        if self.done.is_set() and self._incoming.empty():
            return None
        return await self._incoming.get()

    def _forget(self, stream_id: int) -> None:
        """Both sides finished the stream: stop tracking it (its unread bytes stay readable)."""
        self.streams.pop(stream_id, None)

    def _consumed(self) -> None:
        if not self._drained.is_set() and sum(s.buffered for s in self.streams.values()) < READ_HIGH_WATER // 2:
            self._drained.set()

    async def serve(self) -> None:
        """Read frames until the channel ends; then every stream sees EOF."""
        try:
            while not self.closed:
                data = await self.channel.read()
                if not data:
                    break
                for frame in self._dec.feed(data):
                    await self._handle(frame)
                if sum(s.buffered for s in self.streams.values()) > READ_HIGH_WATER:
                    self._drained.clear()
                    await self._drained.wait()
        except ProtocolError as e:
            log.info("SPDY protocol error: %s", e)
            with contextlib.suppress(ConnectionError):
                await self.send(GoAway(self._last_stream_id, GOAWAY_PROTOCOL_ERROR))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._mark_closed()

    def _mark_closed(self) -> None:
        if self.done.is_set():
            return
        self.closed = True
        for s in self.streams.values():
            s._reset()
        self.done.set()
        self._drained.set()
        self._incoming.put_nowait(None)

    async def _handle(self, frame: Frame) -> None:
        match frame:
            case DataFrame():
                stream = self.streams.get(frame.stream_id)
                if stream is None:
                    return  # spdystream ignores data for unknown streams; so do we
                stream._feed(frame.data, frame.fin)
            case SynStream():
                sid = frame.stream_id
                if sid % 2 == 0 or sid <= self._last_stream_id:
                    await self.send(RstStream(sid, PROTOCOL_ERROR))
                    return
                self._last_stream_id = sid
                if self.goaway_received:
                    await self.send(RstStream(sid, REFUSED_STREAM))
                    return
                stream = SpdyStream(self, sid, frame.headers, bool(frame.flags & FLAG_FIN))
                if frame.flags & FLAG_UNIDIRECTIONAL:
                    stream.local_closed = True
                self.streams[sid] = stream
                await self.send(SynReply(sid, []))
                self._incoming.put_nowait(stream)
            case RstStream():
                stream = self.streams.pop(frame.stream_id, None)
                if stream is not None:
                    stream._reset()
            case Ping():
                if frame.id % 2 == 1:  # client pings are odd; ours would be even
                    await self.send(Ping(frame.id))
            case GoAway():
                self.goaway_received = True
            case HeadersFrame():
                stream = self.streams.get(frame.stream_id)
                if stream is not None:
                    stream.header_list.extend(frame.headers)
                    stream.headers.update(frame.headers)
                    if frame.flags & FLAG_FIN:
                        stream._feed(b"", True)
            case SynReply() | Settings() | WindowUpdate() | UnknownControl():
                pass

    async def close(self) -> None:
        """Say GOAWAY and close the channel."""
        if not self.closed:
            with contextlib.suppress(ConnectionError):
                await self.send(GoAway(self._last_stream_id, GOAWAY_OK))
        self._mark_closed()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.channel.close()
