"""The gateway election over a real store: one holder, a dead one replaced, a cut-off one
disconnecting on its own before its lease can pass to another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config.file import Config, FeedConfig
from bot.service.membership import GatewayElection, config_hash
from bot.store import SqlStore, open_store

TTL = 0.6


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    for owner in ("p1", "p2"):  # only a registered process may hold a lease
        await opened.register_process(owner, "host", 1, "all", "h1")
    yield opened
    await opened.close()


class Gateway:
    """Counts connects and disconnects, and whether it is connected now."""

    def __init__(self) -> None:
        self.connected = False
        self.starts = self.stops = 0

    async def start(self) -> None:
        self.connected, self.starts = True, self.starts + 1

    async def stop(self) -> None:
        self.connected, self.stops = False, self.stops + 1


def election(store: SqlStore, owner: str, gateway: Gateway) -> GatewayElection:
    return GatewayElection(store, owner, "gateway:0/1", gateway.start, gateway.stop,
                           ttl_s=TTL, every_s=0.1, give_up_s=TTL / 2)


async def test_one_holder_and_a_dead_one_is_replaced_after_its_lease(store: SqlStore) -> None:
    one, two = Gateway(), Gateway()
    first, second = election(store, "p1", one), election(store, "p2", two)
    await first.step()
    await second.step()
    assert (one.connected, two.connected) == (True, False)
    await first.step()  # a renewal changes nothing
    assert one.starts == 1
    await asyncio.sleep(TTL + 0.1)  # p1 died: it renews no more
    await second.step()
    assert two.connected and second.holding
    await first.step()  # p1 comes back to life: the lease is p2's now
    assert not one.connected and one.stops == 1


async def test_a_holder_that_cannot_renew_disconnects_before_its_lease_ends(
        store: SqlStore) -> None:
    gateway = Gateway()
    holder = election(store, "p1", gateway)
    await holder.step()
    assert gateway.connected
    await store.close()  # the database is gone for this process
    await holder.step()  # within the give-up time: keep the session
    assert gateway.connected
    await asyncio.sleep(TTL / 2 + 0.1)
    await holder.step()
    assert not gateway.connected and not holder.holding


async def test_run_releases_the_lease_on_stop(store: SqlStore) -> None:
    gateway = Gateway()
    stop = asyncio.Event()
    task = asyncio.create_task(election(store, "p1", gateway).run(stop))
    await asyncio.sleep(0.3)
    assert gateway.connected
    stop.set()
    await task
    assert not gateway.connected
    assert await store.acquire_lease("gateway:0/1", "p2", TTL)  # free at once, not at expiry


def test_the_config_hash_changes_with_the_config_only() -> None:
    one = Config(feeds=(FeedConfig(name="a", url="https://a.example/rss"),))
    same = Config(feeds=(FeedConfig(name="a", url="https://a.example/rss"),))
    other = Config(feeds=(FeedConfig(name="a", url="https://b.example/rss"),))
    assert config_hash(one) == config_hash(same) != config_hash(other)
