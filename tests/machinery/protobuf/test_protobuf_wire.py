"""The hand-written wire codec against the reference ``protobuf`` runtime's wire format."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kybernetes.machinery.protobuf.wire import (
    WT_FIXED32,
    WT_FIXED64,
    WT_LEN,
    WT_VARINT,
    ProtobufDecodeError,
    Writer,
    encode_varint,
    parse_message,
    read_varint,
    to_signed32,
    to_signed64,
    unpack_varints,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (-(2**63), b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"),
        (-1, b"\xff" * 9 + b"\x01"),  # int32/int64 -1: ten bytes, two's complement
    ],
)
def test_varint_known_encodings(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    v, pos = read_varint(encoded, 0)
    assert pos == len(encoded)
    assert to_signed64(v) == value


@given(st.integers(min_value=-(2**63), max_value=2**64 - 1))
def test_varint_roundtrip(value: int) -> None:
    v, _ = read_varint(encode_varint(value), 0)
    assert v == value & (2**64 - 1)


def test_signed_conversions() -> None:
    assert to_signed32(2**64 - 5) == -5
    assert to_signed32(2**31) == -(2**31)
    assert to_signed64(2**64 - 1) == -1


@pytest.mark.parametrize(
    "bad",
    [
        b"\x80",  # truncated varint tag
        b"\x08",  # varint field without value
        b"\x08\x80",  # truncated varint value
        b"\x0a\x05abc",  # length past the end
        b"\x09\x00\x00",  # truncated fixed64
        b"\x0d\x00",  # truncated fixed32
        b"\x0b",  # start group
        b"\x0c",  # end group
        b"\x0e",  # wire type 6
        b"\x00\x00",  # field number 0
        b"\x08" + b"\xff" * 11,  # varint longer than 10 bytes
        b"\x08" + b"\xff" * 9 + b"\x7f",  # varint above 2**64
    ],
)
def test_malformed(bad: bytes) -> None:
    with pytest.raises(ProtobufDecodeError):
        parse_message(bad)


def test_writer_and_parser_agree() -> None:
    w = Writer()
    w.varint_field(1, 150)
    w.string_field(2, "héllo")
    w.bytes_field(3, b"\x00\x01")
    w.double_field(4, 1.5)
    w.fixed32_field(5, 7)
    w.bool_field(6, True)
    w.varint_field(1000, -2)
    w.fixed64_field(7, -1)
    w.float_field(8, 0.25)
    recs = parse_message(w.getvalue())
    assert recs == [
        (1, WT_VARINT, 150),
        (2, WT_LEN, "héllo".encode()),
        (3, WT_LEN, b"\x00\x01"),
        (4, WT_FIXED64, struct.unpack("<Q", struct.pack("<d", 1.5))[0]),
        (5, WT_FIXED32, 7),
        (6, WT_VARINT, 1),
        (1000, WT_VARINT, 2**64 - 2),
        (7, WT_FIXED64, 2**64 - 1),
        (8, WT_FIXED32, struct.unpack("<I", struct.pack("<f", 0.25))[0]),
    ]
    # The known encoding of field 1 = 150 from the protobuf documentation.
    assert w.getvalue().startswith(b"\x08\x96\x01")


def test_unpack_varints() -> None:
    assert unpack_varints(b"\x03\x8e\x02\x9e\xa7\x05") == [3, 270, 86942]


def test_parse_window() -> None:
    data = b"junk\x08\x01\x10\x02"
    assert parse_message(data, 4) == [(1, 0, 1), (2, 0, 2)]
    assert parse_message(data, 4, 6) == [(1, 0, 1)]
    with pytest.raises(ProtobufDecodeError):
        parse_message(b"\x0a\x03abc", 0, 4)  # the record runs past the window


@given(st.binary(max_size=200))
def test_parse_random_bytes_only_raises_decode_error(data: bytes) -> None:
    try:
        parse_message(data)
    except ProtobufDecodeError:
        pass


def test_matches_reference_runtime() -> None:
    """Bytes written here parse with google.protobuf's own wire decoder (if installed)."""
    pytest.importorskip("google.protobuf")
    from google.protobuf import struct_pb2

    # Struct{fields: {"a": Value{string_value: "b"}}}: map entry key=1, value=2; Value.string_value = 3.
    value = Writer()
    value.string_field(3, "b")
    entry = Writer()
    entry.string_field(1, "a")
    entry.bytes_field(2, value.buf)
    msg = Writer()
    msg.bytes_field(1, entry.buf)
    s = struct_pb2.Struct()
    s.ParseFromString(msg.getvalue())
    assert dict(s) == {"a": "b"}
    assert s.SerializeToString() == msg.getvalue()
