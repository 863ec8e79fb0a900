"""Shared building blocks of the printers: durations, timestamps, safe field access, label formatting.

Upstream prints internal Go structs, where every field exists and has a zero value. We print the
external v1 JSON as stored, where any field may be missing, null or of an unexpected type. Every
accessor here therefore answers the Go zero value ("" / 0 / empty) instead of raising, so that a
malformed object yields a row with placeholder cells rather than a failed `kubectl get`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kybernetes.apiserver.printers._descriptions import doc

JSONDict = dict[str, Any]

_NS_PER_SECOND = 1_000_000_000
_NS_PER_MINUTE = 60 * _NS_PER_SECOND
_NS_PER_HOUR = 60 * _NS_PER_MINUTE


# ---------------------------------------------------------------------------------------------
# durations (apimachinery/pkg/util/duration)
# ---------------------------------------------------------------------------------------------


def _nanos(seconds: float) -> int:
    """Seconds as Go's time.Duration (int64 nanoseconds, truncated toward zero)."""
    return int(seconds * _NS_PER_SECOND)


def _go_div(a: int, b: int) -> int:
    """Go integer division truncates toward zero; Python's // floors. Ages are rarely negative, but be exact."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def human_duration(seconds: float) -> str:
    """Port of HumanDuration: ~2-3 significant figures ("90s", "3m2s", "47h", "12d", "2y3d").

    kubectl shows these strings verbatim in AGE columns, so the thresholds must match upstream
    exactly: seconds up to 119, minutes+seconds below 10 minutes, whole minutes below 3 hours,
    hours+minutes below 8 hours, hours below 2 days, days+hours below 8 days, days below 2 years,
    years+days below 8 years, then years. A clock skew of up to ~2s in the future reads "0s".
    """
    d = _nanos(seconds)
    secs = _go_div(d, _NS_PER_SECOND)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = d // _NS_PER_MINUTE
    if minutes < 10:
        s = (d // _NS_PER_SECOND) % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = d // _NS_PER_HOUR
    if hours < 8:
        m = (d // _NS_PER_MINUTE) % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def short_human_duration(seconds: float) -> str:
    """Port of ShortHumanDuration: a single unit ("59s", "5m", "3h", "12d", "2y"), used by kubectl describe."""
    d = _nanos(seconds)
    secs = _go_div(d, _NS_PER_SECOND)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 60:
        return f"{secs}s"
    minutes = d // _NS_PER_MINUTE
    if minutes < 60:
        return f"{minutes}m"
    hours = d // _NS_PER_HOUR
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{int(d / _NS_PER_HOUR / 24 / 365)}y"


# ---------------------------------------------------------------------------------------------
# timestamps
# ---------------------------------------------------------------------------------------------

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$"
)


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC3339 (metav1.Time) or RFC3339-micro (metav1.MicroTime) string; None if absent or zero.

    Go's zero time ("0001-01-01T00:00:00Z") counts as absent because upstream tests IsZero() before
    printing an age. Fractions beyond microseconds are truncated (Python's datetime resolution).
    """
    if not isinstance(value, str) or not value:
        return None
    m = _TS_RE.match(value.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = m.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    try:
        ts = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=UTC
        )
    except ValueError:
        return None
    if not zulu and sign:
        offset = (int(off_h) * 60 + int(off_m)) * 60
        ts = datetime.fromtimestamp(ts.timestamp() - (offset if sign == "+" else -offset), tz=UTC)
    if ts.year == 1 and ts.month == 1 and ts.day == 1 and ts.hour == 0 and ts.minute == 0 and ts.second == 0:
        return None
    return ts


def since(ts: datetime, now: datetime) -> float:
    """Seconds elapsed from ts to now (negative when ts is in the future)."""
    return (now - ts).total_seconds()


def age(timestamp: Any, now: datetime | None = None) -> str:
    """translateTimestampSince: HumanDuration of now - timestamp, "<unknown>" when missing or zero."""
    ts = parse_time(timestamp)
    if ts is None:
        return "<unknown>"
    return human_duration(since(ts, now if now is not None else datetime.now(UTC)))


