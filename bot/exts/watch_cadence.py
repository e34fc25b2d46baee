"""The delivery options of /watch add and /watch set: deliver, timezone, quiet, urgent."""

from __future__ import annotations

import functools
import zoneinfo

from discord import app_commands

from bot.config.cadence import Cadence, CadenceError, make_cadence
from bot.exts.common import UserError, choices

# What /watch set accepts to clear quiet hours or the urgent query.
CLEAR = frozenset({"off", "none", "-"})
DESCRIPTIONS = {
    "deliver": 'When alerts go out: "instant", "hourly" or "daily 08:00"',
    "timezone": 'Time zone of digest times and quiet hours, e.g. "Europe/Berlin"',
    "quiet": 'Hold alerts in these hours, e.g. "22:00-07:00" ("off" to clear)',
    "urgent": 'A query whose matches always go out at once ("off" to clear)',
}


def cadence_from_options(current: Cadence, *, deliver: str | None = None,
                         timezone: str | None = None, quiet: str | None = None,
                         urgent: str | None = None) -> Cadence:
    """``current`` with the options given changed; UserError naming a bad option."""
    def keep_or_clear(new: str | None, old: str | None) -> str | None:
        if new is None:
            return old
        return None if new.strip().lower() in CLEAR else new

    try:
        return make_cadence(deliver if deliver is not None else current.deliver,
                            timezone if timezone is not None else current.timezone,
                            keep_or_clear(quiet, current.quiet),
                            keep_or_clear(urgent, current.urgent))
    except CadenceError as exc:
        raise UserError(f"Option `{exc.key}`: {exc.reason}") from None


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


async def timezone_choices(_interaction: object, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for the timezone option: IANA names containing what was typed."""
    return choices(_zones(), current)
