"""Each slash command claimed once (issue 20), on SQLite and PostgreSQL: several processes
(several stores on one database) race for one interaction id; a lease, when named, must be
the claimer's and unexpired."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from bot.store.base import Store

if TYPE_CHECKING:
    from tests.store.conftest import Backend

LEASE = "gateway:0/1"


async def test_one_claim_per_interaction_among_three_processes(backend: Backend) -> None:
    stores = [await backend.open() for _ in range(3)]
    now = time.time()
    for attempt in range(5):  # five commands, each delivered to all three at once
        won = await asyncio.gather(*(store.claim_interaction(1000 + attempt, f"p{index}",
                                                             None, now)
                                     for index, store in enumerate(stores)))
        assert sum(won) == 1, won
    assert not await stores[0].claim_interaction(1000, "p0", None, now)  # a replay


async def test_a_claim_needs_the_lease_held_by_the_claimer(store: Store) -> None:
    now = time.time()
    for name in ("A", "B"):  # only registered processes take leases (issue 20)
        await store.register_process(name, "host", 1, "all", "h1")
    assert not await store.claim_interaction(1, "A", LEASE, now)  # nobody holds it
    assert await store.acquire_lease(LEASE, "B", 15.0)
    assert not await store.claim_interaction(1, "A", LEASE, now)  # another process does
    assert await store.claim_interaction(1, "B", LEASE, now)
    assert await store.acquire_lease("gateway:1/2", "A", 0.2)
    await asyncio.sleep(0.4)
    assert not await store.claim_interaction(2, "A", "gateway:1/2", now)  # expired
    assert await store.claim_interaction(2, "A", None, now)  # no lease asked: a lone process


async def test_a_claim_names_the_holding_it_proved(store: Store) -> None:
    """The fencing token: the claimer's own lease, lapsed and taken again, is a new holding;
    a command the old holding received must not run under it."""
    now = time.time()
    await store.register_process("A", "host", 1, "all", "h1")
    old = await store.acquire_lease(LEASE, "A", 0.2)
    assert old is not None
    await asyncio.sleep(0.4)
    new = await store.acquire_lease(LEASE, "A", 15.0)
    assert new is not None and new != old
    assert not await store.claim_interaction(1, "A", LEASE, now, old)
    assert await store.claim_interaction(1, "A", LEASE, now, new)


async def test_handled_interactions_are_pruned(store: Store) -> None:
    await store.claim_interaction(1, "A", None, 100.0)
    await store.claim_interaction(2, "A", None, 200.0)
    assert await store.prune_interactions(150.0) == 1
    assert await store.claim_interaction(1, "A", None, 300.0)  # forgotten: claimable again
    assert not await store.claim_interaction(2, "A", None, 300.0)
