"""Adaptive intervals through real polls: feed server, fetcher, isolated parser, SQLite.

Time is simulated: each step jumps the clock to the feed's stored next check, so a quarter of
an hour of publishing runs in seconds, and the schedule tested is the one the store keeps.
"""

from __future__ import annotations

import email.utils
import ipaddress
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.durations import AUTO_INTERVAL_S
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps, poll_feed
from bot.store import SqlStore, open_store
from bot.store.rows import FeedRow
from tests.fakes.clock import START
from tests.fakes.clock import ManualClock as Clock
from tests.fakes.feed_server import FeedServer

GUILD = 111
BOUNDS = (30.0, 3600.0)  # the defaults of [bot] min_interval and max_interval



@dataclass
class Rig:
    deps: PollDeps
    store: SqlStore
    feeds: FeedServer
    clock: Clock

    async def feed(self, url: str) -> FeedRow:
        [sub] = [s for s in await self.store.subscriptions(GUILD) if s.feed.url == url]
        return sub.feed


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    fetcher = Fetcher(FetchLimits(deadline_s=5),
                      AddressGuard((ipaddress.ip_network("127.0.0.0/8"),)))
    parser = IsolatedParser(workers=1, timeout_s=10)
    clock = Clock()
    deps = PollDeps(store=store, fetcher=fetcher, parser=parser, clock=clock,
                    rng=random.Random(5), interval_bounds=BOUNDS)
    async with FeedServer() as feeds:
        yield Rig(deps, store, feeds, clock)
    await fetcher.close()
    await parser.close()
    await store.close()


def dated_rss(stamps: list[float], extra: str = "") -> bytes:
    """An RSS body whose items are dated at ``stamps`` (newest first), guid = the stamp."""
    items = "".join(
        f"<item><title>Item {int(s)}</title><link>https://news.example/{int(s)}</link>"
        f"<guid>{int(s)}</guid><pubDate>{email.utils.formatdate(s, usegmt=True)}</pubDate>"
        "</item>" for s in stamps)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{extra}'
            f"<link>https://news.example/</link>{items}</channel></rss>").encode()


def published_until(now: float, every: float, keep: int = 20) -> list[float]:
    """The newest ``keep`` items of a feed that publishes every ``every`` seconds."""
    last = START - 3600 + every * int((now - (START - 3600)) // every)
    return [last - every * i for i in range(keep)]


async def subscribe(rig: Rig, path: str, interval: float) -> str:
    url = rig.feeds.url(path)
    await rig.store.subscribe(GUILD, url, path.strip("/"), interval, rig.clock.now)
    return url


async def test_a_feed_publishing_every_30s_alerts_each_item_within_45s(rig: Rig) -> None:
    url = await subscribe(rig, "/busy", AUTO_INTERVAL_S)
    seen: dict[float, float] = {}  # item date → when a poll first had it
    while rig.clock.now < START + 900:
        stamps = published_until(rig.clock.now, 30.0)
        rig.feeds.serve("/busy", dated_rss(stamps))
        await poll_feed(await rig.feed(url), rig.deps)
        for stamp in stamps:
            seen.setdefault(stamp, rig.clock.now)
        rig.clock.now = (await rig.feed(url)).next_check
    delays = [found - stamp for stamp, found in seen.items() if stamp > START]
    assert len(delays) >= 25
    assert max(delays) <= 45, sorted(delays)[-5:]


async def test_a_feed_that_never_changes_is_polled_at_the_maximum(rig: Rig) -> None:
    url = await subscribe(rig, "/still", AUTO_INTERVAL_S)
    rig.feeds.serve("/still", dated_rss([START - 86400 * (30 + i) for i in range(5)]),
                    etag='"v1"')
    gaps = []
    for _ in range(4):
        await poll_feed(await rig.feed(url), rig.deps)
        following = (await rig.feed(url)).next_check
        gaps.append(following - rig.clock.now)
        rig.clock.now = following
    assert all(3600 * 0.9 <= gap <= 3600 * 1.1 for gap in gaps), gaps


async def test_the_publishers_ttl_is_a_lower_bound(rig: Rig) -> None:
    url = await subscribe(rig, "/ttl", AUTO_INTERVAL_S)
    rig.feeds.serve("/ttl", dated_rss(published_until(START, 30.0), extra="<ttl>15</ttl>"))
    await poll_feed(await rig.feed(url), rig.deps)
    feed = await rig.feed(url)
    assert feed.ttl_s == 900
    assert 900 * 0.9 <= feed.next_check - START <= 900 * 1.1


async def test_a_fixed_interval_is_kept_next_to_an_auto_one(rig: Rig) -> None:
    """One guild asks every 45 s, another "auto" for a quiet feed: the feed is polled at 45 s."""
    url = await subscribe(rig, "/both", 45.0)
    await rig.store.subscribe(GUILD + 1, url, "both", AUTO_INTERVAL_S, rig.clock.now)
    rig.feeds.serve("/both", dated_rss([START - 86400 * (30 + i) for i in range(5)]))
    await poll_feed(await rig.feed(url), rig.deps)
    feed = await rig.feed(url)
    assert (feed.auto_interval, feed.fixed_interval_s) == (True, 45.0)
    assert 45 * 0.9 <= feed.next_check - START <= 45 * 1.1


async def test_feed_list_says_the_interval_in_force_and_why(rig: Rig) -> None:
    from bot.exts.feeds import health

    url = await subscribe(rig, "/listed", AUTO_INTERVAL_S)
    rig.feeds.serve("/listed", dated_rss(published_until(START, 600.0)))
    await poll_feed(await rig.feed(url), rig.deps)
    [sub] = await rig.store.subscriptions(GUILD)
    line = health(sub, BOUNDS)
    assert "auto, now every" in line and "an item about every 10m" in line, line
