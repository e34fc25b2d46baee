"""What several processes share through the store, on SQLite and PostgreSQL: process rows,
named leases, owner-named feed claims, guarded delivery updates and the config in force."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from bot.store.base import Store
from tests.store.test_store import config, ingest

if TYPE_CHECKING:
    from tests.store.conftest import Backend, PostgresBackend

TTL = 0.5  # seconds: short, so expiry is tested for real


async def register(store: Store, name: str, digest: str = "h1") -> None:
    await store.register_process(name, "host", 1, "all", digest)


async def test_a_lease_has_one_owner_until_it_expires(store: Store) -> None:
    await register(store, "A")
    await register(store, "B")
    assert await store.acquire_lease("gateway:0/1", "A", TTL)
    assert not await store.acquire_lease("gateway:0/1", "B", TTL)
    assert await store.acquire_lease("gateway:0/1", "A", TTL)  # a renewal
    await asyncio.sleep(TTL + 0.2)
    assert await store.acquire_lease("gateway:0/1", "B", TTL)  # expired: taken over
    assert not await store.acquire_lease("gateway:0/1", "A", TTL)  # A lost it
    await store.release_lease("gateway:0/1", "A")  # not A's: nothing happens
    assert not await store.acquire_lease("gateway:0/1", "A", TTL)
    await store.release_lease("gateway:0/1", "B")
    assert await store.acquire_lease("gateway:0/1", "A", TTL)


async def test_feed_claims_name_their_owner_and_a_dead_owners_are_freed(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/1"), ("B", "http://b.example/2")),
                            time.time() - 10)
    await register(store, "p1")
    await register(store, "p2")
    claimed, now, following = await store.claim_feeds("p1", 1, 120)
    assert len(claimed) == 1 and abs(now - time.time()) < 5  # the database's clock
    assert following is not None and following < now  # the other one is due too
    other, _, following = await store.claim_feeds("p2", 10, 120)
    assert [f.id for f in other] != [f.id for f in claimed] and len(other) == 1
    assert following is None  # every feed is leased
    assert (await store.claim_feeds("p2", 10, 120))[0] == []
    await asyncio.sleep(TTL + 0.2)
    await store.heartbeat("p2", TTL)  # p1 went silent: its lease is freed, p2's kept
    again, _, _ = await store.claim_feeds("p2", 10, 120)
    assert [f.id for f in again] == [f.id for f in claimed]
    assert [p.id for p in await store.live_processes(TTL)] == ["p2"]


async def test_a_claim_names_the_next_due_time_of_what_it_left(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/1")), time.time() + 3600)
    await register(store, "p1")
    claimed, now, following = await store.claim_feeds("p1", 10, 120)
    assert claimed == [] and following is not None and 3500 < following - now < 3700


async def test_only_the_target_holder_sends_and_a_sent_row_never_fails(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/1")), time.time())
    [feed] = await store.claim_due_feeds(time.time(), 10, 120)
    [watch] = await store.watches()
    await ingest(store, feed.id, ["1"], watch.id)
    await ingest(store, feed.id, ["1", "2"], watch.id)
    [(delivery, _)] = await store.pending_deliveries(10)
    lease = f"target:{delivery.target}"
    await register(store, "p1")
    await register(store, "p2")
    assert not await store.start_attempt(delivery.id, "p1", lease, time.time())  # no lease
    assert await store.acquire_lease(lease, "p1", 30)
    assert not await store.start_attempt(delivery.id, "p2", lease, time.time())  # not p2's
    assert await store.start_attempt(delivery.id, "p1", lease, time.time())
    await store.mark_failed(delivery.id, "not mine", time.time(), owner="p2")  # ignored
    await store.mark_sent(delivery.id, "m1", time.time(), owner="p1")
    await store.mark_failed(delivery.id, "late failure", time.time(), owner="p1")  # ignored
    await store.mark_failed(delivery.id, "late failure", time.time())  # ignored too
    counts = await store.outbox_counts()
    assert (counts.sent, counts.failed, counts.pending) == (1, 0, 0)
    assert await store.delivery_errors(0, 10) == []
    assert not await store.start_attempt(delivery.id, "p1", lease, time.time())  # sent


async def test_the_config_in_force_is_synced_once_and_a_different_one_refused(
        store: Store) -> None:
    first = config(("A", "http://a.example/1"))
    assert await store.adopt_config(first, "h1", TTL, time.time()) is None
    await register(store, "p1", "h1")
    assert await store.adopt_config(first, "h1", TTL, time.time()) is None  # idempotent
    second = config(("B", "http://b.example/2"))
    assert await store.adopt_config(second, "h2", TTL, time.time()) == "h1"  # p1 runs h1
    assert [s.name for s in await store.subscriptions()] == ["A"]
    await asyncio.sleep(TTL + 0.2)  # p1 is gone: a rolling restart may change the config
    assert await store.adopt_config(second, "h2", TTL, time.time()) is None
    assert [s.name for s in await store.subscriptions()] == ["B"]


async def test_postgres_racing_processes_get_a_lease_exactly_once(
        postgres_backend: PostgresBackend) -> None:
    stores = [await postgres_backend.open() for _ in range(4)]
    for i in range(4):
        await register(stores[0], f"p{i}")
    won = await asyncio.gather(*(s.acquire_lease("gateway:0/1", f"p{i}", 30)
                                 for i, s in enumerate(stores)))
    assert sorted(token is not None for token in won) == [False, False, False, True]


async def test_postgres_times_are_the_databases(backend: Backend) -> None:
    store = await backend.open()
    now = await store.register_process("p", "h", 1, "all", "x")
    assert abs(now - time.time()) < 5


async def test_forgetting_processes_frees_every_claim(store: Store) -> None:
    # What `wirewatch run` on SQLite does at start: the lock file proves the rest dead.
    await store.sync_config(config(("A", "http://a.example/1")), time.time() - 10)
    await register(store, "p1")
    assert await store.acquire_lease("target:channel:1", "p1", 30)
    assert len((await store.claim_feeds("p1", 10, 120))[0]) == 1
    await store.forget_processes()
    await register(store, "p2")
    assert await store.acquire_lease("target:channel:1", "p2", 30)
    assert len((await store.claim_feeds("p2", 10, 120))[0]) == 1
    assert [p.id for p in await store.live_processes(TTL)] == ["p2"]
