"""The decision trail on every backend (issue 21): written by the ingest that decides, read
back by /why for one guild only, and pruned with its items."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.core.fate import Verdict, decide
from bot.core.model import Entry
from bot.store.base import Store
from bot.store.rows import DeliveryDraft, NewWatch
from bot.store.trail import TrailNotes
from tests.store.test_store import NOW, alert

DAY = 86400.0
A, B = 111, 222


def entry(key: str, title: str) -> Entry:
    return Entry(key=key, title=title, link=f"https://n.example/{key}?utm_source=rss")


async def ingest(store: Store, feed_id: int, items: Sequence[Entry], now: float,
                 watch_id: int = 0, fail: bool = False) -> None:
    """One poll: ``watch_id`` matches every new item (0: none); the trail notes it."""
    notes = TrailNotes(articles={"k2": "paywall"})

    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        for e in new:
            notes.verdicts[e.key] = [Verdict(watch_id, True, "'tariffs'")] if watch_id else []
        if fail:
            raise RuntimeError("the plan failed")
        return [DeliveryDraft(watch_id, e.key, f"n-{e.key}", alert(e.title))
                for e in new] if watch_id else []

    await store.ingest(feed_id, items, now=now, next_check=now + 60, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=plan, trail=notes)


async def setup(store: Store) -> tuple[int, int]:
    await store.subscribe(A, "https://n.example/rss", "A News", 300, NOW)
    await store.subscribe(B, "https://other.example/rss", "B News", 300, NOW)
    watch = await store.add_watch(NewWatch(A, "china-trade", "tariffs"), NOW)
    feed_id = (await store.subscriptions(A))[0].feed.id
    await ingest(store, feed_id, [entry("k1", "Tariffs one")], NOW - 10 * DAY)  # silent
    await ingest(store, feed_id, [entry("k2", "Tariffs two")], NOW, watch.id)
    return feed_id, watch.id


async def test_the_ingest_writes_the_trail_and_why_reads_it(store: Store) -> None:
    await setup(store)
    lookup = await store.why(A, "https://N.example/k2?utm_medium=x&utm_source=y#top")
    assert lookup.evidence is not None
    answer = decide(lookup.evidence)
    assert answer.fate == "pending", answer.lines
    assert answer.feeds == ("A News",)
    assert [(w.watch, w.matched) for w in answer.watches] == [("china-trade", True)]
    assert "paywall" in answer.lines[0]
    silent = await store.why(A, "https://n.example/k1")
    assert silent.evidence is not None and decide(silent.evidence).fate == "known"
    assert "first poll" in "\n".join(decide(silent.evidence).lines)


async def test_headline_words_find_one_article_or_list_candidates(store: Store) -> None:
    await setup(store)
    one = await store.why(A, "tariffs TWO")
    assert one.evidence is not None and decide(one.evidence).fate == "pending"
    several = await store.why(A, "tariffs")
    assert several.evidence is None
    assert sorted(c.title for c in several.candidates) == ["Tariffs one", "Tariffs two"]


async def test_another_guild_sees_none_of_it(store: Store) -> None:
    await setup(store)
    for asked in ("https://n.example/k2", "tariffs two"):
        lookup = await store.why(B, asked)
        assert lookup.evidence is not None and lookup.candidates == ()
        answer = decide(lookup.evidence)
        assert answer.fate == "not_seen" and answer.watches == ()
        text = "\n".join(answer.lines)
        assert "A News" not in text and "china-trade" not in text and "n.example" not in text
    operator = await store.why(None, "https://n.example/k2")
    assert operator.evidence is not None and decide(operator.evidence).fate == "pending"


async def test_a_failed_ingest_leaves_no_trail(store: Store) -> None:
    feed_id, watch_id = await setup(store)
    with pytest.raises(RuntimeError):
        await ingest(store, feed_id, [entry("k3", "Tariffs three")], NOW + 60, watch_id,
                     fail=True)
    lookup = await store.why(A, "https://n.example/k3")
    assert lookup.evidence is not None and decide(lookup.evidence).fate == "not_seen"


async def test_the_trail_goes_with_its_item(store: Store) -> None:
    feed_id, watch_id = await setup(store)
    await ingest(store, feed_id, [entry("k3", "Tariffs three")], NOW + 60, watch_id)
    # k2 is 100 days old by now and no longer in the feed's latest body (k3 is).
    later = NOW + 100 * DAY
    await store.prune_items(keys_before=later - 90 * DAY, bodies_before=later - 7 * DAY)
    gone = await store.why(A, "https://n.example/k2")
    assert gone.evidence is not None and decide(gone.evidence).fate == "not_seen"
    kept = await store.why(A, "https://n.example/k3")
    assert kept.evidence is not None and decide(kept.evidence).fate == "pending"
