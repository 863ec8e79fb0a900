"""Protobuf wire format, read and written by hand.

Why not the ``protobuf`` package: the API server only needs the raw wire
format (varints, fixed32/64 and length-delimited records) driven by field
tables, not generated classes, and the tables cover 1,100+ Kubernetes
messages plus the gnostic OpenAPI v2 document.  A few tight pure-Python loops
do that without a code generator or a C extension.

Reading: :func:`parse_message` turns one message's bytes into a list of
``(field_number, wire_type, value)`` records: ``value`` is an ``int`` for
varint and fixed32/64 records and ``bytes`` for length-delimited ones.  Group
wire types (3, 4) are rejected: no Kubernetes or gnostic message uses them.

Writing: :class:`Writer` appends records to a ``bytearray``; nested messages
are written by the caller into their own writer first and then added with
:meth:`Writer.bytes_field` (length prefix + body).

Every malformation raises :class:`ProtobufDecodeError`, never ``IndexError``
and friends, so a caller can turn it into a 400 Bad Request.
"""

from __future__ import annotations

import struct

__all__ = [
    "WT_FIXED32",
    "WT_FIXED64",
    "WT_LEN",
    "WT_VARINT",
    "ProtobufDecodeError",
    "ProtobufEncodeError",
    "Writer",
    "encode_varint",
    "parse_message",
    "read_varint",
    "to_signed32",
    "to_signed64",
]

WT_VARINT = 0
WT_FIXED64 = 1
WT_LEN = 2
WT_FIXED32 = 5

_MASK64 = (1 << 64) - 1
_SMALL_VARINTS = tuple(bytes([i]) for i in range(128))
_unpack_u64 = struct.Struct("<Q").unpack_from
_unpack_u32 = struct.Struct("<I").unpack_from
_pack_d = struct.Struct("<d").pack
_pack_f = struct.Struct("<f").pack
_pack_u64 = struct.Struct("<Q").pack
_pack_u32 = struct.Struct("<I").pack


class ProtobufDecodeError(ValueError):
    """The bytes are not a valid protobuf message of the expected type."""


class ProtobufEncodeError(ValueError):
    """A value cannot be encoded as the field's protobuf type."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``; return ``(value, new_pos)`` (value is unsigned, < 2**64)."""
    try:
        b = buf[pos]
    except IndexError:
        raise ProtobufDecodeError("truncated varint") from None
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    end = len(buf)
    while True:
        if pos >= end:
            raise ProtobufDecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if shift >= 63 and result > _MASK64:
                raise ProtobufDecodeError("varint overflows 64 bits")
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufDecodeError("varint longer than 10 bytes")


def to_signed64(v: int) -> int:
    """Reinterpret an unsigned 64-bit varint value as int64."""
    return v - (1 << 64) if v >= 1 << 63 else v


def to_signed32(v: int) -> int:
    """Reinterpret a varint value as int32 (Go truncates to the low 32 bits)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def parse_message(buf: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, int, int | bytes]]:
    """Split one message into ``(field_number, wire_type, value)`` records, in wire order."""
    if end is None:
        end = len(buf)
    out: list[tuple[int, int, int | bytes]] = []
    append = out.append
    pos = start
    while pos < end:
        # Inline fast path for one-byte tags and one-byte varints/lengths.
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos)
            if pos > end:
                raise ProtobufDecodeError("truncated tag")
        num = key >> 3
        wt = key & 7
        if num == 0:
            raise ProtobufDecodeError("field number 0")
        if wt == WT_LEN:
            if pos >= end:
                raise ProtobufDecodeError("truncated length")
            n = buf[pos]
            if n < 0x80:
                pos += 1
            else:
                n, pos = read_varint(buf, pos)
            stop = pos + n
            if stop > end:
                raise ProtobufDecodeError("length-delimited field runs past the end")
            append((num, wt, buf[pos:stop]))
            pos = stop
        elif wt == WT_VARINT:
            if pos >= end:
                raise ProtobufDecodeError("truncated varint")
            v = buf[pos]
            if v < 0x80:
                pos += 1
            else:
                v, pos = read_varint(buf, pos)
                if pos > end:
                    raise ProtobufDecodeError("truncated varint")
            append((num, wt, v))
        elif wt == WT_FIXED64:
            if pos + 8 > end:
                raise ProtobufDecodeError("truncated fixed64")
            append((num, wt, _unpack_u64(buf, pos)[0]))
            pos += 8
        elif wt == WT_FIXED32:
            if pos + 4 > end:
                raise ProtobufDecodeError("truncated fixed32")
            append((num, wt, _unpack_u32(buf, pos)[0]))
            pos += 4
        else:
            raise ProtobufDecodeError(f"unsupported wire type {wt} for field {num}")
    return out


def unpack_varints(data: bytes) -> list[int]:
    """Decode a packed repeated varint field's payload."""
    out: list[int] = []
    pos = 0
    end = len(data)
    while pos < end:
        v, pos = read_varint(data, pos)
        out.append(v)
    return out


def encode_varint(value: int) -> bytes:
    """Encode an integer as a varint; negative values use 64-bit two's complement (as int32/int64 do)."""
    if 0 <= value < 0x80:
        return _SMALL_VARINTS[value]
    if value < 0:
        value &= _MASK64
    elif value > _MASK64:
        raise ProtobufEncodeError(f"integer {value} does not fit in 64 bits")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Writer:
    """Appends protobuf records to a buffer.  ``getvalue()`` returns the message bytes."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self.buf)

    def __len__(self) -> int:
        return len(self.buf)

    def raw(self, data: bytes) -> None:
        self.buf += data

    def tag(self, num: int, wt: int) -> None:
        self.buf += encode_varint((num << 3) | wt)

    def varint_field(self, num: int, value: int) -> None:
        buf = self.buf
        buf += encode_varint(num << 3)
        buf += encode_varint(value)

    def bool_field(self, num: int, value: bool) -> None:
        self.buf += encode_varint(num << 3)
        self.buf.append(1 if value else 0)

    def bytes_field(self, num: int, data: bytes | bytearray) -> None:
        buf = self.buf
        buf += encode_varint((num << 3) | WT_LEN)
        buf += encode_varint(len(data))
        buf += data

    def string_field(self, num: int, value: str) -> None:
        self.bytes_field(num, value.encode("utf-8"))

    def double_field(self, num: int, value: float) -> None:
        self.buf += encode_varint((num << 3) | WT_FIXED64)
        self.buf += _pack_d(value)

    def float_field(self, num: int, value: float) -> None:
        self.buf += encode_varint((num << 3) | WT_FIXED32)
        self.buf += _pack_f(value)

    def fixed64_field(self, num: int, value: int) -> None:
        self.buf += encode_varint((num << 3) | WT_FIXED64)
        self.buf += _pack_u64(value & _MASK64)

    def fixed32_field(self, num: int, value: int) -> None:
        self.buf += encode_varint((num << 3) | WT_FIXED32)
        self.buf += _pack_u32(value & 0xFFFFFFFF)
