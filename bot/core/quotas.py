"""Per-guild quotas (``[bot] max_feeds_per_guild``, ``max_watches_per_guild``). Pure.

Counted from the store's existing reads of one guild; config-file feeds and watches belong to
no guild and never count. Two commands racing in one guild may each pass the check and end one
over the limit: a quota bounds growth, it is not a lock.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["feed", "watch"]
_PLURAL = {"feed": "feeds", "watch": "watches"}


def quota_error(kind: Kind, count: int, limit: int) -> str | None:
    """The message refusing one more ``kind`` for a guild that has ``count``; None if it fits."""
    if count < limit:
        return None
    plural = _PLURAL[kind]
    noun = kind if count == 1 else plural
    return (f"This server has {count} {noun}; the limit is {limit} "
            f"(`max_{plural}_per_guild` in the bot's config). "
            f"Remove one with `/{kind} remove` first, or ask the bot's operator.")
