"""Planning deliveries: order, nonces, which watches see what, and opt-in collapsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.model import Entry
from bot.pipeline.render import MatcherCache, delivery_nonce, plan_deliveries, publication_order
from bot.store.rows import WatchRow

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def entry(key: str, title: str, hour: int | None = None) -> Entry:
    published = datetime(2026, 11, 27, hour, tzinfo=UTC) if hour is not None else None
    return Entry(key=key, title=title, link=f"https://n.example/{key}",
                 summary=f"<p>{title}. More words follow here.</p>", published=published)


def watch(watch_id: int, query: str, **extra: object) -> WatchRow:
    return WatchRow(id=watch_id, guild_id=1, name=f"w{watch_id}", query=query,
                    channel_id=9, **extra)  # type: ignore[arg-type]


def test_publication_order_is_oldest_first_and_undated_keep_feed_order() -> None:
    entries = [entry("c", "C", 12), entry("u1", "U1"), entry("a", "A", 8), entry("u2", "U2")]
    assert [e.key for e in publication_order(entries)] == ["a", "c", "u2", "u1"]


def test_nonce_is_deterministic_and_fits_discord() -> None:
    nonce = delivery_nonce("https://f.example/rss", "guid-1", 7)
    assert nonce == delivery_nonce("https://f.example/rss", "guid-1", 7)
    assert nonce != delivery_nonce("https://f.example/rss", "guid-1", 8)
    assert len(nonce) == 25


def test_one_draft_per_matching_entry_and_watch_in_order() -> None:
    entries = [entry("2", "New tariffs on steel", 10), entry("1", "Xi meets Bessent", 9),
               entry("3", "Taxi drivers strike", 11)]
    watches = [(watch(1, "tariffs OR Xi"), "Wire"), (watch(2, "Bessent"), "Wire")]
    drafts = plan_deliveries(entries, watches, MatcherCache(), "https://f.example", NOW)
    assert [(d.item_key, d.watch_id) for d in drafts] == [("1", 1), ("1", 2), ("2", 1)]
    first = drafts[0].alert
    assert first.feed_name == "Wire" and first.first_seen == NOW
    assert first.snippet.bold, "matched terms are marked bold in the snippet"


def test_feed_scoped_terms_see_the_feed_name_of_each_guild() -> None:
    entries = [entry("1", "Tariffs rise", 9)]
    watches = [(watch(1, "feed:Reuters tariffs"), "Reuters"),
               (watch(2, "feed:Reuters tariffs"), "Other")]
    drafts = plan_deliveries(entries, watches, MatcherCache(), "u", NOW)
    assert [d.watch_id for d in drafts] == [1]


@pytest.mark.parametrize(("count", "expected"), [(3, 3), (4, 1)])
def test_collapse_after_is_opt_in(count: int, expected: int) -> None:
    entries = [entry(str(i), f"Tariffs story {i}", i) for i in range(count)]
    watches = [(watch(1, "tariffs", collapse_after=3), "Wire"), (watch(2, "tariffs"), "Wire")]
    drafts = plan_deliveries(entries, watches, MatcherCache(), "u", NOW)
    assert sum(d.watch_id == 1 for d in drafts) == expected
    assert sum(d.watch_id == 2 for d in drafts) == count
    if expected == 1:
        [summary] = [d for d in drafts if d.watch_id == 1]
        assert summary.alert.title == f"{count} new matches in Wire"
        assert "Tariffs story 0" in summary.alert.snippet.text


def test_matcher_cache_reuses_compiled_watches() -> None:
    cache = MatcherCache()
    watches = [watch(1, "tariffs")]
    assert cache.get(watches) is cache.get(list(watches))
    assert cache.get([watch(1, "Xi")]) is not cache.get(watches)
