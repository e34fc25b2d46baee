"""When a watch's matches go out: instantly, in hourly or daily digests, held in quiet hours (pure).

A watch's cadence is four settings, validated here once (config file and slash commands alike):

    deliver  = "instant" (default) | "hourly" | "daily HH:MM"
    timezone = "Europe/Berlin"    (default "UTC"; any IANA name zoneinfo knows)
    quiet    = "22:00-07:00"      (matches in that window are held until it ends)
    urgent   = QUERY              (matches of this query go out instantly even when held)

``hold_until(cadence, matched_at)`` decides: ``None`` means send now, else the UTC instant the
match is held until. Every match of one watch held until the same instant forms one digest,
so ``(watch, hold_until)`` names the digest period. Boundaries come from APScheduler's cron
triggers in the watch's zone, so DST days are handled by zoneinfo, not by our arithmetic: an
hourly digest fires on every real hour; a daily time that does not exist on a spring-forward
day fires just after the gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from bot.core.errors import QueryError
from bot.query.ast import abouts
from bot.query.parser import parse as parse_query

INSTANT, HOURLY, DAILY = "instant", "hourly", "daily"
_DAILY = re.compile(r"^daily\s+(\d{1,2}):(\d{2})$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
# Cron triggers round up to whole seconds; a match exactly on a boundary belongs to the next
# period, because the digest of the period that just ended may already be on its way.
_AFTER = timedelta(microseconds=1)


class CadenceError(ValueError):
    """A bad setting; ``key`` names it and ``reason`` says what is wrong."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Cadence:
    """A watch's validated delivery settings; the default sends everything instantly."""

    deliver: str = INSTANT
    timezone: str = "UTC"
    quiet: str | None = None
    urgent: str | None = None

    @property
    def holds(self) -> bool:
        """Whether any match may be held (a digest or quiet hours)."""
        return self.deliver != INSTANT or self.quiet is not None

    def describe(self) -> str:
        """A short human summary, e.g. ``daily 08:00 Europe/Berlin, quiet 22:00-07:00``."""
        parts = [self.deliver if self.deliver == INSTANT and not self.quiet
                 else f"{self.deliver} {self.timezone}"]
        if self.quiet:
            parts.append(f"quiet {self.quiet}")
        if self.urgent:
            parts.append(f"urgent: {self.urgent}")
        return ", ".join(parts)


SEND_NOW = Cadence()  # the default: every match goes out as it is found


def _clock(text: str, what: str) -> time:
    found = _CLOCK.match(text.strip())
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        raise CadenceError(what, f"expected a time HH:MM between 00:00 and 23:59, got {text!r}")
    return time(int(found[1]), int(found[2]))


def parse_deliver(text: str) -> str:
    """Normalise ``deliver``: ``instant``, ``hourly`` or ``daily HH:MM``; CadenceError otherwise."""
    value = " ".join(text.strip().lower().split())
    if value in (INSTANT, HOURLY):
        return value
    found = _DAILY.match(value)
    if found:
        at = _clock(f"{found[1]}:{found[2]}", "deliver")
        return f"{DAILY} {at:%H:%M}"
    raise CadenceError("deliver", f'expected "instant", "hourly" or "daily HH:MM", got {text!r}')


def parse_quiet(text: str) -> str:
    """Normalise ``quiet``: ``HH:MM-HH:MM`` (may wrap midnight); CadenceError otherwise."""
    start, dash, end = text.partition("-")
    if not dash:
        raise CadenceError("quiet", f'expected a window such as "22:00-07:00", got {text!r}')
    begin, finish = _clock(start, "quiet"), _clock(end, "quiet")
    if begin == finish:
        raise CadenceError("quiet", f"the window {text!r} is empty (start equals end)")
    return f"{begin:%H:%M}-{finish:%H:%M}"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; CadenceError naming it when zoneinfo does not know it."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise CadenceError("timezone", f'unknown time zone {name!r} (use an IANA name such '
                           f'as "Europe/Berlin" or "UTC")') from None


def make_cadence(deliver: str | None = None, timezone: str | None = None,
                 quiet: str | None = None, urgent: str | None = None) -> Cadence:
    """Validate and normalise all four settings; CadenceError naming the key that is wrong."""
    tz_name = (timezone or "UTC").strip()
    zone(tz_name)
    if urgent is not None:
        try:
            node = parse_query(urgent)
        except QueryError as exc:
            raise CadenceError("urgent", f"invalid query: {exc}") from None
        if abouts(node):  # held matches are re-checked without their vectors
            raise CadenceError("urgent", "about: terms are not supported in urgent; use words")
    return Cadence(deliver=parse_deliver(deliver or INSTANT), timezone=tz_name,
                   quiet=parse_quiet(quiet) if quiet else None, urgent=urgent or None)


def _next_fire(trigger: CronTrigger, after: datetime) -> datetime:
    fire: datetime = trigger.get_next_fire_time(None, after + _AFTER)
    return fire.astimezone(UTC)


def period_end(cadence: Cadence, when: datetime) -> datetime | None:
    """The end of the digest period ``when`` falls in (UTC), or None for instant delivery."""
    tz = zone(cadence.timezone)
    if cadence.deliver == HOURLY:
        return _next_fire(CronTrigger(minute=0, timezone=tz), when)
    if cadence.deliver.startswith(DAILY):
        at = _clock(cadence.deliver.split()[1], "deliver")
        return _next_fire(CronTrigger(hour=at.hour, minute=at.minute, timezone=tz), when)
    return None


def _window(cadence: Cadence) -> tuple[time, time] | None:
    if cadence.quiet is None:
        return None
    start, _, end = cadence.quiet.partition("-")
    return _clock(start, "quiet"), _clock(end, "quiet")


def in_quiet_hours(cadence: Cadence, when: datetime) -> bool:
    """Whether ``when`` is inside the quiet window on the watch's local wall clock."""
    window = _window(cadence)
    if window is None:
        return False
    start, end = window
    local = when.astimezone(zone(cadence.timezone)).time()
    return start <= local < end if start < end else (local >= start or local < end)


def quiet_end(cadence: Cadence, when: datetime) -> datetime | None:
    """When the quiet window containing ``when`` ends (UTC), or None when not in one."""
    window = _window(cadence)
    if window is None or not in_quiet_hours(cadence, when):
        return None
    end = window[1]
    trigger = CronTrigger(hour=end.hour, minute=end.minute, timezone=zone(cadence.timezone))
    return _next_fire(trigger, when)


def hold_until(cadence: Cadence, when: datetime, *, urgent: bool = False) -> datetime | None:
    """Send now (None), or the UTC instant a match made at ``when`` is held until.

    An urgent match always goes now. A digest boundary that falls in quiet hours moves to
    the end of that quiet window, so the night's matches arrive as one digest.
    """
    if urgent or not cadence.holds:
        return None
    held = quiet_end(cadence, when)
    boundary = period_end(cadence, when)
    if boundary is None:
        return held
    if held is not None:
        boundary = max(boundary, held)
    return quiet_end(cadence, boundary) or boundary
