"""Held matches and digests in the store, on every backend: made once per (watch, period)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from bot.config.cadence import SEND_NOW, make_cadence
from bot.config.file import Config, FeedConfig, WatchConfig
from bot.core.model import Alert, Entry, Snippet
from bot.delivery.digests import digest_drafts
from bot.store.base import Store
from bot.store.rows import DeliveryDraft, NewWatch

if TYPE_CHECKING:
    from tests.store.conftest import Backend

NOW = 1_800_000_000.0
PERIOD = 1_800_001_800.0  # the end of the digest period the matches are held for
HOURLY = make_cadence(deliver="hourly", timezone="Europe/Berlin", quiet="22:00-07:00",
                      urgent="quake")


def setup_config() -> Config:
    return Config(feeds=(FeedConfig(name="A", url="http://a.example/feed", interval=60),),
                  watches=(WatchConfig(name="w", query="tariffs", deliver="hourly"),))


def held_plan(watch_id: int, until: float | None):  # type: ignore[no-untyped-def]
    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(watch_id, e.key, f"n-{e.key}", Alert(
            watch_name="w", feed_name="A", title=f"Tariffs {e.key}",
            link=f"https://n.example/{e.key}", snippet=Snippet(""), matched_terms=()),
            hold_until=until) for e in new]
    return plan


async def ingest(store: Store, feed_id: int, keys: Sequence[str], watch_id: int,
                 until: float | None) -> int:
    result = await store.ingest(
        feed_id, [Entry(key=k, title=k) for k in keys], now=NOW, next_check=NOW + 60,
        title="T", etag=None, last_modified=None, body_hash=None,
        plan=held_plan(watch_id, until))
    return result.deliveries


async def primed(store: Store) -> tuple[int, int]:
    await store.sync_config(setup_config(), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    [watch] = await store.watches()
    await ingest(store, feed.id, ["old"], watch.id, None)  # the silent first poll
    return feed.id, watch.id


async def test_config_cadence_is_stored(store: Store) -> None:
    await store.sync_config(setup_config(), NOW)
    [watch] = await store.watches()
    assert watch.cadence == make_cadence(deliver="hourly")


async def test_held_matches_become_one_digest_once(store: Store) -> None:
    feed_id, watch_id = await primed(store)
    assert await ingest(store, feed_id, ["1", "2"], watch_id, PERIOD) == 0
    assert await ingest(store, feed_id, ["3"], watch_id, None) == 1  # instant goes now
    assert [d.item_key for d, _ in await store.pending_deliveries(10)] == ["3"]
    assert await store.due_digests(PERIOD - 1) == []
    assert await store.due_digests(PERIOD) == [(watch_id, PERIOD)]

    assert await store.make_digest(watch_id, PERIOD, PERIOD + 2, digest_drafts) == 1
    assert await store.make_digest(watch_id, PERIOD, PERIOD + 3, digest_drafts) == 0
    assert await store.due_digests(PERIOD + 10) == []
    [_, (digest, _)] = await store.pending_deliveries(10)
    assert digest.item_key == f"digest:{PERIOD:.0f}:1" and digest.feed_id == 0
    assert "Tariffs 1" in digest.alert.snippet.text and "Tariffs 2" in digest.alert.snippet.text
    assert digest.alert.title.startswith("w: 2 matches, until ")


async def test_a_match_late_for_a_made_digest_goes_out_alone(store: Store) -> None:
    feed_id, watch_id = await primed(store)
    await ingest(store, feed_id, ["1"], watch_id, PERIOD)
    assert await store.make_digest(watch_id, PERIOD, PERIOD + 2, digest_drafts) == 1
    # A poll that read the clock just before the boundary commits after the digest was made.
    assert await ingest(store, feed_id, ["2"], watch_id, PERIOD) == 1
    keys = [d.item_key for d, _ in await store.pending_deliveries(10)]
    assert keys == [f"digest:{PERIOD:.0f}:1", "2"]
    assert await store.due_digests(PERIOD + 10) == []


async def test_processes_racing_for_a_digest_make_it_once(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    feed_id, watch_id = await primed(first)
    await ingest(first, feed_id, [str(i) for i in range(30)], watch_id, PERIOD)
    made = await asyncio.gather(*(store.make_digest(watch_id, PERIOD, PERIOD + 2,
                                                    digest_drafts)
                                  for store in (first, second, first, second)))
    assert sorted(made) == [0, 0, 0, 1]
    pending = await second.pending_deliveries(10)
    assert [d.item_key for d, _ in pending] == [f"digest:{PERIOD:.0f}:1"]


async def test_watch_cadence_round_trips_and_is_set(store: Store) -> None:
    stored = await store.add_watch(NewWatch(guild_id=1, name="x", query="a", channel_id=5,
                                            cadence=HOURLY), NOW)
    assert stored.cadence == HOURLY
    assert await store.set_watch_cadence(1, "x", SEND_NOW)
    [listed] = await store.watches(1)
    assert listed.cadence == SEND_NOW
    assert not await store.set_watch_cadence(1, "nope", SEND_NOW)


async def test_old_digests_and_their_matches_are_pruned_held_ones_stay(store: Store) -> None:
    feed_id, watch_id = await primed(store)
    await ingest(store, feed_id, ["1"], watch_id, PERIOD)
    await store.make_digest(watch_id, PERIOD, PERIOD + 2, digest_drafts)
    await ingest(store, feed_id, ["2"], watch_id, PERIOD + 3600)  # still held
    assert await store.prune_digests(PERIOD + 2) == 0  # made at PERIOD + 2: not before
    assert await store.prune_digests(PERIOD + 10) == 1
    assert await store.due_digests(PERIOD + 3600) == [(watch_id, PERIOD + 3600)]
    assert await store.make_digest(watch_id, PERIOD + 3600, PERIOD + 3602, digest_drafts) == 1


async def test_racing_stragglers_lose_no_match(store: Store) -> None:
    """Two processes queue the stragglers of one made digest, each from its own earlier read.

    On PostgreSQL a poll that checked for the digest just before it was made commits its held
    match after; two processes' ``make_digest`` may read the stragglers at different moments.
    Whichever marks a match taken must also queue it.
    """
    from sqlalchemy import insert, select

    from bot.store.codec import alert_to_json
    from bot.store.database import Database
    from bot.store.digests import Digests
    from bot.store.schema import digests, held_matches

    feed_id, watch_id = await primed(store)
    await ingest(store, feed_id, ["1"], watch_id, PERIOD)
    assert await store.make_digest(watch_id, PERIOD, PERIOD + 2, digest_drafts) == 1
    [draft] = held_plan(watch_id, PERIOD)([Entry(key="x", title="x")])
    rows = [{"watch_id": watch_id, "feed_id": feed_id, "item_key": key, "nonce": f"n-{key}",
             "payload": alert_to_json(draft.alert), "hold_until": PERIOD, "created_at": NOW}
            for key in ("2", "3")]
    db = cast(Database, store)  # the real store's own transactions (no mock)
    await db.write(lambda conn: conn.execute(insert(held_matches), rows))

    def look(keys: tuple[str, ...]):  # type: ignore[no-untyped-def]
        return lambda conn: list(conn.execute(select(held_matches).where(
            held_matches.c.item_key.in_(keys))).mappings().all())

    early = await db.read(look(("2",)))  # before "3" committed
    late = await db.read(look(("2", "3")))
    digest_id = await db.read(
        lambda conn: conn.execute(select(digests.c.id)).scalar_one())
    await db.write(lambda conn: Digests._stragglers(conn, digest_id, early, PERIOD + 5))
    await db.write(lambda conn: Digests._stragglers(conn, digest_id, late, PERIOD + 6))
    keys = sorted(d.item_key for d, _ in await store.pending_deliveries(10))
    assert keys == ["2", "3", f"digest:{PERIOD:.0f}:1"]
    assert await store.due_digests(PERIOD + 10) == []
