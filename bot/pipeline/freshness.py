"""What a response's headers say about when to ask again: Cache-Control, Expires and
Retry-After, as seconds from the response (its Date header cancels our clock's skew). Pure.

Adaptive intervals (``bot.pipeline.next_check``) take max-age and Expires as lower bounds;
a failed fetch's Retry-After delays the next try.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def _http_date_delta(value: str, headers: Mapping[str, str]) -> float | None:
    """Seconds from the response's Date (or now) until the HTTP-date ``value``; None if invalid."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    # Measuring against the server's own Date header cancels clock skew between us and it.
    if "date" in headers:
        try:
            server_now = parsedate_to_datetime(headers["date"])
            now = server_now if server_now.tzinfo else server_now.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError):
            pass
    return max(0.0, (when - now).total_seconds())


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After as seconds, from either delta-seconds or the HTTP-date form."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    return _http_date_delta(value, headers)


def parse_max_age(headers: Mapping[str, str]) -> float | None:
    """Freshness lifetime from Cache-Control (max-age, no-cache, no-store) or Expires."""
    for directive in headers.get("cache-control", "").lower().split(","):
        name, _, arg = directive.strip().partition("=")
        if name == "max-age" and arg.strip().strip('"').isdigit():
            return float(arg.strip().strip('"'))
        if name in ("no-cache", "no-store"):
            return 0.0
    expires = headers.get("expires")
    if expires is None:
        return None
    # RFC 9111: an invalid Expires (often "0" or "-1") means "already expired".
    delta = _http_date_delta(expires, headers)
    return 0.0 if delta is None else delta
