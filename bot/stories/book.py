"""A process's view of one guild's stories in the window, kept in step with the database.

One ``StoryBook`` per guild (issue 24): a story's membership, as a guild sees it, depends
only on the items that guild's watches posted, so another guild flooding near-duplicates
cannot fold its alerts together. The store keeps a version per book; each recorded decision
carries the version it was written at.

Decide outside, write inside: ``catch_up`` replays the decisions recorded since this book
last looked (in version order), ``propose`` decides for the new items *without* changing the
book, and the store records the decisions only if the book's version is still the one they
were made on. The book learns them by replaying them from the database like any other
process's, so every process decides exactly as a single process would, and a restart
rebuilds the window by replaying it.
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
    version: int = 0


def _grouper_key(feed_id: int, item_key: str, book: int = 0) -> str:
    """Short, stable id of an item across feeds (also the id of a story it starts).

    Book 0 (the config file's watches) keeps the ids of before books existed; another
    guild's ids differ, so two guilds' stories never share an id (nor a story post).
    """
    scope = f"{feed_id}\x00{item_key}" if not book else f"{book}\x00{feed_id}\x00{item_key}"
    digest = hashlib.sha256(scope.encode("utf-8", "surrogatepass"))
    return "st" + digest.hexdigest()[:22]


def story_item(feed_id: int, feed_name: str, entry: Entry, at: float,
               book: int = 0) -> StoryItem:
    """The grouper's view of a parsed entry (its lead is the summary as plain text)."""
    lead = html_to_text(entry.summary[:4000])[:LEAD_CHARS] if entry.summary else ""
    return StoryItem(key=_grouper_key(feed_id, entry.key, book), title=entry.title,
                     summary=lead, link=entry.link, feed=feed_name, at=at)


def content_hash(title: str, summary: str) -> str:
    """A cheap fingerprint of what a reader sees; a change on a known item is a correction."""
    text = " ".join(title.split()) + "\x00" + " ".join(summary.split())
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class StoryBook:
    """One guild's grouper plus the version of its book it has replayed up to."""

    def __init__(self, window: float = DEFAULT_WINDOW,
                 thresholds: Thresholds | None = None, book: int = 0) -> None:
        self.window = window
        self.book = book
        self.grouper = StoryGrouper(window=window, thresholds=thresholds)
        self.version = 0
        self.seq = 0  # the last row replayed (rows of one version replay in seq order)
        # Database threads share the book: a warm-up read may run beside an ingest.
        self.lock = threading.RLock()

    def catch_up(self, rows: Iterable[StoryRow], version: int | None = None) -> None:
        """Replay recorded assignments newer than ours, in (version, seq) order; then
        stand at ``version`` (the book's version read before the rows), if later."""
        with self.lock:
            for row in sorted(rows, key=lambda r: (r.version, r.seq)):
                if (row.version, row.seq) <= (self.version, self.seq):
                    continue
                item = StoryItem(key=_grouper_key(row.feed_id, row.item_key, self.book),
                                 title=row.title, summary=row.lead, link=row.link,
                                 feed=row.feed_name, at=row.at)
                self.grouper.replay(item, row.story_id)
                self.version, self.seq = row.version, row.seq
            if version is not None and version > self.version:
                self.version, self.seq = version, 0

    def propose(self, feed_id: int, feed_name: str, entries: Sequence[Entry],
                at: float) -> list[tuple[Entry, str, bool]]:
        """(entry, story id, joined an earlier story) for each entry, in order, decided on
        the book as it stands; the book itself does not change."""
        with self.lock:
            items = [story_item(feed_id, feed_name, entry, at, self.book)
                     for entry in entries]
            decided = self.grouper.propose(items)
        return [(entry, d.story, d.folded) for entry, d in zip(entries, decided, strict=True)]

    def forget(self) -> None:
        """Drop everything: the next catch-up rebuilds the window from the database."""
        with self.lock:
            self.grouper = StoryGrouper(window=self.window,
                                        thresholds=self.grouper.thresholds)
            self.version = self.seq = 0


class StoryBooks:
    """This process's books, one per guild, made on first use."""

    def __init__(self, window: float = DEFAULT_WINDOW) -> None:
        self.window = window
        self._books: dict[int, StoryBook] = {}
        self._lock = threading.Lock()

    def get(self, book: int) -> StoryBook:
        """The book of guild ``book`` (0: the config file's watches)."""
        with self._lock:
            found = self._books.get(book)
            if found is None:
                found = self._books[book] = StoryBook(self.window, book=book)
            return found
