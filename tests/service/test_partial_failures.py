"""Partial failures on the real PostgreSQL (issue 20, cases 1–4): a paused sender, a hung
lease renewal, a process stopped inside a transaction, a process the others forgot.

Each process is a store of its own (its own connection pool) on one fresh schema; a "pause"
stops one of them at the worst moment, and a frozen TCP relay stands for its network path to
the database hanging. Timings are shortened so each case takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from sqlalchemy import Connection, select

from bot.delivery.claims import ClaimTimes
from bot.delivery.console import ConsoleSender
from bot.delivery.discord_rest import DiscordSender
from bot.delivery.outbox import OutboxSender
from bot.service.membership import DbClock, GatewayElection, Membership, ProcessInfo
from bot.service.roles import ALL_ROLES
from bot.store import SqlStore, open_store
from bot.store.database import DbLimits
from bot.store.rows import NewWatch
from bot.store.schema import feeds
from tests.delivery.rig import queue
from tests.fakes.discord_payloads import BOT_TOKEN, GUILD_ID, WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.tcp_relay import TcpRelay
from tests.store.conftest import PostgresBackend, fresh_postgres
from tests.store.test_store import config, entries

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def postgres_backend() -> AsyncIterator[PostgresBackend]:
    """A fresh schema on the test server (skips, or fails under CI, without one)."""
    async with fresh_postgres() as backend:
        yield backend


@contextlib.asynccontextmanager
async def process(url: str, kind: type[SqlStore] = SqlStore, name: str | None = None,
                  limits: DbLimits | None = None) -> AsyncIterator[SqlStore]:
    """One process's store (registered as ``name``), closed at the end."""
    store = await open_store(url, kind, limits)
    try:
        if name is not None:
            await store.register_process(name, "host", 1, "all", "h1")
        yield store
    finally:
        await store.close()


