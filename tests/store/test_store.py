"""The store contract, run on every backend (``store`` is parametrised in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.config.file import Config, FeedConfig, WatchConfig
from bot.core.errors import StoreError
from bot.core.model import Alert, Entry, Snippet
from bot.store import SqlStore, open_store
from bot.store.base import Store
from bot.store.rows import CONFIG_GUILD, DeliveryDraft, NewWatch
from tests.store.test_migrations import HEAD  # the newest Alembic revision

if TYPE_CHECKING:
    from tests.store.conftest import Backend, PostgresBackend

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


async def ingest(store: Store, feed_id: int, keys: Sequence[str], watch_id: int,
                 now: float = NOW) -> tuple[int, int]:
    result = await store.ingest(feed_id, entries(*keys), now=now, next_check=now + 60,
                                title="T", etag=None, last_modified=None, body_hash="h",
                                plan=plan_all(watch_id))
    return result.new_items, result.deliveries


async def test_sqlite_migrations_wal_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    first = await open_store(f"sqlite:///{path}")
    await first.sync_config(config(("A", "http://a.example/feed")), NOW)
    await first.close()
    second = await open_store(f"sqlite:///{path}")
    mode = await second.read(lambda conn: conn.exec_driver_sql("PRAGMA journal_mode").scalar())
    assert mode == "wal"
    assert [s.name for s in await second.subscriptions()] == ["A"]
    await second.close()


async def test_first_poll_is_silent_then_only_new_items_queue(store: Store) -> None:
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


async def test_claim_leases_due_feeds_once(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/1"), ("B", "http://b.example/2")), NOW)
    assert len(await store.claim_due_feeds(NOW, 10, 120)) == 2
    assert await store.claim_due_feeds(NOW + 1, 10, 120) == []
    assert len(await store.claim_due_feeds(NOW + 121, 10, 120)) == 2


async def test_failure_counts_and_success_resets(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/feed")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    assert await store.record_failure(feed.id, NOW, "HTTP 500", NOW + 60) == 1
    assert await store.record_failure(feed.id, NOW, "HTTP 500", NOW + 120) == 2
    after = await store.feed(feed.id)
    assert after is not None and after.error_count == 2 and after.last_error == "HTTP 500"
    await store.record_unchanged(feed.id, NOW + 200, NOW + 260)
    healed = await store.feed(feed.id)
    assert healed is not None and healed.error_count == 0 and healed.last_success == NOW + 200


async def test_outbox_marks(store: Store) -> None:
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


async def test_paused_watch_holds_deliveries_and_sees_nothing(store: Store) -> None:
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


async def test_guild_subscriptions_share_one_feed(store: Store) -> None:
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


async def test_guild_watches_also_see_the_config_files_feeds(store: Store) -> None:
    await store.sync_config(config(("Wire", "https://wire.example/rss"), watches=()), NOW)
    await store.subscribe(111, "https://wire.example/rss", "My wire", 300, NOW)
    await store.add_watch(NewWatch(guild_id=111, name="t", query="tariffs", channel_id=5), NOW)
    await store.add_watch(NewWatch(guild_id=222, name="t", query="Xi", channel_id=6,
                                   feed_names=("Wire",)), NOW)
    await store.add_watch(NewWatch(guild_id=333, name="t", query="Xi", channel_id=7,
                                   feed_names=("Other",)), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    pairs = await store.watches_for_feed(feed.id)
    assert [(w.guild_id, name) for w, name in pairs] == [(111, "My wire"), (222, "Wire")]


async def test_sync_config_removes_what_the_file_dropped(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/1"), ("B", "http://b.example/2"),
                                   watches=("w1", "w2")), NOW)
    await store.subscribe(111, "http://c.example/3", "C", 300, NOW)
    await store.sync_config(config(("A", "http://a.example/1"), watches=("w1",)), NOW)
    assert sorted(s.name for s in await store.subscriptions()) == ["A", "C"]
    assert [w.name for w in await store.watches()] == ["w1"]


async def test_recent_items_for_watch_test(store: Store) -> None:
    await store.subscribe(111, "https://news.example/rss", "News", 300, NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    await ingest(store, feed.id, ["1", "2"], 0)
    items = await store.recent_items(111, NOW - 10)
    assert sorted(i.entry.key for i in items) == ["1", "2"]
    assert await store.recent_items(222, NOW - 10) == []
    assert await store.recent_items(111, NOW + 10) == []


async def test_delivery_errors_for_status(store: Store) -> None:
    await store.subscribe(111, "https://news.example/rss", "News", 300, NOW)
    await store.subscribe(222, "https://news.example/rss", "Nachrichten", 300, NOW)
    mine = await store.add_watch(NewWatch(guild_id=111, name="mine", query="x", channel_id=5),
                                 NOW)
    theirs = await store.add_watch(NewWatch(guild_id=222, name="theirs", query="x",
                                            channel_id=6), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    await ingest(store, feed.id, ["0"], mine.id)

    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(w, e.key, f"n-{w}-{e.key}", alert(e.title))
                for e in new for w in (mine.id, theirs.id)]

    await store.ingest(feed.id, entries("1", "2", "3", "4"), now=NOW, next_check=NOW + 60,
                       title="T", etag=None, last_modified=None, body_hash="h2", plan=plan)
    ids = {(d.watch_name, d.item_key): d.id for d, _ in await store.pending_deliveries(20)}
    await store.mark_failed(ids[("mine", "1")], "HTTP 403 Missing Access", NOW)
    await store.mark_retry(ids[("mine", "2")], "HTTP 502", NOW + 30, NOW)
    await store.mark_retry(ids[("mine", "3")], "HTTP 429", NOW + 30, NOW)
    await store.mark_sent(ids[("mine", "3")], "m3", NOW + 31)  # recovered: not a problem
    await store.mark_failed(ids[("theirs", "1")], "HTTP 400", NOW)
    assert await store.delivery_errors(111, 10) == [
        ("mine", "pending", "HTTP 502"), ("mine", "failed", "HTTP 403 Missing Access")]
    assert await store.delivery_errors(111, 1) == [("mine", "pending", "HTTP 502")]
    assert await store.delivery_errors(222, 10) == [("theirs", "failed", "HTTP 400")]
    assert await store.delivery_errors(333, 10) == []


# Several processes on one database, reopening, and what PostgreSQL adds. ``backend`` and
# ``postgres_backend`` (conftest.py) give a fresh database that many stores may open.

async def test_reopening_keeps_everything(backend: Backend) -> None:
    first = await backend.open()
    await first.sync_config(config(("A", "http://a.example/feed")), NOW)
    await first.close()
    second = await backend.open()
    assert [s.name for s in await second.subscriptions()] == ["A"]
    assert [w.name for w in await second.watches()] == ["w"]


async def test_two_stores_claiming_together_never_share_a_feed(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    await first.sync_config(config(*((f"F{i}", f"http://f{i}.example/rss")
                                     for i in range(40))), NOW)

    mine: list[int] = []
    theirs: list[int] = []
    while True:  # each round, both claims are in flight at the same moment
        ours, other = await asyncio.gather(first.claim_due_feeds(NOW, 3, 120),
                                           second.claim_due_feeds(NOW, 3, 120))
        if not ours and not other:
            break
        mine += [feed.id for feed in ours]
        theirs += [feed.id for feed in other]
    assert mine and theirs
    assert not set(mine) & set(theirs)
    assert len(mine) + len(theirs) == len(set(mine) | set(theirs)) == 40


async def test_a_failing_plan_records_nothing(store: Store) -> None:
    # plan runs inside the ingest transaction: items without their deliveries never commit.
    await store.sync_config(config(("A", "http://a.example/feed")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    [watch] = await store.watches()
    await ingest(store, feed.id, ["1"], watch.id)

    def broken_plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        raise RuntimeError("matcher crashed")

    with pytest.raises(RuntimeError, match="matcher crashed"):
        await store.ingest(feed.id, entries("1", "2"), now=NOW + 60, next_check=NOW + 120,
                           title="T2", etag=None, last_modified=None, body_hash="h2",
                           plan=broken_plan)
    assert await store.known_keys(feed.id, ["1", "2"]) == {"1"}
    after = await store.feed(feed.id)
    assert after is not None and after.body_hash == "h" and after.title == "T"
    assert await ingest(store, feed.id, ["1", "2"], watch.id, NOW + 120) == (1, 1)

async def test_paused_feed_is_probed_slowly_and_resumes(store: Store) -> None:
    await store.subscribe(111, "https://news.example/rss", "News", 300, NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    assert await store.pause_feed(feed.id, NOW + 86400)
    assert not await store.pause_feed(feed.id, NOW + 86400)  # already paused
    paused = await store.feed(feed.id)
    assert paused is not None and paused.paused and paused.next_check == NOW + 86400
    assert await store.claim_due_feeds(NOW + 3600, 10, 120) == []
    [probe] = await store.claim_due_feeds(NOW + 86400, 10, 120)
    await store.record_unchanged(probe.id, NOW + 86400, NOW + 86700)  # a success resumes
    resumed = await store.feed(feed.id)
    assert resumed is not None and not resumed.paused
    assert await store.pause_feed(feed.id, NOW + 2 * 86400)
    assert await store.resume_feed(111, "News", NOW + 90000)
    assert not await store.resume_feed(111, "nope", NOW + 90000)
    [again] = await store.claim_due_feeds(NOW + 90000, 10, 120)
    assert not again.paused and again.error_count == 0

WATCH_SHAPES = [
    NewWatch(guild_id=1, name="all-fields", query="a", channel_id=1_234_567_890_123_456_789,
             role_id=987_654_321_098_765_432, feed_names=("A", "B"), color=0xFFFFFF,
             collapse_after=5),
    NewWatch(guild_id=1, name="webhook", query="b", webhook_url="https://h.example/api/x"),
    NewWatch(guild_id=1, name="no-feeds", query="c", feed_names=()),
    NewWatch(guild_id=1, name="every-feed", query="d", feed_names=None),
]


@pytest.mark.parametrize("watch", WATCH_SHAPES, ids=[w.name for w in WATCH_SHAPES])
async def test_watch_fields_round_trip(store: Store, watch: NewWatch) -> None:
    stored = await store.add_watch(watch, NOW)
    [listed] = await store.watches(1)
    assert stored == listed
    expected = {field: getattr(watch, field) for field in (
        "guild_id", "name", "query", "channel_id", "webhook_url", "role_id", "feed_names",
        "color", "collapse_after", "source")}
    assert {field: getattr(stored, field) for field in expected} == expected


async def test_nul_characters_from_a_feed_are_stored(store: Store) -> None:
    # PostgreSQL text cannot hold NUL; one such byte must not fail every poll of the feed.
    await store.subscribe(111, "https://news.example/rss", "News", 300, NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    odd = Entry(key="k\x00y", title="nul\x00here", link="https://n.example/\x00")

    async def ingest_odd() -> int:
        result = await store.ingest(feed.id, [odd], now=NOW, next_check=NOW + 60, title="T\x00",
                                    etag="e\x00", last_modified=None, body_hash="h",
                                    plan=plan_all(0))
        return result.new_items

    assert await ingest_odd() == 1
    assert await ingest_odd() == 0
    assert await store.known_keys(feed.id, [odd.key, "other"]) == {odd.key}
    [item] = await store.recent_items(111, NOW - 1)
    assert item.entry == odd


async def test_postgres_claim_passes_over_a_feed_being_claimed(
        postgres_backend: PostgresBackend) -> None:
    import psycopg
    store = await postgres_backend.open()
    await store.sync_config(config(("A", "http://a.example/1"), ("B", "http://b.example/2")), NOW)
    # Another process is between claiming A and committing: its row lock is held.
    async with await psycopg.AsyncConnection.connect(postgres_backend.url) as other:
        await other.execute("SELECT id FROM feeds WHERE url = 'http://a.example/1' FOR UPDATE")
        claimed = await asyncio.wait_for(store.claim_due_feeds(NOW, 10, 120), timeout=5)
        assert [feed.name for feed in claimed] == ["B"]
        await other.rollback()
    assert [feed.name for feed in await store.claim_due_feeds(NOW, 10, 120)] == ["A"]


async def test_postgres_processes_starting_together_migrate_once(
        postgres_backend: PostgresBackend) -> None:
    from psycopg import sql
    await asyncio.gather(*(postgres_backend.open() for _ in range(4)))
    rows = await postgres_backend.admin(sql.SQL("SELECT version_num FROM {}.alembic_version")
                                        .format(sql.Identifier(postgres_backend.schema)))
    assert rows == [(HEAD,)]


async def test_postgres_reconnects_after_the_server_drops_the_connection(
        postgres_backend: PostgresBackend) -> None:
    store = await postgres_backend.open()
    await store.sync_config(config(("A", "http://a.example/feed")), NOW)
    killed = await postgres_backend.admin(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
        " WHERE application_name = %s", (postgres_backend.schema,))
    assert killed == [(True,)]
    with pytest.raises(StoreError):
        await store.ping()
    assert [s.name for s in await store.subscriptions()] == ["A"]


@pytest.mark.parametrize("url", [
    "postgresql://ww:s3cret@127.0.0.1:1/none?connect_timeout=2",  # nothing listens
    "postgresql://ww:s3cret@[127.0.0.1/none",  # malformed: libpq quotes the whole URI
])
async def test_postgres_unusable_url_is_a_store_error_without_the_password(url: str) -> None:
    pytest.importorskip("psycopg", reason="psycopg (the postgres extra) is not installed")
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    assert "127.0.0.1" in str(caught.value) and "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None  # the chained psycopg error would repeat the URI


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_open_store_chooses_postgres_by_url(postgres_backend: PostgresBackend,
                                                  scheme: str) -> None:
    from bot.core.settings import load_settings
    from bot.service.app import open_store as open_configured
    url = scheme + "://" + postgres_backend.url.split("://", 1)[1]
    store = await open_configured(load_settings({"WIREWATCH_DATABASE_URL": url}))
    try:
        assert isinstance(store, SqlStore) and store.dialect == "postgresql"
        await store.ping()
    finally:
        await store.close()


async def test_sqlite_processes_opening_a_fresh_file_together_migrate_once(
        tmp_path: Path) -> None:
    for attempt in range(10):
        path = tmp_path / f"fresh{attempt}.db"
        stores = await asyncio.gather(*(open_store(f"sqlite:///{path}") for _ in range(4)))
        for opened in stores:
            await opened.close()
        import sqlite3

        with sqlite3.connect(path) as plain:
            versions = plain.execute("SELECT version_num FROM alembic_version").fetchall()
        plain.close()
        assert versions == [(HEAD,)]


@pytest.mark.parametrize("change", ["rename", "swap"])
async def test_renaming_or_swapping_config_feeds_keeps_their_items(store: Store,
                                                                 change: str) -> None:
    a, b = "https://a.example/rss", "https://b.example/rss"
    await store.sync_config(config(("A", a), ("B", b)), NOW)
    for feed in await store.claim_due_feeds(NOW, 10, 120):
        await ingest(store, feed.id, ["1"], 0)
    changed = config(("A2", a), ("B", b)) if change == "rename" else config(("A", b), ("B", a))
    await store.sync_config(changed, NOW + 1)
    subs = {s.name: s for s in await store.subscriptions(CONFIG_GUILD)}
    expected = {"A2": a, "B": b} if change == "rename" else {"A": b, "B": a}
    assert {name: s.feed.url for name, s in subs.items()} == expected
    assert all(s.feed.primed for s in subs.values()), "items survive: no re-prime, no flood"


async def test_a_restart_ends_the_automatic_pause_of_a_config_watch(store: Store) -> None:
    await store.sync_config(config(("A", "https://a.example/rss")), NOW)
    await store.set_watch_paused(CONFIG_GUILD, "w", True, "webhook 404")
    await store.sync_config(config(("A", "https://a.example/rss")), NOW + 1)
    [watch] = await store.watches(CONFIG_GUILD)
    assert not watch.paused and watch.paused_reason is None


async def test_leases_are_released_at_start_and_once_leases_only_briefly(store: Store) -> None:
    await store.sync_config(config(("A", "https://a.example/rss")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    assert await store.claim_due_feeds(NOW + 1, 10, 120) == []
    await store.release_leases()  # as at start-up, after a process died mid-poll
    [again] = await store.claim_due_feeds(NOW + 1, 10, 120, due_before=float("inf"))
    assert again.id == feed.id
    # Taking a feed before it is due (wirewatch once) still leases it for 120 s only.
    assert [f.id for f in await store.claim_due_feeds(NOW + 122, 10, 120,
                                                      due_before=float("inf"))] == [feed.id]


async def test_one_targets_backlog_does_not_hide_another_target(store: Store) -> None:
    url = "https://a.example/rss"
    sub = await store.subscribe(111, url, "A", 300, NOW)
    busy = await store.add_watch(NewWatch(guild_id=111, name="busy", query="x",
                                          channel_id=5), NOW)
    quiet = await store.add_watch(NewWatch(guild_id=111, name="quiet", query="x",
                                           channel_id=6), NOW)
    await ingest(store, sub.feed.id, [], busy.id)
    await ingest(store, sub.feed.id, [f"b{i}" for i in range(120)], busy.id)

    def one_for_quiet(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(quiet.id, e.key, f"q-{e.key}", alert(e.title)) for e in new]

    await store.ingest(sub.feed.id, entries("q1"), now=NOW, next_check=NOW, title=None,
                       etag=None, last_modified=None, body_hash=None, plan=one_for_quiet)
    pending = await store.pending_deliveries(60)
    assert [d.item_key for d, _ in pending if d.watch_id == quiet.id] == ["q1"]
    assert sum(d.watch_id == busy.id for d, _ in pending) <= 50


async def test_a_removed_feeds_id_is_never_reused(store: Store) -> None:
    first = await store.subscribe(111, "https://a.example/rss", "A", 300, NOW)
    await store.unsubscribe(111, "A")
    second = await store.subscribe(111, "https://b.example/rss", "B", 300, NOW)
    assert second.feed.id != first.feed.id


async def test_pruning_forgets_old_sent_and_failed_deliveries_only(store: Store) -> None:
    await store.sync_config(config(("A", "https://a.example/rss")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    [watch] = await store.watches()
    await ingest(store, feed.id, ["0"], watch.id)
    await ingest(store, feed.id, ["0", "1", "2", "3"], watch.id)
    (d1, _), (d2, _), _ = await store.pending_deliveries(10)
    await store.mark_sent(d1.id, "m1", NOW)
    await store.mark_failed(d2.id, "HTTP 400", NOW)
    assert await store.prune_deliveries(NOW - 1) == 0  # nothing that old yet
    assert await store.prune_deliveries(NOW + 1) == 2
    counts = await store.outbox_counts()
    assert (counts.sent, counts.failed, counts.pending) == (0, 0, 1)
    # The items table still knows the pruned items: nothing is alerted again.
    assert await ingest(store, feed.id, ["0", "1", "2", "3"], watch.id) == (0, 0)
