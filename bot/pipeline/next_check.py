"""When to poll a feed next: interval with jitter, publisher hints, exponential backoff. Pure.

A feed's interval is fixed (what its subscriptions asked for, the shortest one) or ``auto``:
from how often the feed publishes, within ``[bot] min_interval`` … ``max_interval``
(``interval_in_force``). The publishing rate is read from the items' own dates when a feed is
parsed (``estimate_publishing``) and stored on the feed row, so the polls that find nothing
new (most of them) compute the next check from the row alone, with no extra write.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.durations import AUTO_INTERVAL_S
from bot.core.model import ParsedFeed
from bot.store.rows import FeedRow, PublishingSeen

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


DEFAULT_MIN_AUTO_S = 30.0
DEFAULT_MAX_AUTO_S = 3600.0
GAP_SAMPLE = 20  # the newest items' dates that estimate the gap between two items


@dataclass(frozen=True, slots=True)
class Publishing:
    """How often a feed publishes, as last seen: the usual gap between items, the newest one."""

    gap_s: float | None  # None: not known yet (fewer than two dated items, nothing observed)
    newest_at: float | None


@dataclass(frozen=True, slots=True)
class IntervalInForce:
    """The interval a feed is polled at now, and why (what /feed list shows)."""

    seconds: float
    reason: str
    adaptive: bool = True  # False: a fixed interval, which a publisher's max-age may stretch


def estimate_publishing(published: Iterable[float | None], new_items: int, now: float,
                        since: float | None, previous: Publishing) -> Publishing:
    """The publishing rate after a parse: the items' dates, else what this poll observed.

    Dates in the future are read as now (clocks and time zones lie). A feed without dates
    learns from its polls: ``new_items`` appeared since the poll at ``since``.
    """
    dates = sorted((min(d, now) for d in published if d is not None), reverse=True)[:GAP_SAMPLE]
    if len(dates) >= 2 and dates[0] > dates[-1]:
        return Publishing((dates[0] - dates[-1]) / (len(dates) - 1), dates[0])
    if new_items and since is not None and now > since:
        return Publishing(max((now - since) / new_items, 1.0), now)
    newest = dates[0] if dates else previous.newest_at
    return Publishing(previous.gap_s, newest)


def interval_in_force(fixed_s: float | None, auto: bool, publishing: Publishing, now: float,
                      bounds: tuple[float, float], hint_s: float | None = None,
                      pushed: bool = False) -> IntervalInForce:
    """The interval to poll at: the shortest of the fixed one and the auto one.

    Auto: half the expected gap between items, where a feed silent for longer than its usual
    gap is expected to stay silent for a while (the gap grows with the silence), within
    ``bounds``. A publisher's hint (Cache-Control max-age, Expires, RSS ttl) is a lower bound.
    A feed whose hub pushes (WebSub) is polled at the maximum only, as a safety net.
    """
    low, high = bounds
    if pushed:
        return IntervalInForce(high, "WebSub pushes; polled as a safety net")
    choices: list[IntervalInForce] = []
    if fixed_s is not None:
        choices.append(IntervalInForce(fixed_s, "fixed", adaptive=False))
    if auto:
        choices.append(_auto(publishing, now, low, high, hint_s))
    return min(choices, key=lambda c: c.seconds, default=IntervalInForce(high, "auto"))


def _auto(publishing: Publishing, now: float, low: float, high: float,
          hint_s: float | None) -> IntervalInForce:
    if publishing.gap_s is None:
        seconds, reason = high, "auto: no publishing rate seen yet"
    else:
        idle = 0.0 if publishing.newest_at is None else max(now - publishing.newest_at, 0.0)
        expected = max(publishing.gap_s, idle / 2)
        seconds = min(max(expected / 2, low), high)
        reason = f"auto: an item about every {_short(publishing.gap_s)}"
        if idle > publishing.gap_s * 2:
            reason += f", none for {_short(idle)}"
    if hint_s is not None and hint_s > seconds:
        seconds, reason = min(hint_s, high), "auto: the publisher asks for at least this"
    return IntervalInForce(seconds, reason)


def _short(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def feed_interval(feed: FeedRow, now: float, bounds: tuple[float, float],
                  max_age_s: float | None = None,
                  publishing: Publishing | None = None) -> IntervalInForce:
    """The interval in force for ``feed`` (its row, plus this poll's max-age if any)."""
    seen = publishing or Publishing(feed.item_gap_s, feed.newest_item_at)
    hints = [h for h in (max_age_s, feed.ttl_s) if h is not None]
    return interval_in_force(feed.fixed_interval_s, feed.auto_interval, seen, now, bounds,
                             max(hints) if hints else None, pushed(feed, now))


def pushed(feed: FeedRow, now: float) -> bool:
    """Whether a WebSub hub pushes this feed now (an active subscription, lease not over)."""
    return feed.pushed_until is not None and feed.pushed_until > now


def next_check_in_force(now: float, interval: IntervalInForce, max_age_s: float | None,
                        rng: random.Random) -> float:
    """Next poll after a success at the interval in force (a fixed one honours max-age)."""
    if interval.adaptive:  # hints already shaped it
        return now + _jitter(interval.seconds, rng)
    return next_check_after_success(now, interval.seconds, max_age_s, rng)


def schedule_after_parse(feed: FeedRow, parsed: ParsedFeed, now: float,
                         bounds: tuple[float, float], max_age_s: float | None,
                         rng: random.Random) -> tuple[float, PublishingSeen]:
    """The next check after a parsed body, and what to store of its publishing and ttl.

    A parsed body changed since the last poll, so an undated feed counts it as one new item
    since then: a feed that changes at every poll is polled faster, one that rarely does, less.
    """
    return _after_parse(feed.fixed_interval_s, feed.auto_interval, feed.last_success,
                        Publishing(feed.item_gap_s, feed.newest_item_at), parsed, now, bounds,
                        max_age_s, rng, pushed(feed, now))


def first_schedule(interval_s: float, parsed: ParsedFeed, now: float,
                   bounds: tuple[float, float], max_age_s: float | None,
                   rng: random.Random) -> tuple[float, PublishingSeen]:
    """``schedule_after_parse`` for a feed just added at ``interval_s`` (or auto)."""
    auto = interval_s == AUTO_INTERVAL_S
    return _after_parse(None if auto else interval_s, auto, None, Publishing(None, None),
                        parsed, now, bounds, max_age_s, rng)


def _after_parse(fixed_s: float | None, auto: bool, last_success: float | None,
                 previous: Publishing, parsed: ParsedFeed, now: float,
                 bounds: tuple[float, float], max_age_s: float | None,
                 rng: random.Random, is_pushed: bool = False) -> tuple[float, PublishingSeen]:
    dates = (e.published.timestamp() if e.published else None for e in parsed.entries)
    publishing = estimate_publishing(dates, 1, now, last_success, previous)
    hints = [h for h in (max_age_s, parsed.ttl_s) if h is not None]
    interval = interval_in_force(fixed_s, auto, publishing, now, bounds,
                                 max(hints) if hints else None, is_pushed)
    hub = parsed.hub or None  # its topic: the feed's rel="self", else the URL we fetch
    return (next_check_in_force(now, interval, max_age_s, rng),
            PublishingSeen(publishing.gap_s, publishing.newest_at, parsed.ttl_s, hub,
                           (parsed.self_url or None) if hub else None))
