"""Validating a custom resource against its structural schema, with upstream's error messages.

Upstream runs kube-openapi's schema validator (a go-openapi fork) and turns each failure into a field error, so
kubectl users see e.g. `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer:
"string"` (the value printed for a type error is the *type name* of what was sent, as upstream does). This module
walks the schema the same way (type, allOf/anyOf/oneOf/not, string, format, number, array, enum, object checks at
every node, `[i]` for items and `.key` for properties) and adds the checks upstream's custom resource strategy does
after it: `x-kubernetes-list-type` set/map uniqueness and `x-kubernetes-embedded-resource` type meta. Format checks
use the `jsonschema` library where it has the format; the Kubernetes-specific ones are here.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
from jsonschema import FormatChecker

from kybernetes.apiserver.crd.structural import Schema, additional, embedded, items, properties
from kybernetes.machinery.errors import FieldError
from kybernetes.machinery.meta import is_dns1035_label

_CHECKER = FormatChecker()


def validate(obj: Any, schema: Schema | None) -> list[FieldError]:
    """All schema errors of a custom resource (the root object), upstream's order and wording."""
    errs: list[FieldError] = []
    if schema:
        root = dict(schema)
        # apiVersion, kind and metadata are checked elsewhere (type meta and ObjectMeta validation).
        root["properties"] = {k: v for k, v in properties(schema).items() if k not in ("apiVersion", "kind", "metadata")}
        _validate(obj, root, "", errs)
    _list_types(obj, schema, "", errs)
    _embedded(obj, schema, "", errs, root=True)
    return errs


def validate_value(v: Any, schema: Schema) -> list[FieldError]:
    """Errors of one value against one (sub)schema; a field of `<nil>` means the value itself."""
    errs: list[FieldError] = []
    _validate(v, schema, "", errs)
    _list_types(v, schema, "", errs)
    return errs


# ---------------------------------------------------------------------------------------- helpers


def type_name(v: Any) -> str:
    """The JSON type go-openapi infers from a decoded value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def go_num(v: Any) -> str:
    """A number as Go's %v prints it (integral floats without a fraction)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
        return repr(v)
    return str(v)


def _types(s: Schema) -> list[str]:
    if s.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = s.get("type")
    if isinstance(t, str) and t:
        return [t]
    if isinstance(t, list):
        return [str(x) for x in t]
    return []


