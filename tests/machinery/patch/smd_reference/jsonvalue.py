"""JSON value helpers shared by the patch engines.

Why: Python's ``==`` says ``True == 1`` and ``hash(True) == hash(1)``, while Kubernetes (Go) keeps
booleans and numbers apart; and the byte-exact text upstream writes (field-set keys, the last-applied
annotation) follows Go's ``encoding/json`` escaping.  These helpers give the engines Go's view.
"""

from __future__ import annotations

import json
from typing import Any


def sort_key(value: Any) -> tuple[Any, ...]:
    """A total order over JSON values, as structured-merge-diff's ``value.Compare``.

    Numbers (ints and floats compared numerically) < strings < booleans < lists < maps < null.
    Equal keys mean equal values, so the key also serves for hashing and deep equality.
    """
    if value is None:
        return (5,)
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(sort_key(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, sort_key(value[k])) for k in sorted(value)))
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality of JSON values that never equates a boolean with a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not json_equal(v, b[k]):
                return False
        return True
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    if isinstance(a, int | float):
        return isinstance(b, int | float) and a == b
    return type(a) is type(b) and a == b


def is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _go_numbers(value: Any) -> Any:
    """Integral floats as Go prints float64 (``2.0`` -> ``2``) below its exponent threshold."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


def go_json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON as Go's ``encoding/json`` writes it (HTML-safe escapes, U+2028/9 escaped)."""
    text = json.dumps(
        _go_numbers(value), separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys, allow_nan=False
    )
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_string(value: Any) -> str:
    """structured-merge-diff's ``value.ToString``: strings quoted, numbers and booleans bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={go_string(v)}" for k, v in sorted(value.items()))
    return "{{undefined}}"


def deep_copy(value: Any) -> Any:
    """A fast deep copy of plain JSON data."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value