def format_rfc3339_utc(timestamp: Any) -> str:
    """`time.Time.UTC().Format(time.RFC3339)` as used by the default table's "Created At" cell.

    A missing timestamp prints Go's zero time, exactly as upstream does for objects without one.
    """
    ts = parse_time(timestamp)
    if ts is None:
        if isinstance(timestamp, str) and timestamp and _TS_RE.match(timestamp.strip()) is None:
            return timestamp
        return "0001-01-01T00:00:00Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# safe access to JSON objects
# ---------------------------------------------------------------------------------------------


def get(obj: Any, *path: str | int) -> Any:
    """Walk dict keys / list indexes; None as soon as a step is missing or of the wrong type."""
    cur = obj
    for step in path:
        if isinstance(step, int):
            if not isinstance(cur, list) or not -len(cur) <= step < len(cur):
                return None
            cur = cur[step]
        else:
            if not isinstance(cur, Mapping):
                return None
            cur = cur.get(step)
    return cur


def gstr(obj: Any, *path: str | int) -> str:
    """A string field, "" (Go's zero value) when missing or not a string."""
    v = get(obj, *path)
    return v if isinstance(v, str) else ""


def gint(obj: Any, *path: str | int, default: int = 0) -> int:
    """An integer field; integral floats are accepted (JSON has one number type), bools are not."""
    v = get(obj, *path)
    return as_int(v, default)


def as_int(v: Any, default: int = 0) -> int:
    """Coerce a JSON number to int the way Go's decoder fills an int32/int64 field."""
    if isinstance(v, bool):
        return default
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return default


def gbool(obj: Any, *path: str | int, default: bool = False) -> bool:
    """A boolean field, `default` when missing or not a bool."""
    v = get(obj, *path)
    return v if isinstance(v, bool) else default


def glist(obj: Any, *path: str | int) -> list[Any]:
    """A list field, [] when missing or not a list."""
    v = get(obj, *path)
    return v if isinstance(v, list) else []


def gdict(obj: Any, *path: str | int) -> JSONDict:
    """An object field, {} when missing or not an object."""
    v = get(obj, *path)
    return v if isinstance(v, dict) else {}


def dicts(items: Iterable[Any]) -> list[JSONDict]:
    """Only the object entries of a list (a null or scalar list item must not crash a printer)."""
    return [i for i in items if isinstance(i, dict)]


def name_of(obj: Any) -> str:
    """metadata.name."""
    return gstr(obj, "metadata", "name")


def is_deleting(obj: Any) -> bool:
    """metadata.deletionTimestamp set (upstream checks the pointer, not the value)."""
    return get(obj, "metadata", "deletionTimestamp") is not None


def creation_age(obj: Any, now: datetime) -> str:
    """The AGE cell: age of metadata.creationTimestamp."""
    return age(get(obj, "metadata", "creationTimestamp"), now)


# ---------------------------------------------------------------------------------------------
# formatting helpers shared by several kinds
# ---------------------------------------------------------------------------------------------


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: sorted "k=v" pairs joined by ",", "<none>" when empty."""
    if not isinstance(labels, Mapping) or not labels:
        return "<none>"
    return ",".join(f"{k}={_go_str(labels[k])}" for k in sorted(labels))


def _go_str(v: Any) -> str:
    """String value of a map entry that should have been a string."""
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    return json.dumps(v)


class SelectorError(ValueError):
    """A LabelSelector that LabelSelectorAsSelector would reject."""


_OPS = {"In": " in ", "NotIn": " notin "}


def label_selector_string(selector: Any) -> str:
    """LabelSelectorAsSelector(sel).String(): requirements sorted by key, "" for nil or empty.

    Raises SelectorError for selectors upstream refuses to convert (unknown operator, missing
    values for In/NotIn, values given to Exists/DoesNotExist).
    """
    if not isinstance(selector, Mapping):
        return ""
    reqs: list[tuple[str, str]] = []
    match_labels = selector.get("matchLabels")
    if isinstance(match_labels, Mapping):
        for k, v in match_labels.items():
            reqs.append((str(k), f"{k}={_go_str(v)}"))
    exprs = selector.get("matchExpressions")
    for expr in exprs if isinstance(exprs, list) else []:
        if not isinstance(expr, Mapping):
            raise SelectorError("invalid match expression")
        key = gstr(expr, "key")
        op = gstr(expr, "operator")
        values = [_go_str(v) for v in glist(expr, "values")]
        if op in _OPS:
            if not values:
                raise SelectorError(f"for '{op}' operator, values set can't be empty")
            reqs.append((key, f"{key}{_OPS[op]}({','.join(sorted(values))})"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                raise SelectorError(f"values set must be empty for {op}")
            reqs.append((key, key if op == "Exists" else f"!{key}"))
        else:
            raise SelectorError(f"{op!r} is not a valid label selector operator")
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


def format_label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: the selector string, "<none>" when empty, "<error>" when invalid."""
    try:
        s = label_selector_string(selector)
    except SelectorError:
        return "<error>"
    return s or "<none>"