def _sub(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _field(name: str) -> str:
    return name.lstrip(".") or "<nil>"


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality where 1 == 1.0 but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------------------------- the walker


def _validate(v: Any, s: Schema, path: str, errs: list[FieldError]) -> None:
    if v is None:
        _type(v, s, path, errs)
        _enum(v, s, path, errs)
        return
    _type(v, s, path, errs)
    _schema_props(v, s, path, errs)
    if isinstance(v, str):
        _string(v, s, path, errs)
        _format(v, s, path, errs)
    if isinstance(v, int | float) and not isinstance(v, bool):
        _number(v, s, path, errs)
    if isinstance(v, list):
        _slice(v, s, path, errs)
    _enum(v, s, path, errs)
    if isinstance(v, dict):
        _object(v, s, path, errs)


def _type_error(path: str, expected: str, got: str) -> FieldError:
    return FieldError("typeinvalid", _field(path), got, f"{path} in body must be of type {expected}: {_q(got)}")


def _type(v: Any, s: Schema, path: str, errs: list[FieldError]) -> None:
    types = _types(s)
    if not types:
        return
    if v is None:
        if "null" not in types and not s.get("nullable"):
            errs.append(_type_error(path, ",".join(types), "null"))
        return
    got = type_name(v)
    if got in types:
        return
    if got == "number" and "integer" in types and float(v).is_integer():
        return
    if got == "integer" and "number" in types:
        return
    fmt = s.get("format")
    if fmt and isinstance(v, str | list) and not ("number" in types or "integer" in types):
        return
    errs.append(_type_error(path, ",".join(types), got))


def _schema_props(v: Any, s: Schema, path: str, errs: list[FieldError]) -> None:
    for sub in s.get("allOf") or []:
        if isinstance(sub, dict):
            _validate(v, sub, path, errs)
    any_of = [x for x in s.get("anyOf") or [] if isinstance(x, dict)]
    if any_of:
        best: list[FieldError] | None = None
        for sub in any_of:
            sub_errs: list[FieldError] = []
            _validate(v, sub, path, sub_errs)
            if not sub_errs:
                best = None
                break
            if best is None or len(sub_errs) < len(best):
                best = sub_errs
        else:
            errs.append(FieldError("invalid", _field(path), "", f"{path} in body must validate at least one schema (anyOf)"))
        if best:
            errs.extend(best)
    one_of = [x for x in s.get("oneOf") or [] if isinstance(x, dict)]
    if one_of:
        results: list[list[FieldError]] = []
        for sub in one_of:
            sub_errs = []
            _validate(v, sub, path, sub_errs)
            results.append(sub_errs)
        valid = sum(1 for r in results if not r)
        if valid == 0:
            errs.append(FieldError("invalid", _field(path), "", f"{path} in body must validate one and only one schema (oneOf)"))
            errs.extend(sorted(results, key=_count)[0])
        elif valid > 1:
            errs.append(FieldError("invalid", _field(path), "", f"{path} in body must validate one and only one schema (oneOf)"))
    not_ = s.get("not")
    if isinstance(not_, dict):
        sub_errs = []
        _validate(v, not_, path, sub_errs)
        if not sub_errs:
            errs.append(FieldError("invalid", _field(path), "", f"{path} in body must not validate the schema (not)"))


def _count(errs: list[FieldError]) -> int:
    return len(errs)


@cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _string(v: str, s: Schema, path: str, errs: list[FieldError]) -> None:
    n = len(v)
    max_len = s.get("maxLength")
    if isinstance(max_len, int) and n > max_len:
        unit = "byte" if max_len == 1 else "bytes"
        errs.append(FieldError("toolong", _field(path), v, f"may not be more than {max_len} {unit}"))
    min_len = s.get("minLength")
    if isinstance(min_len, int) and n < min_len:
        errs.append(FieldError("invalid", _field(path), v, f"{path} in body should be at least {min_len} chars long"))
    pattern = s.get("pattern")
    if isinstance(pattern, str):
        rx = _compiled(pattern)
        if rx is not None and not rx.search(v):
            errs.append(FieldError("invalid", _field(path), v, f"{path} in body should match '{pattern}'"))


def _number(v: float, s: Schema, path: str, errs: list[FieldError]) -> None:
    mult = s.get("multipleOf")
    if isinstance(mult, int | float) and not isinstance(mult, bool) and mult > 0:
        q = v / mult
        if not math.isclose(q, round(q), rel_tol=0, abs_tol=1e-9):
            errs.append(FieldError("invalid", _field(path), v, f"{path} in body should be a multiple of {go_num(mult)}"))
    mx = s.get("maximum")
    if isinstance(mx, int | float) and not isinstance(mx, bool):
        if s.get("exclusiveMaximum") and v >= mx:
            errs.append(FieldError("invalid", _field(path), v, f"{path} in body should be less than {go_num(mx)}"))
        elif v > mx:
            errs.append(FieldError("invalid", _field(path), v, f"{path} in body should be less than or equal to {go_num(mx)}"))
    mn = s.get("minimum")
    if isinstance(mn, int | float) and not isinstance(mn, bool):
        if s.get("exclusiveMinimum") and v <= mn:
            errs.append(FieldError("invalid", _field(path), v, f"{path} in body should be greater than {go_num(mn)}"))
        elif v < mn:
            errs.append(FieldError("invalid", _field(path), v, f"{path} in body should be greater than or equal to {go_num(mn)}"))


def _slice(v: list[Any], s: Schema, path: str, errs: list[FieldError]) -> None:
    sub = items(s)
    if sub is not None:
        for i, x in enumerate(v):
            _validate(x, sub, f"{path}[{i}]", errs)
    n = len(v)
    mn = s.get("minItems")
    if isinstance(mn, int) and n < mn:
        errs.append(FieldError("invalid", _field(path), n, f"{path} in body should have at least {mn} items"))
    mx = s.get("maxItems")
    if isinstance(mx, int) and n > mx:
        errs.append(FieldError("toomany", _field(path), n, f"{n}: must have at most {mx} {'item' if mx == 1 else 'items'}"))


def _enum(v: Any, s: Schema, path: str, errs: list[FieldError]) -> None:
    enum = s.get("enum")
    if not isinstance(enum, list) or not enum:
        return
    if any(json_equal(v, e) for e in enum):
        return
    quoted = ", ".join(_q(e if isinstance(e, str) else orjson.dumps(e).decode()) for e in enum)
    errs.append(FieldError("notsupported", _field(path), v, f"supported values: {quoted}"))


def _object(v: dict[str, Any], s: Schema, path: str, errs: list[FieldError]) -> None:
    n = len(v)
    mn = s.get("minProperties")
    if isinstance(mn, int) and n < mn:
        errs.append(FieldError("invalid", _field(path), n, f"{path} in body should have at least {mn} properties"))
        return
    mx = s.get("maxProperties")
    if isinstance(mx, int) and n > mx:
        errs.append(FieldError("toomany", _field(path), n, f"{n}: must have at most {mx} {'item' if mx == 1 else 'items'}"))
        return
    props = properties(s)
    extra = additional(s)
    if extra is not None:
        for k, x in v.items():
            if k not in props:
                _validate(x, extra, f"{path}.{k}", errs)
    for k, sub in props.items():
        if k in v:
            _validate(v[k], sub, _sub(path, k), errs)
    for k in s.get("required") or []:
        if k not in v:
            errs.append(FieldError("required", _field(f"{path}.{k}")))


# ------------------------------------------------------------------------------------------ formats


_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5,7}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2,3}[0-9A-Fa-f]{4}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$")
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE)
_UUIDN = {
    "uuid3": re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE),
    "uuid4": re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", re.IGNORECASE),
    "uuid5": re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", re.IGNORECASE),
}
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def _matcher(rx: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda v: bool(rx.match(v))


def _checker(name: str) -> Callable[[str], bool]:
    return lambda v: _CHECKER.conforms(v, name)


def _is_base64(v: str) -> bool:
    try:
        base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_cidr(v: str) -> bool:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return False
    return "/" in v


# The formats kube-openapi validates for CRDs (others are stripped and accepted as plain strings).
FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _checker("date"),
    "date-time": lambda v: bool(_DATETIME.match(v)),
    "datetime": lambda v: bool(_DATETIME.match(v)),
    "email": _checker("email"),
    "ipv4": _checker("ipv4"),
    "ipv6": _checker("ipv6"),
    "uuid": lambda v: bool(_UUID.match(v)),
    **{k: _matcher(rx) for k, rx in _UUIDN.items()},
    "byte": _is_base64,
    "cidr": _is_cidr,
    "mac": lambda v: bool(_MAC.match(v)),
    "hostname": lambda v: bool(_HOSTNAME.match(v)) and len(v) <= 255,
    "duration": lambda v: bool(_DURATION.match(v)),
    "hexcolor": lambda v: bool(_HEXCOLOR.match(v)),
}


