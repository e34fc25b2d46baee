"""Fencing in the store (issue 20), on SQLite and PostgreSQL: lease tokens, a forgotten
process that must join again, and writes refused once a later holder has taken over."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.core.errors import LeaseLost
from bot.store.base import Store
from tests.store.test_store import config, ingest

TTL = 0.4  # seconds: short, so expiry is tested for real
FORGET_S = 10 * TTL + 0.3  # a process silent this long is forgotten (its row deleted)


async def register(store: Store, *names: str) -> None:
    for name in names:
        await store.register_process(name, "host", 1, "all", "h1")


async def test_a_lease_token_stays_while_renewed_and_grows_with_each_new_holding(
        store: Store) -> None:
    await register(store, "A", "B")
    first = await store.acquire_lease("gateway:0/1", "A", TTL)
    assert first is not None
    assert await store.acquire_lease("gateway:0/1", "A", TTL) == first  # a renewal
    assert await store.acquire_lease("gateway:0/1", "B", TTL) is None
    await asyncio.sleep(TTL + 0.1)
    second = await store.acquire_lease("gateway:0/1", "B", TTL)
    assert second is not None and second > first
    await store.release_lease("gateway:0/1", "B", first)  # an old holding's: refused
    assert await store.acquire_lease("gateway:0/1", "A", TTL) is None
    await store.release_lease("gateway:0/1", "B", second)
    third = await store.acquire_lease("gateway:0/1", "A", TTL)  # released, not forgotten
    assert third is not None and third > second
    await asyncio.sleep(TTL + 0.1)  # A's own lease lapsed: taking it again is a new holding
    fourth = await store.acquire_lease("gateway:0/1", "A", TTL)
    assert fourth is not None and fourth > third


async def test_a_silent_holders_lease_is_not_freed_before_it_expires(store: Store) -> None:
    # Its own deadline is the lease's, not its heartbeat's: freeing it earlier would let
    # another process send while the paused holder still (rightly) counts on it.
    await register(store, "A", "B")
    assert await store.acquire_lease("target:channel:1", "A", 3 * TTL)
    await asyncio.sleep(TTL + 0.1)
    await store.heartbeat("B", TTL)  # A looks dead now
    assert await store.acquire_lease("target:channel:1", "B", TTL) is None
    await asyncio.sleep(2 * TTL)
    assert await store.acquire_lease("target:channel:1", "B", TTL) is not None


async def test_a_forgotten_process_holds_nothing_until_it_joins_again(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/1")), time.time() - 10)
    await register(store, "A", "B")
    held = await store.acquire_lease("gateway:0/1", "A", 60)
    assert held is not None
    await asyncio.sleep(FORGET_S)
    assert await store.heartbeat("B", TTL) is not None  # B forgets A
    assert await store.heartbeat("A", TTL) is None  # A notices at its next heartbeat
    assert await store.acquire_lease("target:channel:1", "A", 60) is None
    assert (await store.claim_feeds("A", 10, 120))[0] == []
    await store.register_process("A", "host", 1, "all", "h1", generation=2)
    # Joining again dropped what A held: its next holding has a new token.
    again = await store.acquire_lease("gateway:0/1", "A", 60)
    assert again is not None and again > held
    assert "A" in [p.id for p in await store.live_processes(TTL)]
    assert len((await store.claim_feeds("A", 10, 120))[0]) == 1


async def test_a_stale_senders_attempt_and_marks_change_nothing(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/1")), time.time())
    await register(store, "p1", "p2")
    [feed] = await store.claim_due_feeds(time.time(), 10, 120)
    [watch] = await store.watches()
    await ingest(store, feed.id, ["1"], watch.id)
    await ingest(store, feed.id, ["1", "2"], watch.id)
    [(delivery, _)] = await store.pending_deliveries(10)
    lease = f"target:{delivery.target}"
    old = await store.acquire_lease(lease, "p1", TTL)
    assert await store.start_attempt(delivery.id, "p1", lease, time.time(), old)
    await asyncio.sleep(TTL + 0.1)  # p1 paused past its claim; it lapsed
    again = await store.acquire_lease(lease, "p1", TTL)  # even p1 itself, holding anew
    assert again is not None and again != old
    assert not await store.start_attempt(delivery.id, "p1", lease, time.time(), old)
    assert await store.start_attempt(delivery.id, "p1", lease, time.time(), again)
    await store.mark_sent(delivery.id, "m-old", time.time(), owner="p1", token=old)
    await store.mark_failed(delivery.id, "old", time.time(), owner="p1", token=old)
    assert (await store.outbox_counts()).pending == 1  # the stale holding changed nothing
    await store.mark_sent(delivery.id, "m1", time.time(), owner="p1", token=again)
    assert (await store.outbox_counts()).sent == 1


async def test_a_poll_whose_feed_was_claimed_again_writes_nothing(store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/1")), time.time() - 10)
    [stale] = await store.claim_due_feeds(time.time(), 10, TTL)
    await asyncio.sleep(TTL + 0.1)  # its poll stalled past the lease
    [fresh] = await store.claim_due_feeds(time.time(), 10, 120)
    assert fresh.lease_token > stale.lease_token
    later = time.time() + 3600
    await store.record_unchanged(stale.id, time.time(), later, lease=stale.lease_token)
    assert await store.record_failure(stale.id, time.time(), "late", later,
                                      lease=stale.lease_token) == 0
    assert not await store.pause_feed(stale.id, later, lease=stale.lease_token)
    with pytest.raises(LeaseLost):
        await store.ingest(stale.id, [], now=time.time(), next_check=later, title=None,
                           etag=None, last_modified=None, body_hash=None,
                           plan=lambda new: [], lease=stale.lease_token)
    row = await store.feed(stale.id)
    assert row is not None and row.next_check < later and row.error_count == 0
    assert not row.paused and not row.primed
    # The current claim's poll is recorded, and frees the feed.
    await store.record_unchanged(fresh.id, time.time(), time.time() - 1,
                                 lease=fresh.lease_token)
    assert len(await store.claim_due_feeds(time.time(), 10, 120)) == 1
