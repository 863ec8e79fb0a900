"""Cron schedules as CronJobs write them (robfig/cron's standard parser, which Kubernetes uses), and clocks.

Five fields (minute hour day-of-month month day-of-week) with lists, ranges, steps and month/day names; the
macros @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly; an optional `CRON_TZ=Zone ` (or `TZ=Zone `)
prefix. Day-of-month and day-of-week are ORed when both are restricted, ANDed when either is `*`. Times are
computed in the schedule's zone with zoneinfo, so a 02:30 schedule skips the day a DST gap swallows it.

`Clock` is injectable: the CronJob controller asks a clock for "now", and tests drive a `FakeClock` instead of
waiting for real minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
HORIZON_YEARS = 5


class CronError(ValueError):
    pass


def _value(tok: str, names: dict[str, int]) -> int:
    low = tok.lower()
    if low in names:
        return names[low]
    try:
        return int(tok)
    except ValueError:
        raise CronError(f"failed to parse int from {tok}") from None


def _field(expr: str, lo: int, hi: int, names: dict[str, int] | None = None) -> tuple[frozenset[int], bool]:
    """The values one field allows, and whether it was a star (matters for day-of-month/day-of-week)."""
    names = names or {}
    out: set[int] = set()
    star = False
    for part in expr.split(","):
        rng, _, step_s = part.partition("/")
        step = 1
        if step_s:
            try:
                step = int(step_s)
            except ValueError:
                raise CronError(f"failed to parse int from {step_s}") from None
            if step <= 0:
                raise CronError(f"step of range should be a positive number: {part}")
        if rng in ("*", "?"):
            a, b = lo, hi
            star = not step_s
        elif "-" in rng:
            x, _, y = rng.partition("-")
            a, b = _value(x, names), _value(y, names)
        else:
            a = _value(rng, names)
            b = hi if step_s else a
        if a < lo or b > hi or a > b:
            raise CronError(f"end of range ({b}) above maximum ({hi}): {part}" if b > hi else f"invalid range: {part}")
        out.update(range(a, b + 1, step))
    return frozenset(out), star


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: frozenset[int]
    months: frozenset[int]
    dow: frozenset[int]
    dom_star: bool
    dow_star: bool
    tz: ZoneInfo | None

    def _day_matches(self, d: datetime) -> bool:
        dom_ok = d.day in self.dom
        dow_ok = (d.isoweekday() % 7) in self.dow
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def next(self, after: datetime, tz: ZoneInfo | None = None) -> datetime | None:
        """The first scheduled time strictly after `after` (aware), or None within the horizon."""
        zone = tz or self.tz or ZoneInfo("UTC")
        t = after.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        end = t.replace(year=t.year + HORIZON_YEARS)
        while t < end:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += timedelta(minutes=1)
                continue
            aware = t.replace(tzinfo=zone)
            if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != t:
                t += timedelta(minutes=1)  # swallowed by a DST gap
                continue
            if aware <= after:
                t += timedelta(minutes=1)
                continue
            return aware
        return None


def parse(spec: str) -> Schedule:
    s = spec.strip()
    tz: ZoneInfo | None = None
    if s.startswith(("CRON_TZ=", "TZ=")):
        head, _, s = s.partition(" ")
        name = head.split("=", 1)[1]
        try:
            tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise CronError(f"provided bad location {name}: unknown time zone {name}") from None
        s = s.strip()
    if s.startswith("@"):
        if s not in MACROS:
            raise CronError(f"unrecognized descriptor: {s}")
        s = MACROS[s]
    fields = s.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {spec}")
    minutes, _ = _field(fields[0], 0, 59)
    hours, _ = _field(fields[1], 0, 23)
    dom, dom_star = _field(fields[2], 1, 31)
    months, _ = _field(fields[3], 1, 12, MONTHS)
    dow7, dow_star = _field(fields[4], 0, 7, DAYS)
    dow = frozenset(0 if d == 7 else d for d in dow7)  # 7 is Sunday too
    return Schedule(minutes, hours, dom, months, dow, dom_star, dow_star, tz)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock tests move by hand; listeners run after every move (the CronJob controller resyncs)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self.listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self._now

    def set(self, t: datetime) -> None:
        self._now = t
        for fn in list(self.listeners):
            fn()

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)
