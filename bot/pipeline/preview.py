"""What a silent first poll would have alerted, said to the user instead (pure).

A feed's first poll records what it holds without alerting (no flood on start). A newcomer
then sees nothing for a long time and cannot tell whether a watch works, so the poll keeps
a ``Preview``: how many items were recorded and, per watch, which of them match now. The
console prints it; ``/feed add`` and ``/watch add`` show it in their (ephemeral) replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.core.model import Entry
from bot.pipeline.render import MatcherCache, matches
from bot.store.rows import WatchRow

TITLES_SHOWN = 3
TITLE_MAX = 80
NEXT_STEP = "new matching items will be alerted"


@dataclass(frozen=True, slots=True)
class WatchPreview:
    """One watch's would-be matches: the count and the newest few titles."""

    watch_id: int
    guild_id: int
    watch_name: str
    count: int
    titles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Preview:
    """A silent first poll: items recorded, and what each watch would have matched."""

    feed_name: str
    recorded: int
    watches: tuple[WatchPreview, ...] = ()

    def for_guild(self, guild_id: int) -> Preview:
        """Only the watches of one guild (a feed may be shared by several)."""
        return replace(self, watches=tuple(w for w in self.watches if w.guild_id == guild_id))


def preview_matches(feed_name: str, recorded: int, entries: Sequence[Entry],
                    watches: Sequence[tuple[WatchRow, str]],
                    matchers: MatcherCache | None = None) -> Preview:
    """Match ``entries`` as a primed feed would, without queueing anything.

    The same matching as a real poll's planning (``render.matches``), so the preview cannot
    disagree with later alerts, but no alert is rendered (no snippets): a first poll pays
    for the matching only. Bursts are not collapsed, so every title is counted. It runs on
    a worker thread, after the write; ``matchers`` is the poller's (thread-safe) cache.
    """
    active = [(watch, name) for watch, name in watches if not watch.paused]
    found: dict[int, list[tuple[int, str]]] = {}
    by_id: dict[int, WatchRow] = {}
    for position, watch, _feed, entry, _doc, _why in matches(entries, active,
                                                              matchers or MatcherCache()):
        found.setdefault(watch.id, []).append((position, entry.title or entry.link))
        by_id[watch.id] = watch
    previews = []
    for watch_id, hits in found.items():
        titles = [title for _, title in sorted(hits)]  # oldest first, as alerts would post
        watch = by_id[watch_id]
        newest = tuple(reversed(titles))[:TITLES_SHOWN]
        previews.append(WatchPreview(watch_id, watch.guild_id, watch.name, len(titles), newest))
    return Preview(feed_name, recorded, tuple(previews))


def _short(title: str) -> str:
    text = " ".join(title.split())
    return text if len(text) <= TITLE_MAX else text[:TITLE_MAX - 1].rstrip() + "…"


def describe_preview(preview: Preview) -> list[str]:
    """Plain lines: the count and each watch's would-be matches, then what happens next."""
    feed = preview.feed_name
    head = f"{feed}: {preview.recorded} items recorded silently"
    if not preview.watches:
        return [f"{head}; none match a watch now; {NEXT_STEP}"]
    lines = []
    for index, watch in enumerate(preview.watches):
        titles = " · ".join(f'"{_short(title)}"' for title in watch.titles)
        more = " …" if watch.count > len(watch.titles) else ""
        lead = f"{head}; " if index == 0 else f"{feed}: "
        lines.append(f"{lead}{watch.count} match {watch.watch_name} now (not alerted): "
                     f"{titles}{more}")
    lines.append(f"{feed}: {NEXT_STEP}")
    return lines
