"""Three identical ``wirewatch run`` processes on one PostgreSQL database share the work.

Skips without PostgreSQL (fails under CI=true). Bounded: well under a minute each.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.e2e.cluster import postgres_cluster
from tests.e2e.harness import BotProcess, rss, wait_for
from tests.fakes.discord_payloads import GUILD_ID, MODERATOR_PERMISSIONS
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


async def test_a_replica_with_a_different_config_refuses_to_start(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        for i in range(FEEDS):
            feeds.serve(f"/f/{i}", rss([(f"f{i}-1", "Weather")]), etag=f'"{i}"')
        async with postgres_cluster(tmp_path, feeds_config(feeds), fake, count=1,
                                    token=False) as cluster:
            await cluster.start()
            await wait_for(lambda: feeds.hits("/f/0") >= 1, 30, "the first process polling")
            other = tmp_path / "other.toml"
            other.write_text(feeds_config(feeds, interval="2s"), encoding="utf-8")
            odd = BotProcess({**cluster.env, "WIREWATCH_CONFIG": str(other)},
                             tmp_path / "odd.log")
            await odd.start()
            assert odd.process is not None
            assert await asyncio.wait_for(odd.process.wait(), timeout=30) == 2, odd.output()
            assert "differs from the one the running processes use" in odd.output()
            assert await cluster.stop() == [0], cluster.output()


async def test_two_shards_each_held_once_and_an_interaction_answered_once(
        tmp_path: Path) -> None:
    config = f'[bot]\nguilds = ["{GUILD_ID}"]\nshards = 2\n'
    async with FakeDiscord() as fake, postgres_cluster(tmp_path, config, fake,
                                                        count=2) as cluster:
        await cluster.start()
        await fake.wait_until(lambda: fake.state.sessions_now == 2, 40, "both shards")
        identified = sorted(tuple(i["shard"]) for i in fake.gateway.identifies)
        record = await fake.send_command("status", permissions=MODERATOR_PERMISSIONS)
        await fake.wait_for_callback(record, timeout=10)
        await asyncio.sleep(1.0)
        assert await cluster.stop() == [0, 0], cluster.output()
    assert identified == [(0, 2), (1, 2)]
    assert fake.state.sessions_max == 2  # one per shard, never two for one shard
    assert len(record.callbacks) == 1 and not record.rejected
    syncs = fake.requests_to("PUT", "/applications/")
    assert len(syncs) == 1  # shard 0's holder syncs the commands, once
