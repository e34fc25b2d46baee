"""A process's view of the stories in the window, kept in step with the database.

Each process holds one ``StoryBook``. Story assignment happens inside the ingest
transaction while the store holds the story lock (so processes decide one after another):
first ``catch_up`` replays the assignments other processes recorded since this book last
looked (in their recorded order), then ``assign`` decides for the new items, and the store
records those decisions with the next sequence numbers. Every process therefore decides
exactly as a single process would, and a restart rebuilds the window by replaying it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.core.model import Entry
from bot.core.text import html_to_text
from bot.stories.grouper import DEFAULT_WINDOW, StoryGrouper, StoryItem
from bot.stories.similarity import Thresholds

__all__ = ["StoryBook", "StoryRow", "content_hash", "story_item"]

LEAD_CHARS = 400


@dataclass(frozen=True, slots=True)
class StoryRow:
    """One recorded assignment: what the grouper needs to replay it."""

    seq: int
    feed_id: int
    item_key: str
    story_id: str
    at: float
    feed_name: str
    title: str
    lead: str
    link: str


def _grouper_key(feed_id: int, item_key: str) -> str:
    """Short, stable id of an item across feeds (also the id of a story it starts)."""
    digest = hashlib.sha256(f"{feed_id}\x00{item_key}".encode("utf-8", "surrogatepass"))
    return "st" + digest.hexdigest()[:22]


def story_item(feed_id: int, feed_name: str, entry: Entry, at: float) -> StoryItem:
    """The grouper's view of a parsed entry (its lead is the summary as plain text)."""
    lead = html_to_text(entry.summary[:4000])[:LEAD_CHARS] if entry.summary else ""
    return StoryItem(key=_grouper_key(feed_id, entry.key), title=entry.title, summary=lead,
                     link=entry.link, feed=feed_name, at=at)


def content_hash(title: str, summary: str) -> str:
    """A cheap fingerprint of what a reader sees; a change on a known item is a correction."""
    text = " ".join(title.split()) + "\x00" + " ".join(summary.split())
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class StoryBook:
    """The grouper plus the sequence number of the last assignment it has seen."""

    def __init__(self, window: float = DEFAULT_WINDOW,
                 thresholds: Thresholds | None = None) -> None:
        self.window = window
        self.grouper = StoryGrouper(window=window, thresholds=thresholds)
        self.seq = 0
        # Database threads share the book: a warm-up read may run beside an ingest.
        self.lock = threading.RLock()

    def catch_up(self, rows: Iterable[StoryRow]) -> None:
        """Replay recorded assignments newer than ``seq``, in sequence order."""
        with self.lock:
            self._replay(rows)

    def _replay(self, rows: Iterable[StoryRow]) -> None:
        for row in sorted(rows, key=lambda r: r.seq):
            if row.seq <= self.seq:
                continue
            item = StoryItem(key=_grouper_key(row.feed_id, row.item_key), title=row.title,
                             summary=row.lead, link=row.link, feed=row.feed_name, at=row.at)
            self.grouper.replay(item, row.story_id)
            self.seq = row.seq

    def assign(self, feed_id: int, feed_name: str, entries: Sequence[Entry],
               at: float) -> list[tuple[Entry, str, bool]]:
        """(entry, story id, joined an earlier story) for each new entry, in order."""
        out = []
        with self.lock:
            for entry in entries:
                decision = self.grouper.assign(story_item(feed_id, feed_name, entry, at))
                out.append((entry, decision.story, decision.folded))
        return out

    def forget(self) -> None:
        """Drop everything (a failed transaction leaves the book ahead of the database)."""
        with self.lock:
            self.grouper = StoryGrouper(window=self.window,
                                        thresholds=self.grouper.thresholds)
            self.seq = 0
