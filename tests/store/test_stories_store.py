"""Story assignment in the store: several processes on one database decide as one would."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.core.model import Alert, Entry, Snippet
from bot.store import SqlStore
from bot.store.rows import DeliveryDraft, NewWatch
from bot.store.schema import story_items
from bot.stories import StoryGrouper, StoryItem

if TYPE_CHECKING:
    from tests.store.conftest import Backend

NOW = 1_800_000_000.0
TITLES = [
    "Fed raises interest rates by a quarter point",
    "Trump and Xi agree to resume trade talks",
    "UPDATE 1-Fed raises interest rates by quarter point - Reuters",
    "Trump, Xi agree to resume trade talks | BBC News",
    "Fed holds interest rates steady",
    "Earthquake kills 3 in northern Japan",
    "EXCLUSIVE-Trump and Xi agree to resume trade talks at G20",
    "Earthquake kills 30 in northern Japan",
]


async def _stories(store: SqlStore) -> dict[tuple[int, str], str]:
    rows = await store.read(lambda conn: conn.execute(
        select(story_items.c.feed_id, story_items.c.item_key, story_items.c.story_id)).all())
    return {(feed, key): story for feed, key, story in rows}


async def test_concurrent_ingests_in_several_processes_group_consistently(
        backend: Backend) -> None:
    stores = [await backend.open() for _ in range(3)]
    assert all(isinstance(s, SqlStore) for s in stores)
    first = stores[0]
    watch = await first.add_watch(NewWatch(guild_id=1, name="w", query="x", channel_id=5), NOW)
    feeds = []
    for n in range(len(TITLES)):
        sub = await first.subscribe(1, f"https://f{n}.example/rss", f"F{n}", 60, NOW)
        feeds.append(sub.feed.id)
        await first.ingest(sub.feed.id, [], now=NOW, next_check=NOW, title=None, etag=None,
                           last_modified=None, body_hash=None, plan=lambda new: [])

    async def ingest(n: int) -> None:
        store = stores[n % len(stores)]
        entry = Entry(key=f"k{n}", title=TITLES[n], link=f"https://f{n}.example/{n}")

        def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
            return [DeliveryDraft(watch.id, e.key, f"n{n}", Alert(
                watch_name="w", feed_name=f"F{n}", title=e.title, link=e.link,
                snippet=Snippet("", ()), matched_terms=())) for e in new]

        await store.ingest(feeds[n], [entry], now=NOW + n, next_check=NOW + 60, title=None,
                           etag=None, last_modified=None, body_hash=None, plan=plan)

    await asyncio.gather(*(ingest(n) for n in range(len(TITLES))))
    recorded = await _stories(first)
    # Whatever order the processes took turns in, the result is a valid grouping ...
    groups: dict[str, set[int]] = {}
    for (feed, _key), story in recorded.items():
        groups.setdefault(story, set()).add(feeds.index(feed))
    assert sorted(map(sorted, groups.values())) == [[0, 2], [1, 3, 6], [4], [5], [7]]
    # ... and one message per story: the folded items became edits, not posts.
    pending = await first.pending_deliveries(50)
    assert len([d for d, _ in pending if d.edit_of is None]) == 5


async def test_a_restarted_process_rebuilds_the_window_and_decides_the_same(
        backend: Backend) -> None:
    store = await backend.open()
    sub = await store.subscribe(1, "https://f.example/rss", "F", 60, NOW)
    await store.ingest(sub.feed.id, [Entry(key=f"k{n}", title=t) for n, t in
                                     enumerate(TITLES[:4])], now=NOW, next_check=NOW,
                       title=None, etag=None, last_modified=None, body_hash=None,
                       plan=lambda new: [])
    later = await backend.open()  # a new process: an empty window, rebuilt from the table
    other = await later.subscribe(1, "https://g.example/rss", "G", 60, NOW)
    await later.ingest(other.feed.id, [Entry(key="x", title=TITLES[6])], now=NOW + 1,
                       next_check=NOW, title=None, etag=None, last_modified=None,
                       body_hash=None, plan=lambda new: [])
    recorded = await _stories(later)
    assert recorded[(other.feed.id, "x")] == recorded[(sub.feed.id, "k1")]
    reference = StoryGrouper()
    for n, title in enumerate(TITLES[:4]):
        reference.assign(StoryItem(f"{n}", title, feed="F"))
    assert reference.stories == len(set(recorded.values()))


async def test_old_story_decisions_are_pruned(backend: Backend) -> None:
    store = await backend.open()
    assert isinstance(store, SqlStore)
    sub = await store.subscribe(1, "https://f.example/rss", "F", 60, NOW)
    day = 24 * 3600.0
    await store.ingest(sub.feed.id, [Entry(key="old", title="Ancient story")], now=NOW,
                       next_check=NOW, title=None, etag=None, last_modified=None,
                       body_hash=None, plan=lambda new: [])
    entries = [Entry(key=f"k{n}", title=f"Story number {n} of many") for n in range(1100)]
    await store.ingest(sub.feed.id, entries, now=NOW + 3 * day, next_check=NOW,
                       title=None, etag=None, last_modified=None, body_hash=None,
                       plan=lambda new: [])
    recorded = await _stories(store)
    assert (sub.feed.id, "old") not in recorded and len(recorded) == 1100
