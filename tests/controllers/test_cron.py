"""Cron schedules: fields, names, macros, zones, DST and the day-of-month/day-of-week rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kybernetes.controllers.cron import CronError, FakeClock, parse


def at(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("spec", "after", "want"),
    [
        ("*/15 * * * *", at(2024, 1, 1, 0, 7), at(2024, 1, 1, 0, 15)),
        ("@hourly", at(2024, 1, 1, 0, 0), at(2024, 1, 1, 1, 0)),
        ("@daily", at(2024, 1, 1, 0, 0), at(2024, 1, 2, 0, 0)),
        ("@weekly", at(2024, 1, 1), at(2024, 1, 7)),  # Sunday
        ("@monthly", at(2024, 1, 15), at(2024, 2, 1)),
        ("@yearly", at(2024, 6, 1), at(2025, 1, 1)),
        ("30 9-17/4 * * MON-FRI", at(2024, 1, 6), at(2024, 1, 8, 9, 30)),
        ("0 0 29 FEB *", at(2024, 3, 1), at(2028, 2, 29)),
        ("0 0 13 * 5", at(2024, 1, 1), at(2024, 1, 5)),  # dom OR dow when both are restricted
        ("0 0 13 * *", at(2024, 1, 1), at(2024, 1, 13)),
        ("0 0 * * 7", at(2024, 1, 1), at(2024, 1, 7)),  # 7 is Sunday
        ("5 4 * * sun", at(2024, 1, 7, 4, 5), at(2024, 1, 14, 4, 5)),  # strictly after
    ],
)
def test_next(spec: str, after: datetime, want: datetime) -> None:
    assert parse(spec).next(after) == want


def test_time_zones_prefix_and_override() -> None:
    s = parse("CRON_TZ=America/New_York 0 9 * * *")
    nxt = s.next(at(2024, 1, 1, 12, 0))
    assert nxt is not None and nxt.astimezone(UTC) == at(2024, 1, 1, 14, 0)
    assert parse("TZ=Asia/Tokyo 0 0 * * *").next(at(2024, 1, 1, 12)) == at(2024, 1, 1, 15)
    from zoneinfo import ZoneInfo

    assert parse("0 0 * * *").next(at(2024, 1, 1, 12), ZoneInfo("Asia/Tokyo")) == at(2024, 1, 1, 15)


def test_dst_gap_is_skipped() -> None:
    s = parse("CRON_TZ=Europe/Berlin 30 2 * * *")
    nxt = s.next(at(2024, 3, 30, 12, 0))  # 2024-03-31 02:30 does not exist in Berlin
    assert nxt is not None and nxt.astimezone(UTC) == at(2024, 4, 1, 0, 30)


@pytest.mark.parametrize("spec", ["* * * *", "61 * * * *", "@sometimes", "*/0 * * * *", "TZ=Nowhere/City * * * * *", "x * * * *"])
def test_invalid(spec: str) -> None:
    with pytest.raises(CronError):
        parse(spec)


def test_fake_clock_notifies() -> None:
    seen: list[datetime] = []
    c = FakeClock(at(2024, 1, 1))
    c.listeners.append(lambda: seen.append(c.now()))
    c.advance(timedelta(minutes=5))
    assert seen == [at(2024, 1, 1, 0, 5)]