def via(url: str, port: int) -> str:
    """``url`` with its server reached through a relay on 127.0.0.1:``port``."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user
                                     else f"127.0.0.1:{port}"))


class Gateway:
    """A gateway session of one process; every change goes on a shared timeline."""

    def __init__(self, name: str, timeline: list[tuple[float, str, bool]]) -> None:
        self.name, self.timeline, self.connected = name, timeline, False

    async def start(self) -> None:
        self.connected = True
        self.timeline.append((time.monotonic(), self.name, True))

    async def stop(self) -> None:
        self.connected = False
        self.timeline.append((time.monotonic(), self.name, False))


def most_at_once(timeline: list[tuple[float, str, bool]]) -> int:
    """The most sessions connected at one moment."""
    now, most = set(), 0
    for _, name, up in sorted(timeline):
        (now.add if up else now.discard)(name)
        most = max(most, len(now))
    return most


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


class PausedAfterAttempt(SqlStore):
    """The real store; its process is paused (SIGSTOP, a VM migration) right after its next
    attempt is recorded, before the POST: the moment the review found."""

    pause_s = 0.0

    async def start_attempt(self, *args: Any, **kwargs: Any) -> bool:
        started = await super().start_attempt(*args, **kwargs)
        if started and self.pause_s:
            pause, self.pause_s = self.pause_s, 0.0
            await asyncio.sleep(pause)
        return started


def sender(store: SqlStore, owner: str, session: aiohttp.ClientSession, fake: FakeDiscord,
           claim_s: float) -> OutboxSender:
    outbox = OutboxSender(store, console=ConsoleSender(), clock=time.time,
                          discord=DiscordSender(session, fake.api_base, BOT_TOKEN, time.time))
    outbox.owner = owner
    outbox.claim_times = ClaimTimes(ttl_s=claim_s, budget_s=claim_s / 2, margin_s=claim_s / 10)
    return outbox


async def test_case1_a_sender_paused_past_its_claim_never_posts(
        postgres_backend: PostgresBackend) -> None:
    claim = 1.0
    url = postgres_backend.url
    async with process(url, PausedAfterAttempt, "A") as a, process(url, name="B") as b, \
            FakeDiscord() as fake, aiohttp.ClientSession() as session:
        assert isinstance(a, PausedAfterAttempt)
        watch = await b.add_watch(NewWatch(guild_id=GUILD_ID, name="hook", query="tariffs",
                                           webhook_url=FakeWebhook().url, stories="every-item"),
                                  time.time())
        await queue(b, watch, 3)
        a.pause_s = claim * 1.6
        paused = asyncio.create_task(sender(a, "A", session, fake, claim).drain_once())
        await asyncio.sleep(claim * 1.2)  # A's claim ran out; B takes the target over
        assert await sender(b, "B", session, fake, claim).drain_once() == 3
        await paused  # A wakes up after B sent everything
        await asyncio.sleep(0.3)
    titles = [m["embeds"][0]["title"] for m in fake.webhook_messages(WEBHOOK_ID)]
    assert sorted(titles) == [f"Story {i} on tariffs" for i in range(3)], titles


async def test_case2_a_holder_whose_renewal_hangs_disconnects_before_another_connects(
        postgres_backend: PostgresBackend) -> None:
    timeline: list[tuple[float, str, bool]] = []
    one, two = Gateway("A", timeline), Gateway("B", timeline)
    stop = asyncio.Event()
    async with TcpRelay("127.0.0.1", urlsplit(postgres_backend.url).port or 5432) as relay, \
            process(via(postgres_backend.url, relay.port), name="A") as a, \
            process(postgres_backend.url, name="B") as b:
        first = GatewayElection(a, "A", "gateway:0/1", one.start, one.stop, ttl_s=1.5,
                                every_s=0.2, give_up_s=1.0)
        second = GatewayElection(b, "B", "gateway:0/1", two.start, two.stop, ttl_s=1.5,
                                 every_s=0.2, give_up_s=1.0)
        tasks = [asyncio.create_task(first.run(stop))]
        await wait_until(lambda: one.connected, 5, "A's session")
        tasks.append(asyncio.create_task(second.run(stop)))
        await asyncio.sleep(0.5)
        relay.freeze()  # A's path to the database hangs: its next renewal never answers
        frozen = time.monotonic()
        try:
            await wait_until(lambda: not one.connected, 3, "A to give the gateway up")
            gave_up = time.monotonic() - frozen
            await wait_until(lambda: two.connected, 5, "B's session")
        finally:
            relay.thaw()
            stop.set()
            await asyncio.wait(tasks, timeout=5)
            for task in tasks:
                task.cancel()
    assert gave_up <= 1.0 + 0.5, gave_up  # within its give-up time (plus a step)
    assert most_at_once(timeline) == 1, timeline


async def test_case3_a_process_stopped_inside_its_ingest_stalls_no_other(
        postgres_backend: PostgresBackend) -> None:
    url, ttl = postgres_backend.url, 0.3
    async with process(url, name="A", limits=DbLimits(idle_in_transaction_s=2.0)) as a, \
            process(url, name="B") as b:
        await b.sync_config(config(("one", "http://a.example/1"), ("two", "http://b.example/2")),
                            time.time() - 10)
        [mine], _, _ = await a.claim_feeds("A", 1, 120)
        other = next(s.feed for s in await b.subscriptions() if s.feed.id != mine.id)
        await b.ingest(other.id, entries("1"), now=time.time(), next_check=time.time(),
                       title=None, etag=None, last_modified=None, body_hash=None,
                       plan=lambda new: [])  # primed

        entered, release = threading.Event(), threading.Event()

        def ingest_then_stop(conn: Connection) -> None:
            # What A's ingest holds when SIGSTOP hits: its feed's row (story books are checked
            # by version when written, never locked through an ingest).
            conn.execute(select(feeds.c.id).where(feeds.c.id == mine.id).with_for_update())
            entered.set()
            release.wait(20)

        stopped = asyncio.create_task(a.write(ingest_then_stop))
        assert await asyncio.to_thread(entered.wait, 10)
        try:
            await asyncio.sleep(ttl + 0.1)  # A looks dead to the others now
            started = time.monotonic()
            await asyncio.wait_for(b.heartbeat("B", ttl), 1.0)  # frees what it can, waits not
            result = await asyncio.wait_for(b.ingest(
                other.id, entries("1", "2"), now=time.time(), next_check=time.time() + 60,
                title=None, etag=None, last_modified=None, body_hash=None,
                plan=lambda new: []), 6.0)
            waited = time.monotonic() - started
        finally:
            release.set()
            with contextlib.suppress(Exception):
                await stopped  # the server ended A's transaction meanwhile
    assert result.new_items == 1
    assert waited < 2.0 + 1.5, waited  # A's idle-in-transaction bound, not forever


async def test_case4_a_forgotten_process_drops_what_it_held_and_joins_again(
        postgres_backend: PostgresBackend) -> None:
    ttl = 0.2
    timeline: list[tuple[float, str, bool]] = []
    gateway = Gateway("A", timeline)
    async with process(postgres_backend.url) as a, process(postgres_backend.url) as b:
        me = ProcessInfo("A", "host", 1, ALL_ROLES, time.time())
        membership = Membership(a, me, "h1", DbClock(), every_s=0.05, ttl_s=ttl)
        await membership.register()
        await b.register_process("B", "host", 2, "all", "h1")
        election = GatewayElection(a, "A", "gateway:0/1", gateway.start, gateway.stop,
                                   ttl_s=60, every_s=0.1, give_up_s=30)
        await election.step()
        assert gateway.connected and election.held is not None
        old = election.held.token
        # A is paused (or cut off) long enough for the others to forget it.
        await asyncio.sleep(10 * ttl + 0.2)
        await b.heartbeat("B", ttl)
        # A wakes up: it may not take a target before it knows where it stands …
        assert not await a.acquire_lease("target:channel:1", "A", 60)
        membership.on_forgotten.append(election.forget)  # as the runner wires it
        await membership.beat()  # … and its next heartbeat notices
        assert not gateway.connected  # dropped before acting again
        assert membership.generation == 2
        assert "A" in [p.id for p in await b.live_processes(ttl)]
        await election.step()  # joined again: a new holding, with a new token
        assert gateway.connected and election.held is not None and election.held.token > old
        token = await a.acquire_lease("target:channel:1", "A", 60)
        assert token
        await asyncio.sleep(ttl + 0.1)
        await b.heartbeat("B", ttl)  # A silent again briefly: its target stays its own
        assert not await b.acquire_lease("target:channel:1", "B", 60)
