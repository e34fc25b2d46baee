"""Full-text settings and article statistics (issue 13), on every backend."""

from __future__ import annotations

import pytest

from bot.store.base import Store

NOW = 1_800_000_000.0
URL = "http://a.example/feed"


async def test_full_text_is_per_subscription_and_the_feed_takes_the_strongest(
        store: Store) -> None:
    first = await store.subscribe(1, URL, "wire", 60, NOW)
    feed_id = first.feed.id
    assert await store.full_text_mode(feed_id) == "auto"
    assert await store.set_full_text(1, {"wire": "never"}) == 1
    assert await store.full_text_mode(feed_id) == "never"
    await store.subscribe(2, URL, "other", 60, NOW)  # another guild, the default
    assert await store.full_text_mode(feed_id) == "auto"
    assert await store.set_full_text(2, {"other": "always", "missing": "never"}) == 1
    assert await store.full_text_mode(feed_id) == "always"
    assert await store.set_full_text(1, {"missing": "always"}) == 0
    with pytest.raises(ValueError, match="full_text"):
        await store.set_full_text(1, {"wire": "sometimes"})
    assert await store.full_text_mode(feed_id) == "always"


async def test_article_stats_add_up_per_feed_and_go_with_the_feed(store: Store) -> None:
    a = (await store.subscribe(1, URL, "a", 60, NOW)).feed.id
    b = (await store.subscribe(1, "http://b.example/feed", "b", 60, NOW)).feed.id
    await store.record_articles(a, {"ok": 2, "paywall": 1})
    await store.record_articles(a, {"ok": 1, "timeout": 0})
    await store.record_articles(b, {"not_html": 1})
    await store.record_articles(b, {})
    assert await store.article_stats([a, b]) == {a: {"ok": 3, "paywall": 1},
                                                 b: {"not_html": 1}}
    assert await store.article_stats([]) == {}
    assert await store.unsubscribe(1, "a")
    await store.record_articles(a, {"ok": 1})  # a poll that ran while the feed was removed
    assert await store.article_stats([a, b]) == {b: {"not_html": 1}}