def _format(v: str, s: Schema, path: str, errs: list[FieldError]) -> None:
    fmt = s.get("format")
    check = FORMATS.get(fmt) if isinstance(fmt, str) else None
    if check is not None and not check(v):
        errs.append(FieldError("typeinvalid", _field(path), v, f"{path} in body must be of type {fmt}: {_q(v)}"))


def _q(s: str) -> str:
    """Go's %q for a string."""
    return orjson.dumps(s).decode()


# ------------------------------------------------------------------------ list types, embedded resources


class _GoMap:
    """A list-map key printed the way Go's %#v prints map[string]interface{} in a Duplicate value error."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys

    def __str__(self) -> str:
        inner = ", ".join(f"{_q(k)}:{_go_value(v)}" for k, v in sorted(self.keys.items()))
        return "map[string]interface {}{" + inner + "}"


def _go_value(v: Any) -> str:
    if isinstance(v, str):
        return _q(v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return go_num(v)
    return orjson.dumps(v).decode()


def _list_types(v: Any, s: Schema | None, path: str, errs: list[FieldError]) -> None:
    if s is None:
        return
    if isinstance(v, dict):
        props = properties(s)
        extra = additional(s)
        for k, x in v.items():
            sub = props.get(k, extra)
            if sub is not None:
                _list_types(x, sub, f"{path}.{k}" if path else k, errs)
    elif isinstance(v, list):
        lt = s.get("x-kubernetes-list-type")
        if lt == "set":
            seen: list[Any] = []
            for i, x in enumerate(v):
                if any(json_equal(x, y) for y in seen):
                    errs.append(FieldError("duplicate", f"{path}[{i}]", x))
                else:
                    seen.append(x)
        elif lt == "map":
            keys = [k for k in s.get("x-kubernetes-list-map-keys") or [] if isinstance(k, str)]
            seen_keys: list[dict[str, Any]] = []
            for i, x in enumerate(v):
                if not isinstance(x, dict):
                    continue
                key = {k: x[k] for k in keys if k in x}
                if any(json_equal(key, y) for y in seen_keys):
                    errs.append(FieldError("duplicate", f"{path}[{i}]", _GoMap(key)))
                else:
                    seen_keys.append(key)
        sub = items(s)
        for i, x in enumerate(v):
            _list_types(x, sub, f"{path}[{i}]", errs)


def _embedded(v: Any, s: Schema | None, path: str, errs: list[FieldError], root: bool = False) -> None:
    if s is None:
        return
    if isinstance(v, dict):
        if embedded(s) and not root:
            _type_meta(v, path, errs)
        props = properties(s)
        extra = additional(s)
        for k, x in v.items():
            if root and k in ("apiVersion", "kind", "metadata"):
                continue
            sub = props.get(k, extra)
            if sub is not None:
                _embedded(x, sub, f"{path}.{k}" if path else k, errs)
    elif isinstance(v, list):
        sub = items(s)
        for i, x in enumerate(v):
            _embedded(x, sub, f"{path}[{i}]", errs)


def _type_meta(v: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    """An embedded resource needs apiVersion and kind (metadata is optional), like upstream's schemaobjectmeta."""
    if "apiVersion" not in v:
        errs.append(FieldError("required", f"{path}.apiVersion", detail="must not be empty"))
    if "kind" not in v:
        errs.append(FieldError("required", f"{path}.kind", detail="must not be empty"))
    av = v.get("apiVersion")
    if "apiVersion" in v:
        if not isinstance(av, str):
            errs.append(FieldError("invalid", f"{path}.apiVersion", av, "must be a string"))
        elif not av:
            errs.append(FieldError("invalid", f"{path}.apiVersion", av, "must not be empty"))
        elif av.count("/") > 1:
            errs.append(FieldError("invalid", f"{path}.apiVersion", av, f"unexpected GroupVersion string: {av}"))
    kind = v.get("kind")
    if "kind" in v:
        if not isinstance(kind, str):
            errs.append(FieldError("invalid", f"{path}.kind", kind, "must be a string"))
        elif not kind:
            errs.append(FieldError("invalid", f"{path}.kind", kind, "must not be empty"))
        else:
            msgs = is_dns1035_label(kind.lower())
            if msgs:
                errs.append(FieldError("invalid", f"{path}.kind", kind, "may have mixed case, but should otherwise match: " + ",".join(msgs)))
