"""Kubernetes protobuf bodies <-> the JSON dicts the API server works with.

Why: kubectl ≥ 1.32 sends ``application/vnd.kubernetes.protobuf`` request bodies
for the objects its ``create``/``auth``/``autoscale`` commands build (Namespace,
Secret, ConfigMap, Deployment, Service, Job, CronJob, RBAC, TokenRequest,
SelfSubjectAccessReview…).  The server stores and validates JSON-shaped dicts,
so a body is decoded to exactly the dict that kubectl would have sent as JSON
(what Go's ``encoding/json`` makes of the same Go struct).

The envelope is ``k8s\\x00`` followed by a ``runtime.Unknown`` message:
``typeMeta`` (1: apiVersion, 2: kind), ``raw`` (the object's own message),
``contentEncoding``, ``contentType``.  Decoding is generic, driven by the field
tables of :mod:`.schema`; the few types with their own JSON form are handled
here: Quantity (string), IntOrString (int or string), Time (RFC 3339 seconds,
``null`` when zero), MicroTime (6 fractional digits), Duration (Go duration
string), RawExtension and FieldsV1 (embedded JSON), ``bytes`` (base64), maps
(objects with sorted keys), Go named slices (``ExtraValue``: plain lists).

Anything malformed raises :class:`ProtobufDecodeError` (a ``ValueError``), which
the caller turns into 400 Bad Request; unknown kinds raise it too.

:func:`encode_k8s_envelope` is the reverse (used by tests, and for protobuf
responses): it writes what is in the dict, in declaration (Go struct) order, with
map keys sorted as Go does.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from .schema import (
    DURATION,
    FIELDS_V1,
    INT_OR_STRING,
    MICRO_TIME,
    QUANTITY,
    QUANTITY_VALUE,
    RAW_EXTENSION,
    SPECIAL_MESSAGES,
    TIME,
    Message,
    tables,
)
from .wire import (
    WT_FIXED32,
    WT_FIXED64,
    WT_LEN,
    WT_VARINT,
    ProtobufDecodeError,
    ProtobufEncodeError,
    Writer,
    parse_message,
    read_varint,
    to_signed32,
    to_signed64,
)

__all__ = [
    "ENVELOPE_MAGIC",
    "ProtobufDecodeError",
    "ProtobufEncodeError",
    "decode_k8s_envelope",
    "decode_message",
    "encode_k8s_envelope",
    "encode_message",
    "format_go_duration",
    "parse_go_duration",
]

ENVELOPE_MAGIC = b"k8s\x00"
MAX_DEPTH = 100

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Go's zero time.Time (0001-01-01T00:00:00Z) as Unix seconds: marshals to JSON null.
_GO_ZERO_TIME_UNIX = -62135596800

_unpack_d = struct.Struct("<d").unpack
_unpack_f = struct.Struct("<f").unpack

_WIRE_TYPE = {
    "string": WT_LEN,
    "bytes": WT_LEN,
    "bool": WT_VARINT,
    "int32": WT_VARINT,
    "int64": WT_VARINT,
    "uint32": WT_VARINT,
    "uint64": WT_VARINT,
    "sint32": WT_VARINT,
    "sint64": WT_VARINT,
    "enum": WT_VARINT,
    "double": WT_FIXED64,
    "fixed64": WT_FIXED64,
    "sfixed64": WT_FIXED64,
    "float": WT_FIXED32,
    "fixed32": WT_FIXED32,
    "sfixed32": WT_FIXED32,
}


# --------------------------------------------------------------------------- scalars


def _zigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def _scalar(t: str, wt: int, v: int | bytes) -> Any:
    expected = _WIRE_TYPE.get(t)
    if expected is None:
        raise ProtobufDecodeError(f"unsupported scalar type {t}")
    if wt != expected:
        raise ProtobufDecodeError(f"wrong wire type {wt} for a {t} field")
    if t == "string":
        assert isinstance(v, bytes)
        return v.decode("utf-8")
    if t == "bytes":
        assert isinstance(v, bytes)
        return base64.b64encode(v).decode("ascii")
    assert isinstance(v, int)
    if t == "int32":
        return to_signed32(v)
    if t == "int64":
        return to_signed64(v)
    if t == "bool":
        return v != 0
    if t == "uint32":
        return v & 0xFFFFFFFF
    if t == "sint32":
        return _zigzag(v & 0xFFFFFFFF)
    if t == "sint64":
        return _zigzag(v)
    if t == "double":
        return _unpack_d(v.to_bytes(8, "little"))[0]
    if t == "float":
        return _unpack_f(v.to_bytes(4, "little"))[0]
    if t == "sfixed64":
        return to_signed64(v)
    if t == "sfixed32":
        return v - (1 << 32) if v >= 1 << 31 else v
    return v  # uint64, fixed32, fixed64, enum


def _packed(t: str, data: bytes) -> list[Any]:
    """A packed repeated scalar (proto2 writers may pack; Go's accept both)."""
    wt = _WIRE_TYPE.get(t)
    out: list[Any] = []
    if wt == WT_VARINT:
        pos = 0
        while pos < len(data):
            v, pos = read_varint(data, pos)
            out.append(_scalar(t, WT_VARINT, v))
    elif wt in (WT_FIXED64, WT_FIXED32):
        size = 8 if wt == WT_FIXED64 else 4
        if len(data) % size:
            raise ProtobufDecodeError("packed field length is not a multiple of the element size")
        for i in range(0, len(data), size):
            out.append(_scalar(t, wt, int.from_bytes(data[i : i + size], "little")))
    else:
        raise ProtobufDecodeError(f"a {t} field cannot be packed")
    return out


def _zero_scalar(t: str) -> Any:
    if t == "string" or t == "bytes":
        return ""
    if t == "bool":
        return False
    if t in ("double", "float"):
        return 0.0
    return 0


# --------------------------------------------------------------------------- special types


def format_go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``1h2m3s``, ``1.5s``, ``300ms``, ``0s``."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns

    def frac(v: int, prec: int) -> tuple[str, int]:
        whole, f = divmod(v, 10**prec)
        if f == 0:
            return "", whole
        return "." + f"{f:0{prec}d}".rstrip("0"), whole

    if u < 1_000_000_000:
        if u < 1_000:
            unit, prec = "ns", 0
        elif u < 1_000_000:
            unit, prec = "µs", 3
        else:
            unit, prec = "ms", 6
        fs, whole = frac(u, prec) if prec else ("", u)
        out = f"{whole}{fs}{unit}"
    else:
        fs, secs = frac(u, 9)
        out = f"{secs % 60}{fs}s"
        mins = secs // 60
        if mins:
            out = f"{mins % 60}m{out}"
            hours = mins // 60
            if hours:
                out = f"{hours}h{out}"
    return "-" + out if neg else out


_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_go_duration(s: str) -> int:
    """Go's ``time.ParseDuration`` (to nanoseconds)."""
    orig = s
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"invalid duration {orig!r}")
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or m.group(1) in ("", "."):
            raise ValueError(f"invalid duration {orig!r}")
        num, unit = m.group(1), m.group(2)
        whole, _, fraction = num.partition(".")
        scale = _UNIT_NS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        pos = m.end()
    return -total if neg else total


