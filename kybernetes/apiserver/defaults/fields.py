"""Small helpers the setters share: Go's nil and zero tests on JSON-shaped dicts.

Go distinguishes a nil pointer (`if obj.Replicas == nil`) from a zero value (`if obj.Type == ""`); in JSON both
usually arrive as an absent key, but an explicit `null` or `0` must be treated the way Go would treat it.
"""

from __future__ import annotations

from typing import Any


def struct(parent: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The struct at `key`, created when absent or null (a non-pointer struct, or a pointer being defaulted).

    None when the key holds something that is not an object: decoding would have failed upstream, so the
    setter leaves it for validation to report.
    """
    value = parent.get(key)
    if value is None:
        value = {}
        parent[key] = value
    return value if isinstance(value, dict) else None


def existing(parent: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The struct at `key` when present (a pointer that is not nil), else None."""
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def if_nil(obj: dict[str, Any], key: str, value: Any) -> None:
    """`if obj.Key == nil { obj.Key = value }` for pointer fields."""
    if obj.get(key) is None:
        obj[key] = value


def if_empty(obj: dict[str, Any], key: str, value: Any) -> None:
    """`if obj.Key == "" { ... }` / `== 0` for non-pointer scalar fields."""
    if obj.get(key) in (None, "", 0) and obj.get(key) is not False:
        obj[key] = value


def items(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The object elements of the list at `key` (missing or malformed lists give none)."""
    value = obj.get(key)
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]
