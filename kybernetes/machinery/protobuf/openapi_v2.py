"""Swagger 2.0 JSON → serialized gnostic ``openapi.v2.Document`` (``GET /openapi/v2`` as protobuf).

Why: kubectl 1.27 and 1.28 fetch ``/openapi/v2`` with
``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and refuse
to work without it: ``create -f``/``apply`` look for the PATCH operation of the
object's GVK and its ``fieldValidation`` query parameter, ``explain`` walks the
definitions, and strategic merge reads ``x-kubernetes-patch-merge-key``/``-strategy``.
The message layout is google/gnostic ``openapiv2/OpenAPIv2.proto`` (proto3, so
zero values are not written, except inside ``oneof`` where presence counts).

The conversion is generic (CRD definitions and paths added later go through
the same code) and deterministic (JSON object order is kept, as gnostic keeps
document order).  ``Any`` values (vendor extensions, ``default``, ``example``,
``enum``) carry YAML text; JSON is YAML, so the value's compact JSON is used,
which is also what makes the conversion fast: the 3.7 MB upstream document
converts in well under a second.  The server should cache the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from .wire import Writer

__all__ = [
    "OPENAPI_V2_PROTOBUF_CONTENT_TYPE",
    "OPENAPI_V2_PROTOBUF_MEDIA_TYPES",
    "OPENAPI_V2_PROTOBUF_RESPONSE_CONTENT_TYPE",
    "openapi_v2_protobuf",
    "openapi_v2_protobuf_media_type",
]

#: What kubectl 1.27/1.28 put in ``Accept`` (the older spelling, with ``@``).
OPENAPI_V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
#: What to answer with in ``Content-Type``, whichever spelling was asked for: kubectl
#: parses the response type with Go's ``mime.ParseMediaType``, which rejects the ``@``
#: ("mime: unexpected content after media subtype"), as the real kubectl 1.27 shows.
OPENAPI_V2_PROTOBUF_RESPONSE_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
#: Both spellings clients use in ``Accept``.
OPENAPI_V2_PROTOBUF_MEDIA_TYPES = (
    OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
    OPENAPI_V2_PROTOBUF_RESPONSE_CONTENT_TYPE,
)


def openapi_v2_protobuf_media_type(accept: str) -> str | None:
    """The ``Content-Type`` to answer a protobuf ``/openapi/v2`` request with, or None (serve JSON).

    None unless ``Accept`` names one of :data:`OPENAPI_V2_PROTOBUF_MEDIA_TYPES`
    (with a non-zero q); otherwise always :data:`OPENAPI_V2_PROTOBUF_RESPONSE_CONTENT_TYPE`.
    """
    for part in accept.split(","):
        media, *params = part.split(";")
        if media.strip().lower() not in OPENAPI_V2_PROTOBUF_MEDIA_TYPES:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            return OPENAPI_V2_PROTOBUF_RESPONSE_CONTENT_TYPE
    return None


_Obj = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def _str(w: Writer, num: int, v: Any) -> None:
    if isinstance(v, str) and v:
        w.string_field(num, v)


def _strs(w: Writer, num: int, v: Any) -> None:
    if isinstance(v, str):
        v = [v]
    if isinstance(v, list):
        for s in v:
            if isinstance(s, str):
                w.string_field(num, s)


def _bool(w: Writer, num: int, v: Any) -> None:
    if v is True:
        w.bool_field(num, True)


def _int(w: Writer, num: int, v: Any) -> None:
    if isinstance(v, int | float) and not isinstance(v, bool) and v:
        w.varint_field(num, int(v))


def _double(w: Writer, num: int, v: Any) -> None:
    if isinstance(v, int | float) and not isinstance(v, bool) and v:
        w.double_field(num, float(v))


def _yaml(v: Any) -> bytes:
    # JSON is valid YAML (flow style); go-yaml reads it back to the same value.
    return orjson.dumps(v)


def _any_msg(v: Any) -> bytes:
    """``Any{yaml = 2}`` (field 1, a google.protobuf.Any, is never used for JSON input)."""
    y = _yaml(v)
    return b"\x12" + _varint(len(y)) + y


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _any(w: Writer, num: int, obj: _Obj, key: str) -> None:
    if key in obj:
        w.bytes_field(num, _any_msg(obj[key]))


def _enum(w: Writer, num: int, v: Any) -> None:
    if isinstance(v, list):
        for item in v:
            w.bytes_field(num, _any_msg(item))


def _named_any(name: str, value: Any) -> bytes:
    w = Writer()
    w.string_field(1, name)
    w.bytes_field(2, _any_msg(value))
    return bytes(w.buf)


def _vendor(w: Writer, num: int, obj: _Obj) -> None:
    for k, v in obj.items():
        if k.startswith("x-"):
            w.bytes_field(num, _named_any(k, v))


def _msg(w: Writer, num: int, v: Any, fn: Callable[[Any], bytes], always: bool = True) -> None:
    if isinstance(v, dict):
        body = fn(v)
        if always or body:
            w.bytes_field(num, body)


def _named(w: Writer, num: int, name: str, body: bytes) -> None:
    entry = Writer()
    entry.string_field(1, name)
    entry.bytes_field(2, body)
    w.bytes_field(num, entry.buf)


# --------------------------------------------------------------------------- small messages


def _external_docs(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("description"))
    _str(w, 2, o.get("url"))
    _vendor(w, 3, o)
    return bytes(w.buf)


def _xml(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("name"))
    _str(w, 2, o.get("namespace"))
    _str(w, 3, o.get("prefix"))
    _bool(w, 4, o.get("attribute"))
    _bool(w, 5, o.get("wrapped"))
    _vendor(w, 6, o)
    return bytes(w.buf)


def _contact(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("name"))
    _str(w, 2, o.get("url"))
    _str(w, 3, o.get("email"))
    _vendor(w, 4, o)
    return bytes(w.buf)


def _license(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("name"))
    _str(w, 2, o.get("url"))
    _vendor(w, 3, o)
    return bytes(w.buf)


def _info(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("title"))
    _str(w, 2, o.get("version"))
    _str(w, 3, o.get("description"))
    _str(w, 4, o.get("termsOfService"))
    _msg(w, 5, o.get("contact"), _contact)
    _msg(w, 6, o.get("license"), _license)
    _vendor(w, 7, o)
    return bytes(w.buf)


def _tag(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("name"))
    _str(w, 2, o.get("description"))
    _msg(w, 3, o.get("externalDocs"), _external_docs)
    _vendor(w, 4, o)
    return bytes(w.buf)


def _json_reference(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("$ref"))
    _str(w, 2, o.get("description"))
    return bytes(w.buf)


# --------------------------------------------------------------------------- schemas


def _schema(o: _Obj) -> bytes:
    w = Writer()
    get = o.get
    _str(w, 1, get("$ref"))
    _str(w, 2, get("format"))
    _str(w, 3, get("title"))
    _str(w, 4, get("description"))
    _any(w, 5, o, "default")
    _double(w, 6, get("multipleOf"))
    _double(w, 7, get("maximum"))
    _bool(w, 8, get("exclusiveMaximum"))
    _double(w, 9, get("minimum"))
    _bool(w, 10, get("exclusiveMinimum"))
    _int(w, 11, get("maxLength"))
    _int(w, 12, get("minLength"))
    _str(w, 13, get("pattern"))
    _int(w, 14, get("maxItems"))
    _int(w, 15, get("minItems"))
    _bool(w, 16, get("uniqueItems"))
    _int(w, 17, get("maxProperties"))
    _int(w, 18, get("minProperties"))
    _strs(w, 19, get("required"))
    _enum(w, 20, get("enum"))
    ap = get("additionalProperties")
    if isinstance(ap, bool):
        w.bytes_field(21, b"\x10\x01" if ap else b"\x10\x00")  # oneof boolean = 2: presence counts
    elif isinstance(ap, dict):
        sub = Writer()
        sub.bytes_field(1, _schema(ap))
        w.bytes_field(21, sub.buf)
    t = get("type")
    if isinstance(t, str | list):
        sub = Writer()
        _strs(sub, 1, t)
        w.bytes_field(22, sub.buf)
    items = get("items")
    if isinstance(items, dict):
        items = [items]
    if isinstance(items, list):
        sub = Writer()
        for it in items:
            if isinstance(it, dict):
                sub.bytes_field(1, _schema(it))
        w.bytes_field(23, sub.buf)
    all_of = get("allOf")
    if isinstance(all_of, list):
        for it in all_of:
            if isinstance(it, dict):
                w.bytes_field(24, _schema(it))
    props = get("properties")
    if isinstance(props, dict):
        sub = Writer()
        for name, ps in props.items():
            if isinstance(ps, dict):
                _named(sub, 1, name, _schema(ps))
        w.bytes_field(25, sub.buf)
    _str(w, 26, get("discriminator"))
    _bool(w, 27, get("readOnly"))
    _msg(w, 28, get("xml"), _xml)
    _msg(w, 29, get("externalDocs"), _external_docs)
    _any(w, 30, o, "example")
    _vendor(w, 31, o)
    return bytes(w.buf)


def _file_schema(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("format"))
    _str(w, 2, o.get("title"))
    _str(w, 3, o.get("description"))
    _any(w, 4, o, "default")
    _strs(w, 5, o.get("required"))
    _str(w, 6, o.get("type"))
    _bool(w, 7, o.get("readOnly"))
    _msg(w, 8, o.get("externalDocs"), _external_docs)
    _any(w, 9, o, "example")
    _vendor(w, 10, o)
    return bytes(w.buf)


def _primitives_items(o: _Obj) -> bytes:
    """PrimitivesItems, and (with ``description`` at 18, extensions at 19) a response Header."""
    return _primitive_fields(o, 1, header=False)


def _primitive_fields(o: _Obj, first: int, header: bool) -> bytes:
    # Field layout shared by PrimitivesItems (first=1) and Header: type, format, items,
    # collectionFormat, default, maximum, exclusiveMaximum, minimum, exclusiveMinimum,
    # maxLength, minLength, pattern, maxItems, minItems, uniqueItems, enum, multipleOf.
    w = Writer()
    get = o.get
    n = first
    _str(w, n, get("type"))
    _str(w, n + 1, get("format"))
    _msg(w, n + 2, get("items"), _primitives_items)
    _str(w, n + 3, get("collectionFormat"))
    _any(w, n + 4, o, "default")
    _double(w, n + 5, get("maximum"))
    _bool(w, n + 6, get("exclusiveMaximum"))
    _double(w, n + 7, get("minimum"))
    _bool(w, n + 8, get("exclusiveMinimum"))
    _int(w, n + 9, get("maxLength"))
    _int(w, n + 10, get("minLength"))
    _str(w, n + 11, get("pattern"))
    _int(w, n + 12, get("maxItems"))
    _int(w, n + 13, get("minItems"))
    _bool(w, n + 14, get("uniqueItems"))
    _enum(w, n + 15, get("enum"))
    _double(w, n + 16, get("multipleOf"))
    if header:
        _str(w, 18, get("description"))
        _vendor(w, 19, o)
    else:
        _vendor(w, 18, o)
    return bytes(w.buf)


def _header(o: _Obj) -> bytes:
    return _primitive_fields(o, 1, header=True)


# --------------------------------------------------------------------------- parameters


def _non_body_sub_schema(o: _Obj, allow_empty_value: bool) -> bytes:
    """Header/Path (allow_empty_value=False) or Query/FormData parameter sub-schemas."""
    w = Writer()
    get = o.get
    _bool(w, 1, get("required"))
    _str(w, 2, get("in"))
    _str(w, 3, get("description"))
    _str(w, 4, get("name"))
    n = 5
    if allow_empty_value:
        _bool(w, 5, get("allowEmptyValue"))
        n = 6
    _str(w, n, get("type"))
    _str(w, n + 1, get("format"))
    _msg(w, n + 2, get("items"), _primitives_items)
    _str(w, n + 3, get("collectionFormat"))
    _any(w, n + 4, o, "default")
    _double(w, n + 5, get("maximum"))
    _bool(w, n + 6, get("exclusiveMaximum"))
    _double(w, n + 7, get("minimum"))
    _bool(w, n + 8, get("exclusiveMinimum"))
    _int(w, n + 9, get("maxLength"))
    _int(w, n + 10, get("minLength"))
    _str(w, n + 11, get("pattern"))
    _int(w, n + 12, get("maxItems"))
    _int(w, n + 13, get("minItems"))
    _bool(w, n + 14, get("uniqueItems"))
    _enum(w, n + 15, get("enum"))
    _double(w, n + 16, get("multipleOf"))
    _vendor(w, n + 17, o)
    return bytes(w.buf)


# ``in`` -> (NonBodyParameter oneof field, has allowEmptyValue)
_NON_BODY = {"header": (1, False), "formData": (2, True), "query": (3, True), "path": (4, False)}


def _parameter(o: _Obj) -> bytes:
    """``Parameter`` oneof: body_parameter = 1 or non_body_parameter = 2."""
    w = Writer()
    where = o.get("in")
    if where == "body":
        b = Writer()
        _str(b, 1, o.get("description"))
        _str(b, 2, o.get("name"))
        _str(b, 3, where)
        _bool(b, 4, o.get("required"))
        _msg(b, 5, o.get("schema"), _schema)
        _vendor(b, 6, o)
        w.bytes_field(1, b.buf)
    else:
        num, allow_empty = _NON_BODY.get(where if isinstance(where, str) else "", (3, True))
        nb = Writer()
        nb.bytes_field(num, _non_body_sub_schema(o, allow_empty))
        w.bytes_field(2, nb.buf)
    return bytes(w.buf)


def _parameters_item(o: _Obj) -> bytes:
    """``ParametersItem`` oneof: parameter = 1 or json_reference = 2."""
    w = Writer()
    if "$ref" in o:
        w.bytes_field(2, _json_reference(o))
    else:
        w.bytes_field(1, _parameter(o))
    return bytes(w.buf)


def _parameters_list(w: Writer, num: int, v: Any) -> None:
    if isinstance(v, list):
        for p in v:
            if isinstance(p, dict):
                w.bytes_field(num, _parameters_item(p))


# --------------------------------------------------------------------------- responses


def _response(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("description"))
    schema = o.get("schema")
    if isinstance(schema, dict):
        si = Writer()
        if schema.get("type") == "file":
            si.bytes_field(2, _file_schema(schema))
        else:
            si.bytes_field(1, _schema(schema))
        w.bytes_field(2, si.buf)
    headers = o.get("headers")
    if isinstance(headers, dict):
        hw = Writer()
        for name, h in headers.items():
            if isinstance(h, dict):
                _named(hw, 1, name, _header(h))
        w.bytes_field(3, hw.buf)
    examples = o.get("examples")
    if isinstance(examples, dict):
        ew = Writer()
        for name, ex in examples.items():
            ew.bytes_field(1, _named_any(name, ex))
        w.bytes_field(4, ew.buf)
    _vendor(w, 5, o)
    return bytes(w.buf)


def _responses(o: _Obj) -> bytes:
    w = Writer()
    for code, r in o.items():
        if code.startswith("x-") or not isinstance(r, dict):
            continue
        rv = Writer()
        if "$ref" in r:
            rv.bytes_field(2, _json_reference(r))
        else:
            rv.bytes_field(1, _response(r))
        _named(w, 1, code, bytes(rv.buf))
    _vendor(w, 2, o)
    return bytes(w.buf)


def _security_requirements(w: Writer, num: int, v: Any) -> None:
    if not isinstance(v, list):
        return
    for req in v:
        if not isinstance(req, dict):
            continue
        rw = Writer()
        for name, scopes in req.items():
            sa = Writer()
            _strs(sa, 1, scopes)
            _named(rw, 1, name, bytes(sa.buf))
        w.bytes_field(num, rw.buf)


# --------------------------------------------------------------------------- paths


def _operation(o: _Obj) -> bytes:
    w = Writer()
    get = o.get
    _strs(w, 1, get("tags"))
    _str(w, 2, get("summary"))
    _str(w, 3, get("description"))
    _msg(w, 4, get("externalDocs"), _external_docs)
    _str(w, 5, get("operationId"))
    _strs(w, 6, get("produces"))
    _strs(w, 7, get("consumes"))
    _parameters_list(w, 8, get("parameters"))
    _msg(w, 9, get("responses"), _responses)
    _strs(w, 10, get("schemes"))
    _bool(w, 11, get("deprecated"))
    _security_requirements(w, 12, get("security"))
    _vendor(w, 13, o)
    return bytes(w.buf)


_OPERATIONS = (("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("options", 6), ("head", 7), ("patch", 8))


def _path_item(o: _Obj) -> bytes:
    w = Writer()
    _str(w, 1, o.get("$ref"))
    for method, num in _OPERATIONS:
        _msg(w, num, o.get(method), _operation)
    _parameters_list(w, 9, o.get("parameters"))
    _vendor(w, 10, o)
    return bytes(w.buf)


def _paths(o: _Obj) -> bytes:
    w = Writer()
    _vendor(w, 1, o)
    for path, item in o.items():
        if not path.startswith("x-") and isinstance(item, dict):
            _named(w, 2, path, _path_item(item))
    return bytes(w.buf)


# --------------------------------------------------------------------------- security definitions


def _security_definition(o: _Obj) -> bytes:
    """``SecurityDefinitionsItem`` oneof by ``type`` (and ``flow`` for oauth2)."""
    w = Writer()
    t = o.get("type")
    s = Writer()
    if t == "basic":
        _str(s, 1, t)
        _str(s, 2, o.get("description"))
        _vendor(s, 3, o)
        w.bytes_field(1, s.buf)
    elif t == "apiKey":
        _str(s, 1, t)
        _str(s, 2, o.get("name"))
        _str(s, 3, o.get("in"))
        _str(s, 4, o.get("description"))
        _vendor(s, 5, o)
        w.bytes_field(2, s.buf)
    elif t == "oauth2":
        flow = o.get("flow")
        _str(s, 1, t)
        _str(s, 2, flow)
        scopes = o.get("scopes")
        if isinstance(scopes, dict):
            sw = Writer()
            for name, desc in scopes.items():
                ns = Writer()
                ns.string_field(1, name)
                _str(ns, 2, desc)
                sw.bytes_field(1, ns.buf)
            s.bytes_field(3, sw.buf)
        if flow == "implicit":
            _str(s, 4, o.get("authorizationUrl"))
            _str(s, 5, o.get("description"))
            _vendor(s, 6, o)
            w.bytes_field(3, s.buf)
        elif flow == "accessCode":
            _str(s, 4, o.get("authorizationUrl"))
            _str(s, 5, o.get("tokenUrl"))
            _str(s, 6, o.get("description"))
            _vendor(s, 7, o)
            w.bytes_field(6, s.buf)
        else:  # password = 4, application = 5: same layout
            _str(s, 4, o.get("tokenUrl"))
            _str(s, 5, o.get("description"))
            _vendor(s, 6, o)
            w.bytes_field(5 if flow == "application" else 4, s.buf)
    return bytes(w.buf)


# --------------------------------------------------------------------------- document


def openapi_v2_protobuf(swagger: dict[str, Any]) -> bytes:
    """Serialize a swagger 2.0 document (as parsed from JSON) as a gnostic ``openapi.v2.Document``."""
    w = Writer()
    get = swagger.get
    _str(w, 1, get("swagger"))
    _msg(w, 2, get("info"), _info)
    _str(w, 3, get("host"))
    _str(w, 4, get("basePath"))
    _strs(w, 5, get("schemes"))
    _strs(w, 6, get("consumes"))
    _strs(w, 7, get("produces"))
    _msg(w, 8, get("paths"), _paths)
    defs = get("definitions")
    if isinstance(defs, dict):
        dw = Writer()
        for name, schema in defs.items():
            if isinstance(schema, dict):
                _named(dw, 1, name, _schema(schema))
        w.bytes_field(9, dw.buf)
    params = get("parameters")
    if isinstance(params, dict):
        pw = Writer()
        for name, p in params.items():
            if isinstance(p, dict):
                _named(pw, 1, name, _parameter(p))
        w.bytes_field(10, pw.buf)
    responses = get("responses")
    if isinstance(responses, dict):
        rw = Writer()
        for name, r in responses.items():
            if isinstance(r, dict):
                _named(rw, 1, name, _response(r))
        w.bytes_field(11, rw.buf)
    _security_requirements(w, 12, get("security"))
    sdefs = get("securityDefinitions")
    if isinstance(sdefs, dict):
        sw = Writer()
        for name, sd in sdefs.items():
            if isinstance(sd, dict):
                _named(sw, 1, name, _security_definition(sd))
        w.bytes_field(13, sw.buf)
    tags = get("tags")
    if isinstance(tags, list):
        for t in tags:
            if isinstance(t, dict):
                w.bytes_field(14, _tag(t))
    _msg(w, 15, get("externalDocs"), _external_docs)
    _vendor(w, 16, swagger)
    return bytes(w.buf)
