"""A small JSONPath evaluator for CRD additionalPrinterColumns (the subset kubectl users write).

Upstream compiles each column's jsonPath with client-go's jsonpath (`{` + path + `}`, missing keys
allowed) and prints the first result. Supported here:

* fields: `.spec.replicas`, `['a.b/c']`, `["x"]`, wildcard `.*` / `[*]`
* indexes and slices: `[0]`, `[-1]`, `[1:3]`, `[::2]`
* filters: `[?(@.type=="Ready")]`, `!=`, `<`, `<=`, `>`, `>=`, existence `[?(@.reason)]`,
  comparing with a quoted string, a number, `true`/`false`/`null` or another `@.path`
* recursive descent: `..name`

A path outside this subset raises JSONPathError when compiled, which mirrors the CRD convertor
rejecting a column it cannot parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class JSONPathError(ValueError):
    """The path is outside the supported JSONPath subset."""


@dataclass(frozen=True)
class _Field:
    name: str  # "*" means every child


@dataclass(frozen=True)
class _Recursive:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class _Filter:
    left: tuple[Any, ...]
    op: str | None
    right: Any  # tuple of steps for an @-path, else a literal


_Step = _Field | _Recursive | _Index | _Slice | _Filter

_IDENT = re.compile(r"[A-Za-z0-9_\-$/]+|\*")
_FILTER = re.compile(r"^\s*(@[^\s=!<>]*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


def compile_path(path: str) -> tuple[_Step, ...]:
    """Parse a path such as `.status.conditions[?(@.type=="Ready")].status` into steps.

    Surrounding `{}` (the kubectl jsonpath template form) are accepted and stripped.
    """
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1].strip()
    if p.startswith("$"):
        p = p[1:]
    steps: list[_Step] = []
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if p.startswith("..", i):
            m = _IDENT.match(p, i + 2)
            if m is None:
                raise JSONPathError(f"invalid recursive descent at {i} in {path!r}")
            steps.append(_Recursive(m.group(0)))
            i = m.end()
        elif c == ".":
            if i + 1 == n:
                i += 1  # a lone "." is the root
                continue
            m = _IDENT.match(p, i + 1)
            if m is None:
                raise JSONPathError(f"invalid field at {i} in {path!r}")
            steps.append(_Field(m.group(0)))
            i = m.end()
        elif c == "[":
            end = _matching_bracket(p, i)
            steps.append(_bracket(p[i + 1 : end].strip(), path))
            i = end + 1
        else:
            raise JSONPathError(f"unexpected {c!r} at {i} in {path!r}")
    return tuple(steps)


def _matching_bracket(p: str, start: int) -> int:
    depth = 0
    quote: str | None = None
    for j in range(start, len(p)):
        ch = p[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JSONPathError(f"unterminated [ in {p!r}")


def _bracket(inner: str, path: str) -> _Step:
    if inner == "*":
        return _Field("*")
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Field(inner[1:-1])
    if inner.startswith("?(") and inner.endswith(")"):
        m = _FILTER.match(inner[2:-1])
        if m is None:
            raise JSONPathError(f"unsupported filter {inner!r} in {path!r}")
        left, op, right = m.groups()
        left_steps = compile_path(left[1:])
        right_val: Any = None
        if op is not None:
            right_val = _literal(right, path)
        return _Filter(left_steps, op, right_val)
    if ":" in inner:
        parts = inner.split(":")
        if len(parts) > 3:
            raise JSONPathError(f"invalid slice {inner!r} in {path!r}")
        try:
            nums = [int(x) if x.strip() else None for x in parts] + [None] * (3 - len(parts))
        except ValueError as e:
            raise JSONPathError(f"invalid slice {inner!r} in {path!r}") from e
        return _Slice(nums[0], nums[1], nums[2])
    try:
        return _Index(int(inner))
    except ValueError as e:
        raise JSONPathError(f"unsupported subscript {inner!r} in {path!r}") from e


def _literal(text: str, path: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    if t.startswith("@"):
        return compile_path(t[1:])
    if t in ("true", "false"):
        return t == "true"
    if t == "null":
        return None
    if _NUMBER.match(t):
        return float(t) if any(ch in t for ch in ".eE") else int(t)
    raise JSONPathError(f"unsupported filter operand {t!r} in {path!r}")


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    if isinstance(value, list):
        return list(value)
    return []


def _apply(step: _Step, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(step, _Field):
            if step.name == "*":
                out.extend(_children(v))
            elif isinstance(v, dict) and step.name in v:
                out.append(v[step.name])
        elif isinstance(step, _Recursive):
            out.extend(_descend(v, step.name))
        elif isinstance(step, _Index):
            if isinstance(v, list) and -len(v) <= step.index < len(v):
                out.append(v[step.index])
        elif isinstance(step, _Slice):
            if isinstance(v, list):
                out.extend(v[step.start : step.stop : step.step])
        else:
            items = v if isinstance(v, list) else _children(v)
            out.extend(item for item in items if _matches(step, item))
    return out


def _descend(value: Any, name: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(value, dict):
        if name == "*":
            found.extend(_children(value))
        elif name in value:
            found.append(value[name])
        for k in sorted(value):
            found.extend(_descend(value[k], name))
    elif isinstance(value, list):
        for item in value:
            found.extend(_descend(item, name))
    return found


def _resolve(steps: tuple[_Step, ...], value: Any) -> list[Any]:
    values = [value]
    for step in steps:
        values = _apply(step, values)
    return values


def _matches(f: _Filter, item: Any) -> bool:
    lefts = _resolve(f.left, item)
    if f.op is None:
        return bool(lefts)
    if not lefts:
        return False
    left = lefts[0]
    if isinstance(f.right, tuple):
        rights = _resolve(f.right, item)
        if not rights:
            return False
        right = rights[0]
    else:
        right = f.right
    try:
        if f.op == "==":
            return bool(_norm(left) == _norm(right))
        if f.op == "!=":
            return bool(_norm(left) != _norm(right))
        if isinstance(left, bool) or isinstance(right, bool):
            return False
        if isinstance(left, int | float) and isinstance(right, int | float):
            return _compare(f.op, left, right)
        if isinstance(left, str) and isinstance(right, str):
            return _compare(f.op, left, right)
    except TypeError:
        return False
    return False


def _norm(v: Any) -> Any:
    # 1 == 1.0 in JSON; keep bools distinct from numbers
    if isinstance(v, bool):
        return ("bool", v)
    return v


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


class JSONPath:
    """A compiled path; `find` returns every match in document order (empty when keys are missing)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._steps = compile_path(path)

    def find(self, data: Any) -> list[Any]:
        """All values the path selects from `data`."""
        return _resolve(self._steps, data)

    def first(self, data: Any) -> tuple[bool, Any]:
        """(found, value) of the first match, as the CRD convertor uses results[0][0]."""
        found = self.find(data)
        return (True, found[0]) if found else (False, None)


def find(path: str, data: Any) -> list[Any]:
    """Convenience: compile `path` and return all its matches in `data`."""
    return JSONPath(path).find(data)
