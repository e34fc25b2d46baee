"""Who may reach the operator's private networks: config feeds and listed guilds, per URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.errors import AddressRefused
from bot.pipeline.access import STALE_S, PrivateAccess
from bot.pipeline.fetch import Fetched, Fetcher, FetchLimits
from bot.pipeline.netguard import AddressGuard, parse_networks
from bot.store import SqlStore, open_store
from bot.store.rows import CONFIG_GUILD
from tests.fakes.feed_server import FeedServer, rss

LISTED, OTHER = 101, 202


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(f"sqlite:///{tmp_path / 'w.db'}")
    yield opened
    await opened.close()


async def test_a_feed_reaches_private_networks_only_through_an_allowed_subscriber(
        store: SqlStore) -> None:
    clock = Clock()
    access = PrivateAccess(store, (LISTED,), clock=clock)
    fetcher = Fetcher(FetchLimits(deadline_s=2.0), AddressGuard(parse_networks("127.0.0.0/8")),
                      access)
    async with FeedServer() as server:
        server.serve("/f", rss(2))
        url = server.url("/f")
        try:
            # Followed only by a guild that is not listed (added while the name resolved to a
            # public address, say): its polls are refused before any connection.
            await store.subscribe(OTHER, url, "theirs", 60.0, 0.0)
            with pytest.raises(AddressRefused, match="not a public address"):
                await fetcher.fetch(url)
            assert server.hits("/f") == 0
            # The config file follows it too: now it may be fetched (once the cache is stale).
            await store.subscribe(CONFIG_GUILD, url, "operator", 60.0, 0.0)
            clock.now += STALE_S
            assert isinstance(await fetcher.fetch(url), Fetched)
            # An explicit allowance wins over the policy (what /feed add uses).
            with pytest.raises(AddressRefused):
                await fetcher.fetch(url, private=False)
            assert isinstance(await fetcher.fetch(url, private=True), Fetched)
            assert server.hits("/f") == 2
        finally:
            await fetcher.close()


async def test_a_listed_guild_is_allowed_and_a_grant_counts_at_once(store: SqlStore) -> None:
    access = PrivateAccess(store, (LISTED,), clock=Clock())
    assert access.guild_allowed(LISTED) and access.guild_allowed(CONFIG_GUILD)
    assert not access.guild_allowed(OTHER)
    await store.subscribe(LISTED, "http://10.0.0.5/feed", "lan", 60.0, 0.0)
    assert await access.permits("http://10.0.0.5/feed")
    assert not await access.permits("http://10.0.0.6/feed")
    access.grant("http://10.0.0.6/feed")
    assert access.granted("http://10.0.0.6/feed")


async def test_without_private_networks_nothing_private_is_reached_whatever_the_policy(
        store: SqlStore) -> None:
    access = PrivateAccess(store, (LISTED,), clock=Clock())
    fetcher = Fetcher(FetchLimits(deadline_s=2.0), AddressGuard(), access)
    try:
        access.grant("http://127.0.0.1:9/feed")
        with pytest.raises(AddressRefused):
            await fetcher.fetch("http://127.0.0.1:9/feed", private=True)
    finally:
        await fetcher.close()
