"""Compile user regexes with RE2 (linear time) and turn its refusals into clear QueryErrors."""

from __future__ import annotations

from typing import Any

import re2

from bot.core.errors import QueryError

__all__ = ["compile_regex", "regex_options"]

_BACKREFERENCE_HINTS = (*(f"\\{d}" for d in range(1, 10)), "\\k", "(?P=")
_LOOKAROUND_HINTS = ("(?=", "(?!", "(?<=", "(?<!")


def regex_options() -> Any:
    """RE2 options for user patterns: UTF-8, no logging of refused patterns to stderr."""
    options = re2.Options()
    options.log_errors = False
    return options


def compile_regex(pattern: str, ignore_case: bool, position: int) -> tuple[str, Any]:
    """Return (effective pattern, compiled RE2) for ``/pattern/`` at ``position`` in the query.

    The effective pattern carries ``(?i)`` for ``/…/i`` so that the single regex and an RE2
    set built from the same strings behave identically. Backreferences and look-around are
    refused with a message that says why (RE2 guarantees linear time by not having them).
    """
    key = f"(?i){pattern}" if ignore_case else pattern
    try:
        compiled = re2.compile(pattern, regex_options())  # the user's text alone must be valid
        if ignore_case:
            compiled = re2.compile(key, regex_options())
    except re2.error as exc:
        raise _explain(pattern, exc, position) from None
    return key, compiled


def _explain(pattern: str, exc: Exception, position: int) -> QueryError:
    """Map an RE2 error to a QueryError pointing into the query (``position`` is the '/')."""
    detail = exc.args[0] if exc.args else "invalid pattern"
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    detail = str(detail)
    # RE2 reports "problem: offending text"; locate that text inside the pattern.
    offending = detail.partition(": ")[2]
    if offending.startswith("(?P") and "(?P=" in pattern:
        offending = "(?P="  # RE2 names only "(?P"; the named backreference is the culprit
    offset = pattern.find(offending) if offending else -1
    where = position + 1 + offset if offset >= 0 else position
    lowered = offending[:4]
    if any(lowered.startswith(hint) for hint in _BACKREFERENCE_HINTS):
        return QueryError("regex backreferences are not supported (RE2 runs in linear time)", where)
    if any(lowered.startswith(hint) for hint in _LOOKAROUND_HINTS):
        return QueryError(
            "regex look-around (?= ?! ?<= ?<!) is not supported (RE2 runs in linear time)", where
        )
    return QueryError(f"invalid regex: {detail}", where)
