"""Label and field selectors: parsing the query-string syntax and matching.

The same selector logic serves list filtering, watch filtering (where an object leaving the selection becomes a
DELETED event) and every controller that matches pods to owners, so it lives in one place with upstream's grammar:
`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`, `k>1`, `k<1`, comma meaning AND.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.machinery.errors import StatusError, bad_request

_KEY_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "=":
            return labels.get(self.key) == self.values[0]
        if op == "in":
            v = labels.get(self.key)
            return v is not None and v in self.values
        if op == "!=":
            return labels.get(self.key) != self.values[0]
        if op == "notin":
            v = labels.get(self.key)
            return v is None or v not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        v = labels.get(self.key)
        if v is None:
            return False
        try:
            n = int(v)
        except ValueError:
            return False
        limit = int(self.values[0])
        return n > limit if op == "gt" else n < limit


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        lab = labels or {}
        return all(r.matches(lab) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def equality_value(self, key: str) -> str | None:
        """The value `key` must equal, when the selector pins it (used to pick an index)."""
        for r in self.requirements:
            if r.key == key and r.op in ("=", "in") and len(r.values) == 1:
                return r.values[0]
        return None


EVERYTHING = LabelSelector(())
NOTHING = LabelSelector((Requirement("", "in", ()),))

_TOKEN_RE = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=,()<>]+)")


def _tokens(s: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if not m:
            break
        tok = m.group(1)
        out.append(tok)
        pos = m.end()
        while pos < len(s) and s[pos].isspace():
            pos += 1
    return out


def _check_key(key: str, where: str) -> None:
    if not key or len(key.split("/")[-1]) > 63 or not _KEY_RE.match(key):
        raise bad_request(f"unable to parse requirement: {where}: invalid label key {key!r}")


def _check_value(v: str, where: str) -> None:
    if len(v) > 63 or not _VALUE_RE.match(v):
        raise bad_request(f"unable to parse requirement: {where}: invalid label value: {v!r}")


def parse_label_selector(s: str | None) -> LabelSelector:
    """Parse the labelSelector query syntax. Raises a 400 StatusError on bad input."""
    if s is None or not s.strip():
        return EVERYTHING
    toks = _tokens(s)
    reqs: list[Requirement] = []
    i = 0
    n = len(toks)

    def err(msg: str) -> StatusError:
        return bad_request(f"unable to parse requirement: {msg}")

    while i < n:
        if toks[i] == "!":
            if i + 1 >= n:
                raise err("missing key after '!'")
            key = toks[i + 1]
            _check_key(key, s)
            reqs.append(Requirement(key, "!"))
            i += 2
        else:
            key = toks[i]
            if key in ("=", "==", "!=", "(", ")", ",", ">", "<"):
                raise err(f"found '{key}', expected: !, identifier, or 'end of string'")
            _check_key(key, s)
            i += 1
            if i >= n or toks[i] == ",":
                reqs.append(Requirement(key, "exists"))
            else:
                op = toks[i]
                i += 1
                if op in ("=", "==", "!="):
                    val = ""
                    if i < n and toks[i] not in (",", ")", "("):
                        val = toks[i]
                        i += 1
                    _check_value(val, s)
                    reqs.append(Requirement(key, "!=" if op == "!=" else "=", (val,)))
                elif op in ("in", "notin"):
                    if i >= n or toks[i] != "(":
                        raise err(f"found '{toks[i] if i < n else ''}', expected: '('")
                    i += 1
                    vals: list[str] = []
                    while i < n and toks[i] != ")":
                        if toks[i] == ",":
                            i += 1
                            continue
                        _check_value(toks[i], s)
                        vals.append(toks[i])
                        i += 1
                    if i >= n:
                        raise err("found 'end of string', expected: ')'")
                    i += 1
                    if not vals:
                        vals = [""]
                    reqs.append(Requirement(key, op, tuple(sorted(set(vals)))))
                elif op in (">", "<"):
                    if i >= n:
                        raise err("missing value")
                    try:
                        int(toks[i])
                    except ValueError:
                        raise err(f"for 'Gt', 'Lt' operators, the value must be an integer: {toks[i]}") from None
                    reqs.append(Requirement(key, "gt" if op == ">" else "lt", (toks[i],)))
                    i += 1
                else:
                    raise err(f"found '{op}', expected: '=', '!=', '==', 'in', notin'")
        if i < n:
            if toks[i] != ",":
                raise err(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= n:
                raise err("found 'end of string', expected: identifier")
    return LabelSelector(tuple(reqs))


def selector_from_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector (matchLabels + matchExpressions). None selects nothing, {} everything."""
    if sel is None:
        return NOTHING
    reqs: list[Requirement] = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append(Requirement(k, "=", (str(v),)))
    for expr in sel.get("matchExpressions") or []:
        op = expr.get("operator", "")
        key = expr.get("key", "")
        vals = tuple(expr.get("values") or ())
        if op == "In":
            reqs.append(Requirement(key, "in", vals))
        elif op == "NotIn":
            reqs.append(Requirement(key, "notin", vals))
        elif op == "Exists":
            reqs.append(Requirement(key, "exists"))
        elif op == "DoesNotExist":
            reqs.append(Requirement(key, "!"))
        else:
            raise ValueError(f"{op!r} is not a valid label selector operator")
    return LabelSelector(tuple(reqs))


def selector_to_string(sel: Mapping[str, Any] | None) -> str:
    """Render a metav1.LabelSelector the way upstream prints it (`app=web,tier in (a,b)`)."""
    if not sel:
        return ""
    parts: list[str] = []
    for r in selector_from_object(sel).requirements:
        if r.op == "=":
            parts.append(f"{r.key}={r.values[0]}")
        elif r.op == "in":
            parts.append(f"{r.key} in ({','.join(r.values)})")
        elif r.op == "notin":
            parts.append(f"{r.key} notin ({','.join(r.values)})")
        elif r.op == "exists":
            parts.append(r.key)
        elif r.op == "!":
            parts.append(f"!{r.key}")
    return ",".join(parts)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...]

    def matches(self, fields: Mapping[str, str]) -> bool:
        for r in self.requirements:
            v = fields.get(r.field, "")
            if (v == r.value) == r.negate:
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def equality_value(self, field: str) -> str | None:
        for r in self.requirements:
            if r.field == field and not r.negate:
                return r.value
        return None


def _split_unescaped(s: str, sep: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i : i + 2])
            i += 2
            continue
        if c == sep:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def parse_field_selector(s: str | None) -> FieldSelector:
    if s is None or not s.strip():
        return FieldSelector(())
    reqs: list[FieldRequirement] = []
    for part in _split_unescaped(s, ","):
        if not part:
            continue
        for op in ("!=", "==", "="):
            idx = _find_unescaped(part, op)
            if idx >= 0:
                field = part[:idx].strip()
                value = _unescape(part[idx + len(op) :])
                reqs.append(FieldRequirement(field, value, op == "!="))
                break
        else:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
    return FieldSelector(tuple(reqs))


def _find_unescaped(s: str, op: str) -> int:
    i = 0
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s.startswith(op, i):
            return i
        i += 1
    return -1
