"""HumanDuration / ShortHumanDuration / age, checked against upstream duration.go thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kybernetes.apiserver.printers import age, human_duration, short_human_duration
from kybernetes.apiserver.printers._common import format_rfc3339_utc, parse_time

MIN = 60
HOUR = 60 * MIN
DAY = 24 * HOUR
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (0.9, "0s"),
        (1, "1s"),
        (59, "59s"),
        (60, "60s"),
        (90, "90s"),
        (119, "119s"),
        (119.99, "119s"),
        (2 * MIN, "2m"),
        (2 * MIN + 1, "2m1s"),
        (3 * MIN + 2, "3m2s"),
        (9 * MIN + 59, "9m59s"),
        (10 * MIN, "10m"),
        (10 * MIN + 59, "10m"),
        (179 * MIN + 59, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 30 * MIN, "3h30m"),
        (7 * HOUR + 59 * MIN + 59, "7h59m"),
        (8 * HOUR, "8h"),
        (8 * HOUR + 59 * MIN, "8h"),
        (47 * HOUR + 59 * MIN, "47h"),
        (2 * DAY, "2d"),
        (2 * DAY + 5 * HOUR, "2d5h"),
        (7 * DAY + 23 * HOUR, "7d23h"),
        (8 * DAY, "8d"),
        (12 * DAY + 3 * HOUR, "12d"),
        (729 * DAY, "729d"),
        (2 * YEAR, "2y"),
        (2 * YEAR + 3 * DAY, "2y3d"),
        (7 * YEAR + 364 * DAY, "7y364d"),
        (8 * YEAR, "8y"),
        (10 * YEAR + 100 * DAY, "10y"),
        # up to ~2s of clock skew into the future still reads as now
        (-0.5, "0s"),
        (-1, "0s"),
        (-1.9, "0s"),
        (-2, "<invalid>"),
        (-3600, "<invalid>"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m"),
        (59 * MIN + 59, "59m"),
        (HOUR, "1h"),
        (23 * HOUR + 59 * MIN, "23h"),
        (DAY, "1d"),
        (364 * DAY, "364d"),
        (YEAR, "1y"),
        (3 * YEAR + 100 * DAY, "3y"),
        (-1, "0s"),
        (-2, "<invalid>"),
    ],
)
def test_short_human_duration(seconds: float, expected: str) -> None:
    assert short_human_duration(seconds) == expected


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_age_of_timestamps() -> None:
    assert age("2024-05-01T11:55:00Z", NOW) == "5m"
    assert age("2024-05-01T11:58:30Z", NOW) == "90s"
    assert age("2024-04-29T12:00:00Z", NOW) == "2d"
    # MicroTime and offsets
    assert age("2024-05-01T11:59:00.123456Z", NOW) == "59s"
    assert age("2024-05-01T13:57:00+02:00", NOW) == "3m"
    # future beyond the skew allowance
    assert age("2024-05-01T12:00:05Z", NOW) == "<invalid>"


@pytest.mark.parametrize("value", [None, "", "garbage", 12345, "0001-01-01T00:00:00Z", {"a": 1}])
def test_age_unknown(value: object) -> None:
    assert age(value, NOW) == "<unknown>"


def test_age_defaults_to_wall_clock() -> None:
    ts = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert age(ts) in ("5m", "5m1s")


def test_parse_time_and_default_table_format() -> None:
    assert parse_time("2024-05-01T10:00:00.5Z") == datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert parse_time("2024-05-01T10:00:00-01:30") == datetime(2024, 5, 1, 11, 30, tzinfo=UTC)
    assert parse_time("2024-13-01T10:00:00Z") is None
    assert format_rfc3339_utc("2024-05-01T10:00:00.123Z") == "2024-05-01T10:00:00Z"
    assert format_rfc3339_utc("2024-05-01T12:00:00+02:00") == "2024-05-01T10:00:00Z"
    assert format_rfc3339_utc(None) == "0001-01-01T00:00:00Z"