def layout_container_cells(containers: Any) -> tuple[str, str]:
    """layoutContainerCells: container names and images, each comma-joined in spec order."""
    items = dicts(containers) if isinstance(containers, list) else []
    return ",".join(gstr(c, "name") for c in items), ",".join(gstr(c, "image") for c in items)


def list_with_more(items: list[str], total: int, limit: int, empty: str = "<unset>") -> str:
    """listWithMoreString: the first `limit` items and " + N more..." when there were more."""
    ret = ",".join(items[:limit])
    if total > limit:
        return f"{ret} + {total - limit} more..."
    return ret or empty


def go_bool_str(value: Any) -> str:
    """printBoolPtr: "True"/"False", "<unset>" for a missing pointer."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return "<unset>"


def go_float_str(value: float) -> str:
    """fmt.Sprint(float64), i.e. strconv 'g' with shortest precision: exponent form below 1e-4 or from 1e6.

    Used for CRD "string" columns holding a JSON float (client-go's jsonpath prints them with %v).
    """
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digit_tuple)
    x = len(digits) - 1 + exponent  # decimal exponent of the first significant digit
    sign = "-" if value < 0 else ""
    if x < -4 or x >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    point = x + 1  # digits before the decimal point
    if point <= 0:
        return f"{sign}0.{'0' * (-point)}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


# ---------------------------------------------------------------------------------------------
# printer model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One metav1.TableColumnDefinition. `priority` 1 columns are shown by kubectl only with -o wide."""

    name: str
    type: str
    description: str = ""
    format: str = ""
    priority: int = 0

    def definition(self) -> JSONDict:
        """The JSON form; upstream serializes all five fields (none is omitempty)."""
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Context:
    """What a row function may depend on besides the object: the clock, injectable for tests."""

    now: datetime

    def age(self, timestamp: Any) -> str:
        """translateTimestampSince against this context's clock."""
        return age(timestamp, self.now)


RowFunc = Callable[[JSONDict, Context], list[Any]]
ConditionsFunc = Callable[[JSONDict], list[JSONDict]]


@dataclass(frozen=True)
class Printer:
    """Column definitions plus the function producing one row's cells (server side is always "wide").

    `conditions` fills TableRow.conditions (pods mark Succeeded/Failed rows as Completed).
    `sort_key`, when set, reorders rows as the upstream list printer does (only FlowSchemas).
    `always_headers` mirrors convertors that ignore TableOptions.noHeaders (APIService).
    `prepare` converts an alternative served shape (events.k8s.io, autoscaling/v1) into the one
    the row function reads, like upstream's conversion to the internal type.
    """

    columns: tuple[Column, ...]
    row: RowFunc
    conditions: ConditionsFunc | None = None
    sort_key: Callable[[JSONDict], Any] | None = None
    always_headers: bool = False
    prepare: Callable[[JSONDict], JSONDict] | None = None


Registry = dict[tuple[str, str], Printer]

# Column definitions reused by almost every kind.
NAME = Column("Name", "string", doc("ObjectMeta.name"), format="name")
AGE = Column("Age", "string", doc("ObjectMeta.creationTimestamp"))
CONTAINERS_WIDE = Column("Containers", "string", "Names of each container in the template.", priority=1)
IMAGES_WIDE = Column("Images", "string", "Images referenced by each container in the template.", priority=1)
