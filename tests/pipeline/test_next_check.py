"""When a feed is polled next: interval with jitter, publisher hints within bounds, backoff."""

from __future__ import annotations

import random

import pytest

from bot.pipeline.next_check import (
    MAX_BACKOFF_S,
    MAX_HINT_S,
    next_check_after_failure,
    next_check_after_success,
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
