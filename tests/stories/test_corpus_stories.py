"""The grouper on labelled items of the real-news corpus (``../shared``; skips when absent).

Only file names and entry positions are kept here (``labelled.CORPUS``); the third-party
text is read from ``../shared`` at test time.
"""

from __future__ import annotations

import itertools
from functools import cache

import pytest

from bot.core.errors import ParseError
from bot.core.model import Entry
from bot.pipeline.parse import parse_feed
from bot.stories import StoryGrouper, StoryItem
from tests.fakes.corpus import real_news_dir
from tests.stories.labelled import CORPUS
from tests.stories.scoring import group_and_score
from tests.stories.test_grouper import ExhaustiveGrouper

NEWS = real_news_dir()
pytestmark = pytest.mark.skipif(NEWS is None, reason="../shared/corpus/real-news is absent")


@cache
def _entries(name: str) -> tuple[Entry, ...]:
    assert NEWS is not None
    body = (NEWS / name).read_bytes()
    return parse_feed(body, {"content-type": "application/xml"}, f"https://news.example/{name}"
                      ).entries


def _item(name: str, position: int, number: int) -> StoryItem:
    entry = _entries(name)[position]
    assert entry.title, f"{name}#{position} has no title: the corpus changed"
    return StoryItem(key=f"c{number}", title=entry.title, summary=entry.summary,
                     link=entry.link, feed=name, at=60.0 * number)


def _labelled() -> tuple[list[str], list[StoryItem]]:
    labels: list[str] = []
    items: list[StoryItem] = []
    for row in itertools.zip_longest(*CORPUS):
        for cell in row:
            if cell is not None:
                story = next(n for n, group in enumerate(CORPUS) if cell in group)
                labels.append(str(story))
                items.append(_item(*cell, len(items)))
    return labels, items


def test_labelled_corpus_items() -> None:
    labels, items = _labelled()
    result = group_and_score("corpus set", labels, items)
    assert result.precision == 1.0
    assert result.recall >= 0.5


def test_whole_corpus_fast_path_equals_reference() -> None:
    """Every corpus item, in file order: the prefix filter changes nothing."""
    assert NEWS is not None
    items = []
    for path in sorted(NEWS.iterdir()):
        if path.suffix not in {".xml", ".rss", ".atom"} or path.stat().st_size == 0:
            continue
        try:
            entries = _entries(path.name)
        except ParseError:  # the corpus holds deliberate non-feeds
            continue
        items += [StoryItem(f"{path.name}#{n}", e.title, e.summary, e.link, path.name,
                            float(len(items) + n)) for n, e in enumerate(entries)]
    assert len(items) > 500
    fast, slow = StoryGrouper(), ExhaustiveGrouper()
    assert [fast.assign(i).story for i in items] == [slow.assign(i).story for i in items]
