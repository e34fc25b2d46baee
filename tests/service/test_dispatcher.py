"""The dispatcher starts polls when feeds are due and slots are free, not on a fixed tick.

Real parts: a SQLite store, the local feed server, the real Fetcher and parser. Each test sets
``idle_s`` far above its own deadline, so only the event-driven paths (a finished poll frees
a slot; ``wake()``; a full pass going again) can make it pass.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from bot.config.file import Config, FeedConfig
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps
from bot.service.dispatcher import ClusterSchedule, Dispatcher, LagWindow
from bot.service.membership import DbClock
from bot.store import SqlStore, open_store
from tests.fakes.feed_server import FeedServer, rss

LOOPBACK = AddressGuard((ipaddress.ip_network("127.0.0.1/32"),))
BODY = rss(3)


@dataclass
class Rig:
    server: FeedServer
    store: SqlStore
    deps: PollDeps
    in_flight: list[int]  # [now, max]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    in_flight = [0, 0]

    async def slow(_request: web.Request) -> web.StreamResponse:
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        try:
            await asyncio.sleep(0.05)
            return web.Response(body=BODY, headers={"ETag": '"v1"'})
        finally:
            in_flight[0] -= 1

    async with FeedServer() as server:
        for i in range(30):
            server.route(f"/f/{i}", slow)
        store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
        fetcher = Fetcher(FetchLimits(per_host=64), LOOPBACK)
        parser = IsolatedParser(workers=1)
        try:
            yield Rig(server, store, PollDeps(store=store, fetcher=fetcher, parser=parser),
                      in_flight)
        finally:
            await fetcher.close()
            await parser.close()
            await store.close()


async def sync(rig: Rig, count: int, interval: float = 3600.0) -> None:
    feeds = tuple(FeedConfig(name=f"f{i}", url=rig.server.url(f"/f/{i}"), interval=interval)
                  for i in range(count))
    await rig.store.sync_config(Config(feeds=feeds), time.time())


async def until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def polled(rig: Rig, count: int) -> int:
    return sum(1 for i in range(count) if rig.server.hits(f"/f/{i}"))


async def poll_all_30(rig: Rig, concurrency: int) -> Dispatcher:
    """Run a dispatcher (idle 60 s) until the 30 due feeds were all fetched, or fail."""
    await sync(rig, 30)
    dispatcher = Dispatcher(rig.deps, concurrency=concurrency, idle_s=60.0)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        assert await until(lambda: polled(rig, 30) == 30, timeout=20.0), polled(rig, 30)
    finally:
        stop.set()
        await task
    await dispatcher.wait_idle(5.0)
    return dispatcher


async def test_a_finished_poll_frees_its_slot_at_once(rig: Rig) -> None:
    # 30 due feeds, 3 slots: a 1 s tick × 3 would take 10 s, a 60 s idle 10 minutes.
    dispatcher = await poll_all_30(rig, concurrency=3)
    assert rig.in_flight[1] <= 3  # never more polls at once than slots
    assert sum(dispatcher.results.values()) == 30


async def test_a_pass_that_fills_every_free_slot_goes_again(rig: Rig) -> None:
    await poll_all_30(rig, concurrency=30)
    assert rig.in_flight[1] > 3  # they ran together, not in a trickle


async def test_wake_polls_a_feed_added_while_idle(rig: Rig) -> None:
    await sync(rig, 1)
    dispatcher = Dispatcher(rig.deps, concurrency=4, idle_s=60.0)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        assert await until(lambda: polled(rig, 1) == 1, timeout=10.0)
        await until(lambda: dispatcher.in_flight == 0, timeout=5.0)
        await asyncio.sleep(0.2)  # the dispatcher is asleep now, for up to 60 s
        await sync(rig, 2)  # a second feed, due now
        dispatcher.wake()
        assert await until(lambda: polled(rig, 2) == 2, timeout=10.0)
    finally:
        stop.set()
        await task
    assert rig.server.hits("/f/0") == 1  # the first one is not due again for an hour


async def test_lag_is_how_late_a_feed_was_when_claimed(rig: Rig) -> None:
    await sync(rig, 1)
    feed = (await rig.store.subscriptions())[0].feed
    await rig.store.record_unchanged(feed.id, time.time(), time.time() - 7.0)  # 7 s overdue
    dispatcher = Dispatcher(rig.deps, concurrency=4)
    assert await dispatcher.tick() == 1
    await dispatcher.wait_idle(5.0)
    summary = dispatcher.lag.summary(time.monotonic())
    assert summary["claimed"] == 1
    assert 7.0 <= summary["max_s"] < 30.0


def test_lag_window_forgets_old_samples_and_ranks_the_rest() -> None:
    window = LagWindow(window_s=60.0)
    window.add(0.0, 100.0)  # older than the window at t=100
    for i in range(100):
        window.add(100.0, i / 100)
    summary = window.summary(100.0)
    assert summary["claimed"] == 100
    assert summary["max_s"] == 0.99
    assert summary["p50_s"] == 0.49
    assert summary["p95_s"] == 0.94
    assert LagWindow().summary(0.0)["claimed"] == 0


async def test_a_feed_polled_now_is_polled_again_one_interval_later(rig: Rig) -> None:
    # A 1 s feed and a 60 s idle: only the bound kept for the poll in flight (its next due
    # time cannot be known before it ends) wakes the dispatcher in time.
    await sync(rig, 1, interval=1.0)
    await rig.store.register_process("p1", "host", 1, "poll", "h1")  # only members claim
    dispatcher = Dispatcher(rig.deps, concurrency=4, idle_s=60.0,
                            schedule=ClusterSchedule(rig.store, "p1", DbClock()))
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        assert await until(lambda: rig.server.hits("/f/0") >= 4, timeout=10.0), \
            rig.server.hits("/f/0")
    finally:
        stop.set()
        await task
