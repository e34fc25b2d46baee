"""``/watch test`` for about: watches (issue 23): scores, and the items nearest the threshold.

Plain functions over stored items: the cog in ``bot.exts.watches`` calls them.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.exts.common import plain
from bot.pipeline.match import CompiledQuery
from bot.query.ast import abouts
from bot.query.semantic import Meaning
from bot.store.rows import StoredItem

__all__ = ["near_threshold_lines"]

PER_SIDE = 3


def near_threshold_lines(compiled: CompiledQuery, items: Sequence[StoredItem],
                         meanings: Sequence[Meaning | None]) -> list[str]:
    """For each about: term, the items just above and just below its threshold, with scores,
    so a sensitivity can be tuned in one look; and how many items had no vector."""
    lines: list[str] = []
    for term in dict.fromkeys((a.topic, a.level) for a in abouts(compiled.node)):
        topic, level = term
        scored = [(score, item) for item, meaning in zip(items, meanings, strict=True)
                  if meaning is not None and (score := meaning.score(topic)) is not None]
        above = sorted((s for s in scored if s[0] >= level), key=lambda s: s[0])[:PER_SIDE]
        below = sorted((s for s in scored if s[0] < level), key=lambda s: -s[0])[:PER_SIDE]
        lines.append(f"**about: {plain(topic, 100)}** — threshold {level:.2f}; nearest "
                     f"items ({len(scored)} scored):")
        lines += [_line(score, item, "✅") for score, item in reversed(above)]
        lines += [_line(score, item, "❌") for score, item in below]
    missing = sum(1 for meaning in meanings if meaning is None)
    if lines and missing:
        lines.append(f"{missing} items have no meaning vector (no about: watch followed their "
                     "feed when they arrived), so about: terms cannot match them.")
    return lines


def _line(score: float, item: StoredItem, mark: str) -> str:
    return f"{mark} {score:.2f} {plain(item.entry.title or item.entry.link, 120)}"
