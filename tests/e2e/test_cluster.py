"""Three identical ``wirewatch run`` processes on one PostgreSQL database share the work.

Skips without PostgreSQL (fails under CI=true). Bounded: well under a minute each.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.e2e.cluster import postgres_cluster
from tests.e2e.harness import rss, wait_for
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(120)
FEEDS = 12


def feeds_config(feeds: FeedServer, interval: str = "1s") -> str:
    return "".join(f'[[feeds]]\nname = "f{i}"\nurl = "{feeds.url(f"/f/{i}")}"\n'
                   f'interval = "{interval}"\n\n' for i in range(FEEDS))


async def test_each_feed_is_fetched_about_once_per_interval_across_processes(
        tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        for i in range(FEEDS):
            feeds.serve(f"/f/{i}", rss([(f"f{i}-1", "Weather")]), etag=f'"{i}"')
        async with postgres_cluster(tmp_path, feeds_config(feeds), fake, token=False) as cluster:
            await cluster.start()
            await wait_for(lambda: all(feeds.hits(f"/f/{i}") for i in range(FEEDS)), 30,
                           "every feed polled")
            await asyncio.sleep(2.0)  # past the start-up claims
            before = [feeds.hits(f"/f/{i}") for i in range(FEEDS)]
            started = time.monotonic()
            await asyncio.sleep(6.0)
            window = time.monotonic() - started
            polls = [feeds.hits(f"/f/{i}") - before[i] for i in range(FEEDS)]
            assert cluster.alive() == [0, 1, 2], cluster.output()
            assert await cluster.stop() == [0, 0, 0], cluster.output()
    # One interval is 1 s (jitter ±10 %): about `window` polls per feed in all, where three
    # processes polling on their own would make about three times as many.
    assert all(0.5 * window <= count <= 1.5 * window for count in polls), (window, polls)
