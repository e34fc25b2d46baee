"""Processes sharing recorded assignments decide exactly like one process (issue 24: one book
per guild, decisions proposed on a version and recorded only on that version)."""

from __future__ import annotations

from bot.core.model import Entry
from bot.stories.book import StoryBook, StoryRow, content_hash, story_item
from tests.stories.test_grouper import _written_items


def _entries() -> list[tuple[int, str, Entry]]:
    _, items = _written_items()
    return [(n % 3 + 1, f"feed{n % 3 + 1}", Entry(key=f"k{n}", title=item.title,
                                                   link=f"https://n{n}.example/a"))
            for n, item in enumerate(items)]


def _record(book: StoryBook, log: list[StoryRow], feed_id: int, feed_name: str,
            entry: Entry, at: float) -> str:
    """What the store does: catch up, propose, record at the next version."""
    book.catch_up(log)
    [(_, story, _)] = book.propose(feed_id, feed_name, [entry], at)
    item = story_item(feed_id, feed_name, entry, at, book.book)
    version = len(log) + 1
    log.append(StoryRow(version, feed_id, entry.key, story, at, feed_name, item.title,
                        item.summary, item.link, version))
    return story


def test_alternating_processes_agree_with_one_process() -> None:
    entries = _entries()
    alone, own = StoryBook(), list[StoryRow]()
    expected = [_record(alone, own, f, name, e, 60.0 * n)
                for n, (f, name, e) in enumerate(entries)]
    log: list[StoryRow] = []
    books = [StoryBook(), StoryBook()]
    got = [_record(books[n % 2], log, f, name, e, 60.0 * n)
           for n, (f, name, e) in enumerate(entries)]
    assert got == expected
    restarted = StoryBook()
    restarted.catch_up(reversed(log))  # order comes from the version, not from the caller
    books[0].catch_up(log)
    assert restarted.grouper.stories == books[0].grouper.stories


def test_a_proposal_leaves_the_book_as_it_was() -> None:
    """Decisions not yet recorded are not in the window: only replayed rows are."""
    book = StoryBook()
    entries = [e for _, _, e in _entries()][:6]
    first = book.propose(1, "feed1", entries, 0.0)
    assert len(book.grouper) == 0 and book.grouper.stories == 0
    assert book.propose(1, "feed1", entries, 0.0) == first


def test_books_of_two_guilds_give_different_story_ids() -> None:
    entry = Entry(key="k", title="Fed raises interest rates by a quarter point")
    ids = {StoryBook(book=guild).propose(1, "feed1", [entry], 0.0)[0][1] for guild in (0, 7)}
    assert len(ids) == 2


def test_content_hash_sees_what_a_reader_sees() -> None:
    assert content_hash("Fed raises rates", "<p>x</p>") == content_hash("Fed  raises rates",
                                                                          "<p>x</p>")
    assert content_hash("Fed raises rates", "") != content_hash("Fed holds rates", "")
