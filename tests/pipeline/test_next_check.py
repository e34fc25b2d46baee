"""When a feed is polled next: interval with jitter, publisher hints within bounds, backoff."""

from __future__ import annotations

import random

import pytest

from bot.pipeline.next_check import (
    MAX_BACKOFF_S,
    MAX_HINT_S,
    Publishing,
    estimate_publishing,
    interval_in_force,
    next_check_after_failure,
    next_check_after_success,
    next_check_in_force,
)

NOW = 1_000_000.0


@pytest.mark.parametrize(("interval", "max_age", "low", "high"), [
    (60, None, 54, 66),                    # the interval, ±10 % jitter
    (60, 30, 54, 66),                      # a shorter max-age never speeds us up
    (60, 120, 108, 132),                   # a longer one stretches the interval…
    (60, 86400, MAX_HINT_S * 0.9, MAX_HINT_S * 1.1),  # …but only up to the bound
    (3600, 86400, 3240, 3960),             # a long interval is never shortened by the bound
])
def test_success_schedule(interval: float, max_age: float | None, low: float,
                          high: float) -> None:
    rng = random.Random(7)
    for _ in range(50):
        delay = next_check_after_success(NOW, interval, max_age, rng) - NOW
        assert low <= delay <= high


def test_failures_back_off_exponentially_up_to_a_cap() -> None:
    rng = random.Random(7)
    delays = [next_check_after_failure(NOW, 60, n, None, rng) - NOW for n in range(1, 12)]
    assert delays[0] < 70 and delays[1] > 100 and delays[2] > 200
    assert max(delays) <= MAX_BACKOFF_S * 1.1


def test_retry_after_is_a_floor_never_shortened_by_jitter() -> None:
    rng = random.Random(7)
    for _ in range(50):
        assert next_check_after_failure(NOW, 60, 1, 3600, rng) >= NOW + 3600


# --- adaptive intervals (issue 24) ------------------------------------------------------------

BOUNDS = (30.0, 3600.0)


@pytest.mark.parametrize(("dates", "new", "since", "previous", "expected"), [
    # Dated items: the mean gap over the newest ones, and the newest date.
    ([NOW - 30 * i for i in range(10)], 1, None, Publishing(None, None), Publishing(30, NOW)),
    # Future dates are read as now; undated items are ignored.
    ([NOW + 500, NOW - 60, None], 1, None, Publishing(None, None), Publishing(60, NOW)),
    # Undated: one changed body since the last poll is one item in that time.
    ([None, None], 1, NOW - 300, Publishing(None, None), Publishing(300, NOW)),
    # Nothing to learn from: keep what was known.
    ([], 0, None, Publishing(120, NOW - 10), Publishing(120, NOW - 10)),
    # A single dated item moves the newest date only.
    ([NOW - 5], 0, None, Publishing(120, NOW - 100), Publishing(120, NOW - 5)),
])
def test_estimate_publishing(dates: list[float | None], new: int, since: float | None,
                             previous: Publishing, expected: Publishing) -> None:
    assert estimate_publishing(dates, new, NOW, since, previous) == expected


@pytest.mark.parametrize(("fixed", "auto", "seen", "hint", "pushed", "seconds", "reason"), [
    (60.0, False, Publishing(None, None), None, False, 60, "fixed"),
    # Every 30 s: half the gap, floored at min_interval.
    (None, True, Publishing(30, NOW), None, False, 30, "auto: an item about every 30s"),
    (None, True, Publishing(600, NOW - 60), None, False, 300, "auto: an item about every 10m"),
    # Silent for a day after a 10-minute habit: the wait grows to the maximum.
    (None, True, Publishing(600, NOW - 86400), None, False, 3600, "none for 1d"),
    # Nothing known yet: the maximum (the first poll's dates usually tell at once).
    (None, True, Publishing(None, None), None, False, 3600, "no publishing rate"),
    # A publisher's ttl or max-age is a lower bound, capped at the maximum.
    (None, True, Publishing(30, NOW), 900.0, False, 900, "publisher asks"),
    (None, True, Publishing(30, NOW), 86400.0, False, 3600, "publisher asks"),
    # Fixed and auto subscriptions to one URL: the shorter wins.
    (120.0, True, Publishing(30, NOW), None, False, 30, "auto"),
    (45.0, True, Publishing(600, NOW), None, False, 45, "fixed"),
    # A hub that pushes: the maximum, as a safety net, whatever was asked.
    (60.0, True, Publishing(30, NOW), None, True, 3600, "WebSub"),
])
def test_interval_in_force(fixed: float | None, auto: bool, seen: Publishing,
                           hint: float | None, pushed: bool, seconds: float,
                           reason: str) -> None:
    force = interval_in_force(fixed, auto, seen, NOW, BOUNDS, hint, pushed)
    assert force.seconds == pytest.approx(seconds)
    assert reason in force.reason


def test_an_auto_interval_is_jittered_but_not_stretched_again() -> None:
    rng = random.Random(3)
    force = interval_in_force(None, True, Publishing(30, NOW), NOW, BOUNDS, 900.0)
    delays = [next_check_in_force(NOW, force, 900.0, rng) - NOW for _ in range(50)]
    assert min(delays) >= 810 and max(delays) <= 990
