"""Item retention on every backend: bodies go first, keys later, current keys never."""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.base import Store
from bot.store.rows import PruneResult
from tests.store.test_store import NOW, entries

DAY = 86400.0
OLD = NOW - 100 * DAY  # past the 90-day key retention
WEEK_OLD = NOW - 10 * DAY  # past the 7-day body retention, within the key retention


async def ingest(store: Store, feed_id: int, keys: Sequence[str], now: float) -> int:
    """Record one body (no watches, so no deliveries); returns how many items were new."""
    result = await store.ingest(feed_id, entries(*keys), now=now, next_check=now + 60,
                                title=None, etag=None, last_modified=None, body_hash=None,
                                plan=lambda new: [])
    return result.new_items


async def feed_with_history(store: Store, guild_id: int = 111) -> int:
    """A feed whose keys a, b, c were first seen 100 days ago, e and f 10 days ago, and whose
    latest body (today) lists c, f and g."""
    await store.subscribe(guild_id, f"https://n{guild_id}.example/rss", "News", 300, NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    await ingest(store, feed.id, ["a", "b", "c"], OLD)
    await ingest(store, feed.id, ["e", "f"], WEEK_OLD)
    await ingest(store, feed.id, ["c", "f", "g"], NOW)
    return feed.id


async def prune(store: Store) -> PruneResult:
    return await store.prune_items(keys_before=NOW - 90 * DAY, bodies_before=NOW - 7 * DAY)


async def known(store: Store, feed_id: int, keys: Sequence[str] = "abcdefg") -> set[str]:
    return await store.known_keys(feed_id, list(keys))


async def test_old_keys_go_except_those_the_feed_still_lists(store: Store) -> None:
    feed_id = await feed_with_history(store)
    result = await prune(store)
    assert result == PruneResult(keys=2, bodies=5)  # a, b; bodies of a, b, c, e, f
    assert await known(store, feed_id) == {"c", "e", "f", "g"}
    assert await prune(store) == PruneResult(keys=0, bodies=0)  # idempotent
    # c is still in the feed: it must not come back as news.
    assert await ingest(store, feed_id, ["c", "g", "h"], NOW + 60) == 1


async def test_watch_test_reads_a_bounded_sample_without_pruned_bodies(store: Store) -> None:
    feed_id = await feed_with_history(store)
    await prune(store)
    recent = await store.recent_items(111, OLD - 1)
    assert [item.entry.key for item in recent] == ["g"]  # the only body younger than a week
    await ingest(store, feed_id, [f"n{i}" for i in range(30)], NOW + 60)
    assert len(await store.recent_items(111, NOW - 1, limit=10)) == 10


async def test_the_keys_of_a_feeds_latest_body_are_kept_however_old(store: Store) -> None:
    await store.subscribe(111, "https://quiet.example/rss", "Quiet", 300, NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    await ingest(store, feed.id, ["x", "y"], OLD)
    # Its latest body (100 days ago, nothing since) listed x and y: both stay.
    assert (await prune(store)).keys == 0
    assert await known(store, feed.id, "xy") == {"x", "y"}


async def test_pruning_one_feed_leaves_another_guilds_feed_alone(store: Store) -> None:
    first = await feed_with_history(store, 111)
    await store.subscribe(222, "https://fresh.example/rss", "Fresh", 300, NOW)
    fresh = next(f for f in await store.claim_due_feeds(NOW, 10, 120) if f.id != first)
    await ingest(store, fresh.id, ["z"], NOW)
    await prune(store)
    assert await known(store, fresh.id, "z") == {"z"}
    assert [i.entry.key for i in await store.recent_items(222, NOW - 1)] == ["z"]


async def test_meaning_vectors_are_stored_with_new_items_and_pruned_with_bodies(
        store: Store) -> None:
    """Issue 23: the vector is written with the item, only for a new one, and goes with the
    body when the daily prune drops it."""
    await store.subscribe(111, "https://meant.example/rss", "Meant", 300, NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)

    async def ingest_with(keys: str, vectors: dict[str, str], now: float) -> None:
        await store.ingest(feed.id, entries(*keys), now=now, next_check=now + 60, title=None,
                           etag=None, last_modified=None, body_hash=None,
                           plan=lambda new: [], vectors=vectors)

    await ingest_with("ab", {"a": "AACAPw=="}, WEEK_OLD)  # b: no vector
    await ingest_with("abc", {"a": "changed", "c": "AAAAQA=="}, NOW)  # a is known: kept
    stored = {item.entry.key: item.vector for item in await store.recent_items(111, OLD)}
    assert stored == {"a": "AACAPw==", "b": None, "c": "AAAAQA=="}
    await prune(store)
    stored = {item.entry.key: item.vector for item in await store.recent_items(111, OLD)}
    assert stored == {"c": "AAAAQA=="}
