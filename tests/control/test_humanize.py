"""Durations in days and times with their zone, as carpctl writes and reads them."""

from __future__ import annotations

import math
from datetime import UTC, timedelta, timezone

import pytest

from carpd.control.humanize import duration_text, local_time, parse_duration

CET = timezone(timedelta(hours=1), "CET")


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (42.9, "42s"), (60, "1m"), (306, "5m 6s"), (3600, "1h"), (14700, "4h 5m"),
    (86400, "1d"), (3 * 86400 + 4 * 3600 + 59, "3d 4h"), (3 * 86400 + 300, "3d"),
    (400 * 86400, "400d"), (-5, "0s"), (math.inf, "an unknown time"),
])
def test_duration_text_uses_days(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("3d", 259200),
    ("3d 4h", 273600), ("1d12h30m", 131400), (" 2d 1m 5s ", 172865),
])
def test_parse_duration_takes_days(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0d", "5x", "m", "-3s", "4h 3d", "1w"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_local_time_writes_the_zone() -> None:
    iso = "2026-12-01T15:48:52.123+00:00"
    assert local_time(iso, CET) == "2026-12-01 16:48:52 CET"
    assert local_time(iso, UTC) == "2026-12-01 15:48:52 UTC"
    assert local_time(iso, timezone(timedelta(hours=5, minutes=30))) == (
        "2026-12-01 21:18:52 UTC+05:30")  # a zone without a name: its offset
    assert local_time(None) == "-" and local_time("soon") == "soon"