def _format_time(seconds: int, nanos: int | None) -> str:
    dt = _EPOCH + timedelta(seconds=seconds)
    if not 0 <= dt.year <= 9999:  # pragma: no cover - datetime cannot leave 1..9999 anyway
        raise ProtobufDecodeError("time outside of year range 0..9999")
    base = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    if nanos is None:
        return base + "Z"
    return f"{base}.{nanos // 1000:06d}Z"


def _parse_time(value: str) -> tuple[int, int]:
    """RFC 3339 → (unix seconds, nanoseconds)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", value.strip())
    if m is None:
        raise ProtobufEncodeError(f"not an RFC 3339 time: {value!r}")
    tz = m.group(3)
    dt = datetime.fromisoformat(m.group(1) + ("+00:00" if tz == "Z" else tz))
    seconds = (dt - _EPOCH) // timedelta(seconds=1)
    frac = m.group(2)
    nanos = int((frac[1:] + "000000000")[:9]) if frac else 0
    return seconds, nanos


def _parse_embedded_json(raw: bytes, depth: int) -> Any:
    if raw.startswith(ENVELOPE_MAGIC):
        return _decode_envelope(raw, depth + 1)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProtobufDecodeError(f"embedded object is not JSON: {e}") from None


def _fields_of(data: bytes) -> dict[int, tuple[int, int | bytes]]:
    """Last occurrence of each field (for the small special messages)."""
    return {num: (wt, v) for num, wt, v in parse_message(data)}


def _special_int(fields: dict[int, tuple[int, int | bytes]], num: int, t: str) -> int:
    if num not in fields:
        return 0
    wt, v = fields[num]
    r = _scalar(t, wt, v)
    assert isinstance(r, int)
    return r


def _decode_special(t: str, data: bytes, depth: int) -> Any:
    fields = _fields_of(data)
    if t == QUANTITY or t == QUANTITY_VALUE:
        if 1 not in fields:
            return "0"
        s = _scalar("string", *fields[1])
        return s or "0"
    if t == INT_OR_STRING:
        kind = _special_int(fields, 1, "int64")
        if kind == 0:
            return _special_int(fields, 2, "int32")
        if kind == 1:
            return _scalar("string", *fields[3]) if 3 in fields else ""
        raise ProtobufDecodeError(f"IntOrString type {kind} is neither 0 (int) nor 1 (string)")
    if t == TIME or t == MICRO_TIME:
        if not data:
            return None
        seconds = _special_int(fields, 1, "int64")
        nanos = _special_int(fields, 2, "int32")
        if seconds == _GO_ZERO_TIME_UNIX and (t == TIME or nanos == 0):
            return None
        if t == TIME:
            return _format_time(seconds, None)  # Go's Time.Unmarshal drops nanos
        if not 0 <= nanos < 1_000_000_000:
            raise ProtobufDecodeError("MicroTime nanos out of range")
        return _format_time(seconds, nanos)
    if t == DURATION:
        return format_go_duration(_special_int(fields, 1, "int64"))
    if t == FIELDS_V1 or t == RAW_EXTENSION:
        if 1 not in fields:
            return None
        wt, raw = fields[1]
        if wt != WT_LEN:
            raise ProtobufDecodeError("raw bytes field has the wrong wire type")
        assert isinstance(raw, bytes)
        if not raw:
            return None
        return _parse_embedded_json(raw, depth)
    raise AssertionError(t)  # pragma: no cover


_SPECIAL = SPECIAL_MESSAGES


# --------------------------------------------------------------------------- decoding


def _message(name: str) -> Message:
    m = tables().messages.get(name)
    if m is None:
        raise ProtobufDecodeError(f"unknown protobuf message {name}")
    return m


def _decode_value(type_name: str, data: bytes, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtobufDecodeError("messages nested too deeply")
    if type_name in _SPECIAL:
        return _decode_special(type_name, data, depth)
    msg = _message(type_name)
    if msg.array_wrapper:
        f = msg.fields[0]
        items: list[Any] = []
        for num, wt, v in parse_message(data):
            if num == f.number:
                if f.is_message:
                    if wt != WT_LEN:
                        raise ProtobufDecodeError("wrong wire type for a message field")
                    assert isinstance(v, bytes)
                    items.append(_decode_value(f.type, v, depth + 1))
                elif wt == WT_LEN and _WIRE_TYPE.get(f.type) != WT_LEN:
                    assert isinstance(v, bytes)
                    items.extend(_packed(f.type, v))
                else:
                    items.append(_scalar(f.type, wt, v))
        return items
    return _decode_fields(msg, data, depth)


def _decode_map_entry(
    key_type: str, value_type: str, value_is_message: bool, data: bytes, depth: int
) -> tuple[str, Any]:
    key: Any = None
    value: Any = None
    for num, wt, v in parse_message(data):
        if num == 1:
            key = _scalar(key_type, wt, v)
        elif num == 2:
            if value_is_message:
                if wt != WT_LEN:
                    raise ProtobufDecodeError("wrong wire type for a map value")
                assert isinstance(v, bytes)
                value = v if value is None else value + v
            else:
                value = _scalar(value_type, wt, v)
    if key is None:
        key = _zero_scalar(key_type)
    if value_is_message:
        value = _decode_value(value_type, value or b"", depth + 1)
    elif value is None:
        value = _zero_scalar(value_type)
    if isinstance(key, bool):
        key = "true" if key else "false"
    return str(key), value


def _decode_fields(msg: Message, data: bytes, depth: int) -> dict[str, Any]:
    by_number = msg.by_number
    vals: dict[int, Any] = {}
    for num, wt, v in parse_message(data):
        f = by_number.get(num)
        if f is None:
            continue  # unknown field: protobuf readers skip them
        if f.is_map:
            if wt != WT_LEN:
                raise ProtobufDecodeError(f"wrong wire type for map field {f.name}")
            assert isinstance(v, bytes)
            k, val = _decode_map_entry(f.map_key, f.type, f.is_message, v, depth)
            m = vals.get(num)
            if m is None:
                vals[num] = m = {}
            m[k] = val
        elif f.repeated:
            lst = vals.get(num)
            if lst is None:
                vals[num] = lst = []
            if f.is_message:
                if wt != WT_LEN:
                    raise ProtobufDecodeError(f"wrong wire type for message field {f.name}")
                assert isinstance(v, bytes)
                lst.append(_decode_value(f.type, v, depth + 1))
            elif wt == WT_LEN and _WIRE_TYPE.get(f.type) != WT_LEN:
                assert isinstance(v, bytes)
                lst.extend(_packed(f.type, v))
            else:
                lst.append(_scalar(f.type, wt, v))
        elif f.is_message:
            if wt != WT_LEN:
                raise ProtobufDecodeError(f"wrong wire type for message field {f.name}")
            # A message seen twice is merged, which for protobuf is decoding the concatenation.
            prev = vals.get(num)
            vals[num] = v if prev is None else prev + v
        else:
            vals[num] = _scalar(f.type, wt, v)
    out: dict[str, Any] = {}
    if not vals:
        return out
    for f in msg.fields:
        if f.number not in vals:
            continue
        val = vals[f.number]
        if f.is_map:
            if val:
                out[f.json] = dict(sorted(val.items()))
        elif f.repeated:
            if val:
                out[f.json] = val
        elif f.is_message:
            dv = _decode_value(f.type, val, depth + 1)
            if f.inline:
                if isinstance(dv, dict):
                    out.update(dv)
            else:
                out[f.json] = dv
        elif val or f.keep_zero:
            out[f.json] = val
    return out


def _guard(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ProtobufDecodeError:
        raise
    except (
        ValueError,
        OverflowError,
        IndexError,
        KeyError,
        TypeError,
        AssertionError,
        struct.error,
        binascii.Error,
        RecursionError,
        MemoryError,
    ) as e:
        raise ProtobufDecodeError(f"malformed protobuf: {e}") from None


def _decode_envelope(body: bytes, depth: int) -> dict[str, Any]:
    if not body.startswith(ENVELOPE_MAGIC):
        raise ProtobufDecodeError("protobuf body does not start with the k8s\\0 envelope prefix")
    type_meta = b""
    raw = b""
    content_encoding = ""
    content_type = ""
    for num, wt, v in parse_message(body, len(ENVELOPE_MAGIC)):
        if num in (1, 2, 3, 4) and wt != WT_LEN:
            raise ProtobufDecodeError("wrong wire type in runtime.Unknown")
        if num == 1:
            assert isinstance(v, bytes)
            type_meta += v
        elif num == 2:
            assert isinstance(v, bytes)
            raw = v
        elif num == 3:
            content_encoding = _scalar("string", wt, v)
        elif num == 4:
            content_type = _scalar("string", wt, v)
    api_version = ""
    kind = ""
    for num, wt, v in parse_message(type_meta):
        if num == 1:
            api_version = _scalar("string", wt, v)
        elif num == 2:
            kind = _scalar("string", wt, v)
    if content_encoding:
        raise ProtobufDecodeError(f"unsupported protobuf content encoding {content_encoding!r}")
    if content_type and content_type != "application/vnd.kubernetes.protobuf":
        raise ProtobufDecodeError(f"unsupported embedded content type {content_type!r}")
    if not kind or not api_version:
        raise ProtobufDecodeError("protobuf envelope has no apiVersion/kind")
    msg = tables().message_for_kind(api_version, kind)
    if msg is None:
        raise ProtobufDecodeError(f"no protobuf message for {api_version}, Kind={kind}")
    obj = _decode_fields(msg, raw, depth)
    return {"apiVersion": api_version, "kind": kind, **obj}


def decode_k8s_envelope(body: bytes) -> dict[str, Any]:
    """Decode an ``application/vnd.kubernetes.protobuf`` body to its JSON dict.

    ``apiVersion`` and ``kind`` come first (from the envelope's typeMeta), then the
    fields in Go struct order.  Raises :class:`ProtobufDecodeError` on anything
    malformed, on unknown kinds and on non-empty content encodings.
    """
    result: dict[str, Any] = _guard(_decode_envelope, bytes(body), 0)
    return result


def decode_message(name: str, raw: bytes) -> dict[str, Any]:
    """Decode one message (fully qualified proto name, e.g. ``k8s.io.api.core.v1.Pod``) to JSON."""
    msg = tables().messages.get(name)
    if msg is None:
        raise ProtobufDecodeError(f"unknown protobuf message {name}")
    result: dict[str, Any] = _guard(_decode_fields, msg, bytes(raw), 0)
    return result


# --------------------------------------------------------------------------- encoding


def _write_scalar(w: Writer, num: int, t: str, value: Any) -> None:
    if t == "string":
        if not isinstance(value, str):
            raise ProtobufEncodeError(f"expected a string, got {type(value).__name__}")
        w.string_field(num, value)
    elif t == "bytes":
        if isinstance(value, str):
            try:
                data = base64.b64decode(value, validate=True)
            except binascii.Error as e:
                raise ProtobufEncodeError(f"bytes field is not base64: {e}") from None
        elif isinstance(value, bytes | bytearray):
            data = bytes(value)
        else:
            raise ProtobufEncodeError(f"expected base64 bytes, got {type(value).__name__}")
        w.bytes_field(num, data)
    elif t == "bool":
        if not isinstance(value, bool):
            raise ProtobufEncodeError(f"expected a boolean, got {type(value).__name__}")
        w.bool_field(num, value)
    elif t in ("double", "float"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ProtobufEncodeError(f"expected a number, got {type(value).__name__}")
        (w.double_field if t == "double" else w.float_field)(num, float(value))
    else:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtobufEncodeError(f"expected an integer, got {type(value).__name__}")
        if t in ("sint32", "sint64"):
            w.varint_field(num, (value << 1) ^ (value >> 63))
        elif t in ("fixed64", "sfixed64"):
            w.fixed64_field(num, value)
        elif t in ("fixed32", "sfixed32"):
            w.fixed32_field(num, value)
        elif t in ("int32", "uint32") and not -(1 << 31) <= value < (1 << 32):
            raise ProtobufEncodeError(f"integer {value} does not fit in 32 bits")
        else:
            w.varint_field(num, value)


def _encode_special(t: str, value: Any) -> bytes:
    w = Writer()
    if t == QUANTITY or t == QUANTITY_VALUE:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ProtobufEncodeError("a quantity must be a string or a number")
        w.string_field(1, str(value))
    elif t == INT_OR_STRING:
        if isinstance(value, bool):
            raise ProtobufEncodeError("an int-or-string cannot be a boolean")
        if isinstance(value, int):
            w.varint_field(1, 0)
            _write_scalar(w, 2, "int32", value)
            w.string_field(3, "")
        elif isinstance(value, str):
            w.varint_field(1, 1)
            w.varint_field(2, 0)
            w.string_field(3, value)
        else:
            raise ProtobufEncodeError("an int-or-string must be an int or a string")
    elif t == TIME or t == MICRO_TIME:
        if value is None:
            return b""
        if not isinstance(value, str):
            raise ProtobufEncodeError("a time must be an RFC 3339 string")
        seconds, nanos = _parse_time(value)
        w.varint_field(1, seconds)
        w.varint_field(2, nanos if t == MICRO_TIME else 0)
    elif t == DURATION:
        if not isinstance(value, str):
            raise ProtobufEncodeError("a duration must be a string")
        try:
            w.varint_field(1, parse_go_duration(value))
        except ValueError as e:
            raise ProtobufEncodeError(str(e)) from None
    elif t == FIELDS_V1 or t == RAW_EXTENSION:
        if value is None:
            return b""
        w.bytes_field(1, orjson.dumps(value))
    return w.getvalue()


def _encode_value(type_name: str, value: Any) -> bytes:
    if type_name in _SPECIAL:
        return _encode_special(type_name, value)
    msg = tables().messages.get(type_name)
    if msg is None:
        raise ProtobufEncodeError(f"unknown protobuf message {type_name}")
    if msg.array_wrapper:
        if not isinstance(value, list):
            raise ProtobufEncodeError(f"{type_name} must be a list")
        w = Writer()
        f = msg.fields[0]
        for item in value:
            if f.is_message:
                w.bytes_field(f.number, _encode_value(f.type, item))
            else:
                _write_scalar(w, f.number, f.type, item)
        return w.getvalue()
    if not isinstance(value, dict):
        raise ProtobufEncodeError(f"{type_name} must be an object, got {type(value).__name__}")
    return _encode_fields(msg, value)


_NULLABLE = frozenset({TIME, MICRO_TIME, FIELDS_V1, RAW_EXTENSION})


def _encode_fields(msg: Message, obj: dict[str, Any]) -> bytes:
    w = Writer()
    for f in msg.fields:
        if f.inline:
            w.bytes_field(f.number, _encode_value(f.type, obj))
            continue
        if f.json not in obj:
            continue
        value = obj[f.json]
        if value is None and not (f.is_message and not f.repeated and f.type in _NULLABLE):
            continue
        if f.is_map:
            if not isinstance(value, dict):
                raise ProtobufEncodeError(f"{f.json} must be an object")
            for k in sorted(value):
                entry = Writer()
                _write_scalar(entry, 1, f.map_key, k)
                if f.is_message:
                    entry.bytes_field(2, _encode_value(f.type, value[k]))
                else:
                    _write_scalar(entry, 2, f.type, value[k])
                w.bytes_field(f.number, entry.buf)
        elif f.repeated:
            if not isinstance(value, list):
                raise ProtobufEncodeError(f"{f.json} must be a list")
            for item in value:
                if f.is_message:
                    w.bytes_field(f.number, _encode_value(f.type, item))
                else:
                    _write_scalar(w, f.number, f.type, item)
        elif f.is_message:
            w.bytes_field(f.number, _encode_value(f.type, value))
        else:
            _write_scalar(w, f.number, f.type, value)
    return w.getvalue()


def encode_message(name: str, obj: Any) -> bytes:
    """Encode a JSON value as the message ``name`` (keys without a field are ignored)."""
    try:
        return _encode_value(name, obj)
    except RecursionError:
        raise ProtobufEncodeError("object nested too deeply") from None


def encode_k8s_envelope(obj: dict[str, Any]) -> bytes:
    """Encode a JSON object with ``apiVersion``/``kind`` as a ``k8s\\0`` + runtime.Unknown body."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise ProtobufEncodeError("the object needs string apiVersion and kind")
    msg = tables().message_for_kind(api_version, kind)
    if msg is None:
        raise ProtobufEncodeError(f"no protobuf message for {api_version}, Kind={kind}")
    try:
        raw = _encode_fields(msg, obj)
    except RecursionError:
        raise ProtobufEncodeError("object nested too deeply") from None
    tm = Writer()
    tm.string_field(1, api_version)
    tm.string_field(2, kind)
    w = Writer()
    w.raw(ENVELOPE_MAGIC)
    w.bytes_field(1, tm.buf)
    w.bytes_field(2, raw)
    w.string_field(3, "")
    w.string_field(4, "")
    return w.getvalue()
