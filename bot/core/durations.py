"""Human durations such as "30s", "5m", "1h30m"."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in ``text`` ("90s", "5m", "1h30m"); ValueError if malformed."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        raise ValueError('empty duration; write e.g. "30s", "5m" or "1h"')
    position = 0
    total = 0.0
    for part in _PART.finditer(cleaned):
        if part.start() != position:
            break
        total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        position = part.end()
    if position != len(cleaned):
        raise ValueError(f"bad duration {text!r}; write e.g. \"30s\", \"5m\" or \"1h\"")
    return total


def format_duration(seconds: float) -> str:
    """Render seconds compactly ("2m", "1h30m", "45s")."""
    remaining = round(seconds)
    if remaining <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# A feed's interval "auto": from how often it publishes (bot.pipeline.next_check). Stored as 0,
# which no real interval is (the shortest is 1s).
AUTO_INTERVAL_S = 0.0
AUTO = "auto"


def parse_feed_interval(text: str) -> float:
    """A feed interval: a duration, or "auto" (``AUTO_INTERVAL_S``); ValueError if malformed."""
    if text.strip().lower() == AUTO:
        return AUTO_INTERVAL_S
    return parse_duration(text)


def format_feed_interval(seconds: float) -> str:
    """A feed interval as written: "auto" or a duration such as "5m"."""
    return AUTO if seconds == AUTO_INTERVAL_S else format_duration(seconds)
