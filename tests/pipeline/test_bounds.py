"""Bounds on one feed body: at most MAX_ITEMS items are taken, the newest; bad dates are data."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.core import metrics
from bot.pipeline.fields import MAX_ITEMS, newest
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.parse import parse_feed

URL = "https://big.example/feed?apikey=SECRET"
JSON_HEADERS = {"Content-Type": "application/feed+json"}
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def json_feed(items: list[dict[str, object]]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Big",
                       "items": items}).encode()


def rss_items(count: int, *, dated: bool) -> bytes:
    items = "".join(
        f"<item><title>t{i}</title><guid>g{i}</guid>"
        + (f"<pubDate>{(BASE + timedelta(minutes=i)).strftime('%a, %d %b %Y %H:%M:%S')} GMT"
           "</pubDate>" if dated else "") + "</item>" for i in range(count))
    return f'<rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode()


def test_a_json_feed_keeps_its_newest_items_in_document_order() -> None:
    # Dates shuffled through the document: the newest are not simply the first ones.
    minutes = [(i * 7919) % 700 for i in range(700)]
    items = [{"id": f"i{i}", "date_published": (BASE + timedelta(minutes=m)).isoformat()}
             for i, m in enumerate(minutes)]
    feed = parse_feed(json_feed(items), JSON_HEADERS, URL)
    expected = [i for i, m in enumerate(minutes) if m >= 200]
    assert feed.dropped == 200 and len(feed.entries) == MAX_ITEMS
    assert [e.guid for e in feed.entries] == [f"i{i}" for i in expected]


def test_an_xml_feed_without_dates_keeps_its_first_items() -> None:
    feed = parse_feed(rss_items(620, dated=False), {}, URL)
    assert [e.title for e in feed.entries] == [f"t{i}" for i in range(MAX_ITEMS)]
    assert feed.dropped == 120


def test_an_xml_feed_with_dates_keeps_the_newest() -> None:
    feed = parse_feed(rss_items(620, dated=True), {}, URL)  # oldest first in the document
    assert [e.title for e in feed.entries] == [f"t{i}" for i in range(120, 620)]


def test_undated_items_rank_after_dated_ones() -> None:
    dates = [None, BASE, None, BASE + timedelta(days=1), None]
    assert newest(dates, 3) == [0, 1, 3]
    assert newest(dates, 10) == [0, 1, 2, 3, 4]


def test_a_small_feed_is_untouched() -> None:
    feed = parse_feed(rss_items(30, dated=True), {}, URL)
    assert len(feed.entries) == 30 and feed.dropped == 0


def test_a_date_before_year_one_in_utc_is_unknown_not_fatal() -> None:
    feed = parse_feed(json_feed([
        {"id": "a", "title": "bad date", "date_published": "0001-01-01T00:00:00+01:00"},
        {"id": "b", "title": "good", "date_published": "2024-05-01T10:00:00+02:00"},
        {"id": "c", "title": "modified only", "date_published": "9999-12-31T23:59:59-01:00",
         "date_modified": "2024-05-02T00:00:00Z"}]), JSON_HEADERS, URL)
    assert [(e.title, e.published) for e in feed.entries] == [
        ("bad date", None), ("good", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("modified only", datetime(2024, 5, 2, tzinfo=UTC))]


async def test_a_huge_json_feed_is_cut_in_the_worker_with_one_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    body = json_feed([{"id": str(i)} for i in range(30_000)])
    before = metrics.ITEMS_DROPPED._value.get()
    parser = IsolatedParser(timeout_s=30.0, workers=1)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.pipeline.isolation"):
            feed = await parser.parse(body, JSON_HEADERS, URL)
    finally:
        await parser.close()
    assert len(feed.entries) == MAX_ITEMS and feed.dropped == 30_000 - MAX_ITEMS
    assert [e.key for e in feed.entries[:2]] == ["0", "1"]
    assert metrics.ITEMS_DROPPED._value.get() - before == 30_000 - MAX_ITEMS
    [line] = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert "big.example" in line and "SECRET" not in line and "29500" in line
