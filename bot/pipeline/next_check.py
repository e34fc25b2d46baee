"""When to poll a feed next: interval with jitter, publisher hints, exponential backoff. Pure."""

from __future__ import annotations

import random

JITTER_FRACTION = 0.1
MAX_HINT_S = 300.0          # a publisher's max-age may stretch an interval to 5 minutes at most
MAX_BACKOFF_S = 6 * 3600.0  # a failing feed is still tried every 6 hours
MAX_RETRY_AFTER_S = 24 * 3600.0
PAUSE_AFTER_FAILURES = 10    # consecutive failures before a feed is paused and its guilds told
PAUSED_PROBE_S = 24 * 3600.0  # a paused feed is still tried daily; a success resumes it


def _jitter(delay: float, rng: random.Random) -> float:
    # Spread polls so feeds added together do not hit their hosts in lock-step.
    return delay * (1 + rng.uniform(-JITTER_FRACTION, JITTER_FRACTION))


def next_check_after_success(now: float, interval_s: float, max_age_s: float | None,
                             rng: random.Random) -> float:
    """Next poll after a success: the interval, stretched to honour Cache-Control within bounds."""
    delay = interval_s
    if max_age_s is not None and max_age_s > delay:
        delay = min(max_age_s, max(interval_s, MAX_HINT_S))
    return now + _jitter(delay, rng)


def next_check_after_failure(now: float, interval_s: float, error_count: int,
                             retry_after_s: float | None, rng: random.Random) -> float:
    """Next poll after the ``error_count``-th consecutive failure: exponential backoff."""
    base = max(interval_s, 30.0)
    delay = _jitter(min(base * 2 ** max(error_count - 1, 0), max(MAX_BACKOFF_S, interval_s)), rng)
    if retry_after_s is not None:
        # The publisher named a time: never earlier than that.
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return now + delay
