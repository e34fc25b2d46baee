"""The SQLite store against a real database file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bot.config import Config, FeedConfig, WatchConfig
from bot.model import Alert, Entry, Snippet
from bot.store.rows import CONFIG_GUILD, DeliveryDraft, NewWatch
from bot.store.sqlite import SqliteStore

NOW = 1_800_000_000.0


def config(*feeds: tuple[str, str], watches: Sequence[str] = ("w",)) -> Config:
    return Config(
        feeds=tuple(FeedConfig(name=name, url=url, interval=60) for name, url in feeds),
        watches=tuple(WatchConfig(name=name, query="tariffs") for name in watches))


def entries(*keys: str) -> list[Entry]:
    return [Entry(key=key, title=f"title {key}", link=f"https://n.example/{key}") for key in keys]


def alert(title: str) -> Alert:
    return Alert(watch_name="w", feed_name="F", title=title, link="https://n.example/",
                 snippet=Snippet(title), matched_terms=("tariffs",))


def plan_all(watch_id: int):  # type: ignore[no-untyped-def]
    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(watch_id, e.key, f"n-{e.key}", alert(e.title)) for e in new]
    return plan


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "state" / "test.db")
    yield opened
    await opened.close()


async def ingest(store: SqliteStore, feed_id: int, keys: Sequence[str], watch_id: int,
                 now: float = NOW) -> tuple[int, int]:
    result = await store.ingest(feed_id, entries(*keys), now=now, next_check=now + 60,
                                title="T", etag=None, last_modified=None, body_hash="h",
                                plan=plan_all(watch_id))
    return result.new_items, result.deliveries


async def test_migrations_wal_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    first = await SqliteStore.open(path)
    await first.sync_config(config(("A", "http://a.example/feed")), NOW)
    await first.close()
    second = await SqliteStore.open(path)
    mode = await second.run_blocking(
        lambda: second.conn.execute("PRAGMA journal_mode").fetchone()[0])
    assert mode == "wal"
    assert [s.name for s in await second.subscriptions()] == ["A"]
    await second.close()


async def test_first_poll_is_silent_then_only_new_items_queue(store: SqliteStore) -> None:
    await store.sync_config(config(("A", "http://a.example/feed")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    [watch] = await store.watches()
    assert await ingest(store, feed.id, ["1", "2"], watch.id) == (2, 0)
    assert await ingest(store, feed.id, ["1", "2", "3"], watch.id) == (1, 1)
    assert await ingest(store, feed.id, ["1", "2", "3"], watch.id) == (0, 0)
    pending = await store.pending_deliveries(10)
    assert [d.item_key for d, _ in pending] == ["3"]
    assert pending[0][0].target == "console"
    assert await store.known_keys(feed.id, ["1", "3", "9"]) == {"1", "3"}


async def test_claim_leases_due_feeds_once(store: SqliteStore) -> None:
    await store.sync_config(config(("A", "http://a.example/1"), ("B", "http://b.example/2")), NOW)
    assert len(await store.claim_due_feeds(NOW, 10, 120)) == 2
    assert await store.claim_due_feeds(NOW + 1, 10, 120) == []
    assert len(await store.claim_due_feeds(NOW + 121, 10, 120)) == 2


async def test_failure_counts_and_success_resets(store: SqliteStore) -> None:
    await store.sync_config(config(("A", "http://a.example/feed")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    assert await store.record_failure(feed.id, NOW, "HTTP 500", NOW + 60) == 1
    assert await store.record_failure(feed.id, NOW, "HTTP 500", NOW + 120) == 2
    after = await store.feed(feed.id)
    assert after is not None and after.error_count == 2 and after.last_error == "HTTP 500"
    await store.record_unchanged(feed.id, NOW + 200, NOW + 260)
    healed = await store.feed(feed.id)
    assert healed is not None and healed.error_count == 0 and healed.last_success == NOW + 200


async def test_outbox_marks(store: SqliteStore) -> None:
    await store.sync_config(config(("A", "http://a.example/feed")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    [watch] = await store.watches()
    await ingest(store, feed.id, ["1"], watch.id)
    await ingest(store, feed.id, ["1", "2", "3", "4"], watch.id)
    (d2, _), (d3, _), (d4, _) = await store.pending_deliveries(10)
    await store.mark_sent(d2.id, "m1", NOW)
    await store.mark_retry(d3.id, "HTTP 502", NOW + 30, NOW)
    await store.mark_failed(d4.id, "HTTP 400", NOW)
    pending = await store.pending_deliveries(10)
    assert [(d.item_key, at) for d, at in pending] == [("3", NOW + 30)]
    counts = await store.outbox_counts()
    assert (counts.pending, counts.failed, counts.sent) == (1, 1, 1)


async def test_paused_watch_holds_deliveries_and_sees_nothing(store: SqliteStore) -> None:
    await store.sync_config(config(("A", "http://a.example/feed")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    [watch] = await store.watches()
    await ingest(store, feed.id, ["1"], watch.id)
    await ingest(store, feed.id, ["1", "2"], watch.id)
    assert await store.set_watch_paused(CONFIG_GUILD, "w", True, "403")
    assert await store.pending_deliveries(10) == []
    assert await store.watches_for_feed(feed.id) == []
    await store.set_watch_paused(CONFIG_GUILD, "w", False)
    assert len(await store.pending_deliveries(10)) == 1


async def test_guild_subscriptions_share_one_feed(store: SqliteStore) -> None:
    url = "https://news.example/rss"
    await store.subscribe(111, url, "News", 300, NOW)
    await store.subscribe(222, url, "Nachrichten", 600, NOW)
    await store.add_watch(NewWatch(guild_id=111, name="t", query="tariffs", channel_id=5), NOW)
    await store.add_watch(NewWatch(guild_id=222, name="t", query="Xi", channel_id=6,
                                   feed_names=("Other",)), NOW)
    feeds = await store.claim_due_feeds(NOW, 10, 120)
    assert len(feeds) == 1 and feeds[0].interval_s == 300
    pairs = await store.watches_for_feed(feeds[0].id)
    assert [(w.guild_id, name) for w, name in pairs] == [(111, "News")]
    assert await store.unsubscribe(111, "News")
    assert len(await store.subscriptions()) == 1
    assert await store.unsubscribe(222, "Nachrichten")
    assert await store.subscriptions() == []
    assert await store.claim_due_feeds(NOW + 999, 10, 120) == []


async def test_sync_config_removes_what_the_file_dropped(store: SqliteStore) -> None:
    await store.sync_config(config(("A", "http://a.example/1"), ("B", "http://b.example/2"),
                                   watches=("w1", "w2")), NOW)
    await store.subscribe(111, "http://c.example/3", "C", 300, NOW)
    await store.sync_config(config(("A", "http://a.example/1"), watches=("w1",)), NOW)
    assert sorted(s.name for s in await store.subscriptions()) == ["A", "C"]
    assert [w.name for w in await store.watches()] == ["w1"]


async def test_recent_items_for_watch_test(store: SqliteStore) -> None:
    await store.subscribe(111, "https://news.example/rss", "News", 300, NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    await ingest(store, feed.id, ["1", "2"], 0)
    items = await store.recent_items(111, NOW - 10)
    assert sorted(i.entry.key for i in items) == ["1", "2"]
    assert await store.recent_items(222, NOW - 10) == []
    assert await store.recent_items(111, NOW + 10) == []
