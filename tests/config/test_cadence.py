"""Digest periods and quiet hours: table-driven, including DST days in Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config.cadence import (
    Cadence,
    hold_until,
    in_quiet_hours,
    make_cadence,
    parse_deliver,
    parse_quiet,
    period_end,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("instant", "instant"), ("Hourly", "hourly"), (" daily 8:05 ", "daily 08:05"),
    ("daily   23:59", "daily 23:59"), ("DAILY 00:00", "daily 00:00"),
])
def test_deliver_is_normalised(text: str, expected: str) -> None:
    assert parse_deliver(text) == expected


@pytest.mark.parametrize("text", ["weekly", "daily", "daily 24:00", "daily 7:60", "daily 7h",
                                  "hourly 5", ""])
def test_bad_deliver_names_the_key(text: str) -> None:
    with pytest.raises(ValueError, match=r"^deliver: "):
        parse_deliver(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("22:00-07:00", "22:00-07:00"), ("9:00 - 17:30", "09:00-17:30"),
])
def test_quiet_is_normalised(text: str, expected: str) -> None:
    assert parse_quiet(text) == expected


@pytest.mark.parametrize("text", ["22:00", "22-07", "25:00-07:00", "07:00-07:00", "a-b"])
def test_bad_quiet_names_the_key(text: str) -> None:
    with pytest.raises(ValueError, match=r"^quiet: "):
        parse_quiet(text)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"timezone": "Mars/Olympus"}, "^timezone: unknown time zone 'Mars/Olympus'"),
    ({"timezone": "../etc/passwd"}, "^timezone: "),
    ({"urgent": "(unclosed"}, "^urgent: invalid query"),
    ({"urgent": 'quake OR about:"earthquakes"'}, "^urgent: about: terms are not supported"),
    ({"deliver": "fortnightly"}, "^deliver: "),
])
def test_make_cadence_errors_name_the_key(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_cadence(**kwargs)


# (deliver, timezone, matched at UTC, period end UTC)
PERIODS = [
    ("hourly", "UTC", "2026-11-29 16:59:30", "2026-11-29 17:00:00"),
    ("hourly", "UTC", "2026-11-29 17:00:00", "2026-11-29 18:00:00"),  # on the boundary: next
    ("hourly", "Asia/Kolkata", "2026-11-29 16:59:30", "2026-11-29 17:30:00"),  # +05:30
    ("daily 08:00", "UTC", "2026-11-29 08:00:01", "2026-11-30 08:00:00"),
    ("daily 08:00", "Europe/Berlin", "2026-11-29 06:00:00", "2026-11-29 07:00:00"),  # CET
    ("daily 08:00", "Europe/Berlin", "2026-07-01 05:00:00", "2026-07-01 06:00:00"),  # CEST
    # Spring forward (29 March 2026, 02:00 → 03:00 in Berlin): hours stay real hours, a
    # daily time inside the gap fires after it, and the day is 23 hours long.
    ("hourly", "Europe/Berlin", "2026-03-29 00:30:00", "2026-03-29 01:00:00"),
    ("daily 02:30", "Europe/Berlin", "2026-03-28 12:00:00", "2026-03-29 01:30:00"),
    ("daily 08:00", "Europe/Berlin", "2026-03-28 08:00:00", "2026-03-29 06:00:00"),
    # Fall back (25 October 2026, 03:00 → 02:00): both 02:30s are distinct hourly periods.
    ("hourly", "Europe/Berlin", "2026-10-25 00:30:00", "2026-10-25 01:00:00"),
    ("hourly", "Europe/Berlin", "2026-10-25 01:30:00", "2026-10-25 02:00:00"),
    ("daily 08:00", "Europe/Berlin", "2026-10-24 07:00:00", "2026-10-25 07:00:00"),
    ("instant", "UTC", "2026-11-29 16:59:30", None),
]


@pytest.mark.parametrize(("deliver", "tz", "when", "end"), PERIODS)
def test_period_end(deliver: str, tz: str, when: str, end: str | None) -> None:
    cadence = make_cadence(deliver=deliver, timezone=tz)
    assert period_end(cadence, utc(when)) == (utc(end) if end else None)


QUIET = make_cadence(quiet="22:00-07:00", timezone="Europe/Berlin")


@pytest.mark.parametrize(("when", "quiet"), [
    ("2026-11-29 20:59:59", False),  # 21:59:59 CET
    ("2026-11-29 21:00:00", True),  # 22:00 CET: the start is inside
    ("2026-11-30 05:59:59", True),
    ("2026-11-30 06:00:00", False),  # 07:00 CET: the end is outside
    ("2026-07-01 20:30:00", True),  # 22:30 CEST
])
def test_quiet_window_wraps_midnight_in_local_time(when: str, quiet: bool) -> None:
    assert in_quiet_hours(QUIET, utc(when)) is quiet


# (cadence, matched at UTC, urgent, held until UTC or None = now)
HOLDS = [
    (Cadence(), "2026-11-29 23:00:00", False, None),
    (QUIET, "2026-11-29 12:00:00", False, None),  # instant outside quiet hours
    (QUIET, "2026-11-29 22:00:00", False, "2026-11-30 06:00:00"),  # 07:00 CET
    (QUIET, "2026-11-29 22:00:00", True, None),  # urgent goes now
    (make_cadence(deliver="hourly", quiet="22:00-07:00"), "2026-11-29 20:30:00", False,
     "2026-11-29 21:00:00"),
    # The 22:00 boundary is in quiet hours: held to 07:00, one digest for the night.
    (make_cadence(deliver="hourly", quiet="22:00-07:00"), "2026-11-29 21:30:00", False,
     "2026-11-30 07:00:00"),
    (make_cadence(deliver="hourly", quiet="22:00-07:00"), "2026-11-30 03:00:00", False,
     "2026-11-30 07:00:00"),
    (make_cadence(deliver="daily 06:00", quiet="22:00-07:00"), "2026-11-29 23:00:00", False,
     "2026-11-30 07:00:00"),
    (make_cadence(deliver="daily 08:00", quiet="22:00-07:00"), "2026-11-29 23:00:00", False,
     "2026-11-30 08:00:00"),
    (make_cadence(deliver="daily 23:00", quiet="22:00-07:00"), "2026-11-29 12:00:00", False,
     "2026-11-30 07:00:00"),
    (make_cadence(deliver="hourly"), "2026-11-29 16:59:30", True, None),
]


@pytest.mark.parametrize(("cadence", "when", "urgent", "until"), HOLDS)
def test_hold_until(cadence: Cadence, when: str, urgent: bool, until: str | None) -> None:
    assert hold_until(cadence, utc(when), urgent=urgent) == (utc(until) if until else None)


def test_describe() -> None:
    assert Cadence().describe() == "instant"
    cadence = make_cadence(deliver="daily 8:00", timezone="Europe/Berlin", quiet="22:00-07:00",
                           urgent="earthquake")
    assert cadence.describe() == ("daily 08:00 Europe/Berlin, quiet 22:00-07:00, "
                                  "urgent: earthquake")
