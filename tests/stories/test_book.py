"""Two processes sharing recorded assignments decide exactly like one process."""

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
    """What the store does under the story lock: catch up, decide, record."""
    book.catch_up(log)
    [(_, story, _)] = book.assign(feed_id, feed_name, [entry], at)
    item = story_item(feed_id, feed_name, entry, at)
    log.append(StoryRow(len(log) + 1, feed_id, entry.key, story, at, feed_name, item.title,
                        item.summary, item.link))
    book.seq = len(log)
    return story


def test_alternating_processes_agree_with_one_process() -> None:
    entries = _entries()
    alone = StoryBook()
    expected = [_record(alone, [], f, name, e, 60.0 * n)
                for n, (f, name, e) in enumerate(entries)]
    log: list[StoryRow] = []
    books = [StoryBook(), StoryBook()]
    got = [_record(books[n % 2], log, f, name, e, 60.0 * n)
           for n, (f, name, e) in enumerate(entries)]
    assert got == expected
    restarted = StoryBook()
    restarted.catch_up(reversed(log))  # order comes from seq, not from the caller
    assert restarted.grouper.stories == books[0].grouper.stories


def test_content_hash_sees_what_a_reader_sees() -> None:
    assert content_hash("Fed raises rates", "<p>x</p>") == content_hash("Fed  raises rates",
                                                                          "<p>x</p>")
    assert content_hash("Fed raises rates", "") != content_hash("Fed holds rates", "")
