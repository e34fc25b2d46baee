"""A poll against the database's partial failures (issue 20): a poll whose claim passed to
another writes nothing, and a database error during ingest is written on the feed row."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, select

from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import Outcome, PollDeps, poll_feed
from bot.store import SqlStore, open_store
from bot.store.database import DbLimits
from bot.store.rows import FeedRow
from bot.store.schema import feeds, items
from tests.e2e.harness import rss
from tests.fakes.feed_server import FeedServer
from tests.store.conftest import PostgresBackend, fresh_postgres

GUILD = 111
LEASE = 0.3


@dataclass
class Poller:
    """One process's poll parts over its own store."""

    deps: PollDeps
    store: SqlStore


@contextlib.asynccontextmanager
async def poller(store: SqlStore) -> AsyncIterator[Poller]:
    fetcher = Fetcher(FetchLimits(deadline_s=5), AddressGuard((ipaddress.ip_network(
        "127.0.0.0/8"),)))
    parser = IsolatedParser(workers=1, timeout_s=10)
    try:
        yield Poller(PollDeps(store=store, fetcher=fetcher, parser=parser, clock=time.time,
                              rng=random.Random(1)), store)
    finally:
        await fetcher.close()
        await parser.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ww.db'}"
    else:
        async with fresh_postgres() as backend:
            yield backend.url


@pytest.fixture
async def postgres_backend() -> AsyncIterator[PostgresBackend]:
    """A fresh schema on the test server."""
    async with fresh_postgres() as backend:
        yield backend


async def claim(store: SqlStore, lease_s: float = 120) -> FeedRow:
    [feed] = await store.claim_due_feeds(time.time(), 10, lease_s)
    return feed


async def test_a_poll_whose_claim_passed_on_writes_nothing(url: str) -> None:
    store = await open_store(url)
    async with FeedServer() as server, poller(store) as mine:
        server.serve("/a", rss([("1", "Tariffs rise")]))
        await store.subscribe(GUILD, server.url("/a"), "a", 60, time.time() - 10)
        stalled = await claim(store, LEASE)
        await asyncio.sleep(LEASE + 0.1)  # its process paused past the claim
        current = await claim(store)
        result = await poll_feed(stalled, mine.deps)
        assert result.outcome == Outcome.FAILED and "claimed again" in (result.error or "")
        row = await store.feed(stalled.id)
        assert row is not None and not row.primed and row.error_count == 0
        assert await store.known_keys(stalled.id, ["1"]) == set()  # nothing was recorded
        assert (await poll_feed(current, mine.deps)).outcome == Outcome.INGESTED
        assert await store.known_keys(stalled.id, ["1"]) == {"1"}
    await store.close()


async def test_a_database_error_during_ingest_is_written_on_the_feed_row(
        postgres_backend: PostgresBackend) -> None:
    url = postgres_backend.url
    other = await open_store(url)  # another process, stopped inside its ingest
    store = await open_store(url, limits=DbLimits(lock_s=0.5))
    entered, release = threading.Event(), threading.Event()

    def stopped_inside(conn: Connection) -> None:
        # Stopped inside an ingest of the same new item: our insert of "2" waits on its
        # uncommitted row (story books are not locked through an ingest any more).
        feed_id = conn.execute(select(feeds.c.id)).scalar()
        conn.execute(insert(items).values(feed_id=feed_id, key="2", title="Tariffs fall",
                                          link="https://news.example/2", first_seen=time.time(),
                                          data="{}"))
        entered.set()
        release.wait(20)

    try:
        async with FeedServer() as server, poller(store) as mine:
            server.serve("/a", rss([("1", "Tariffs rise")]))
            await store.subscribe(GUILD, server.url("/a"), "a", 60, time.time() - 10)
            assert (await poll_feed(await claim(store), mine.deps)).outcome == Outcome.INGESTED
            server.serve("/a", rss([("2", "Tariffs fall"), ("1", "Tariffs rise")]))
            held = asyncio.create_task(other.write(stopped_inside))
            assert await asyncio.to_thread(entered.wait, 10)
            feed = await store.feed((await store.subscriptions())[0].feed.id)
            assert feed is not None
            result = await asyncio.wait_for(poll_feed(feed, mine.deps), 10)
            release.set()
            await held
        assert result.outcome == Outcome.FAILED
        row = await store.feed(feed.id)
        assert row is not None and row.error_count == 1
        assert "lock timeout" in (row.last_error or ""), row.last_error
    finally:
        release.set()
        await store.close()
        await other.close()
