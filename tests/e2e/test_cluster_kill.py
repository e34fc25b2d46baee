"""Three identical processes, a burst of alerts, SIGKILL of the gateway holder and a poller.

Every alert is posted exactly once and in order, per channel and per webhook; each feed is
fetched about once per interval across the processes; at most one gateway session is
identified at any moment; each slash command gets exactly one reply. PostgreSQL only (skips
without it; fails under CI=true). Bounded: about a minute.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.e2e.cluster import Cluster, postgres_cluster
from tests.e2e.harness import wait_for
from tests.exts.harness import item, rss
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    GUILD_ID,
    MODERATOR_PERMISSIONS,
    WEBHOOK_ID,
    FakeWebhook,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(180)
FEEDS, ITEMS = 3, 12  # ITEMS new alerts per feed, published during the kills
HOLDS = re.compile(r"gateway gateway:0/1: this process holds it now")


def config(feeds: FeedServer) -> str:
    text = f'[bot]\nguilds = ["{GUILD_ID}"]\n\n'
    for i in range(FEEDS):
        text += f'[[feeds]]\nname = "f{i}"\nurl = "{feeds.url(f"/f/{i}")}"\ninterval = "1s"\n\n'
    return text + (
        f'[[watches]]\nname = "chan"\nquery = "tariffs"\nchannel = "{ALERTS_CHANNEL_ID}"\n\n'
        f'[[watches]]\nname = "hook"\nquery = "tariffs"\nwebhook = "{FakeWebhook().url}"\n')


def publish(feeds: FeedServer, feed: int, count: int) -> None:
    """Feed ``feed`` now holds a warm-up item and ``count`` numbered tariff stories."""
    stories = [item(f"f{feed}-{n}", f"Story {n:02d} of feed {feed} on tariffs")
               for n in reversed(range(count))]
    feeds.serve(f"/f/{feed}", rss(*stories, item(f"f{feed}-old", "Weather")), etag=f'"{count}"')


def holder(cluster: Cluster) -> int | None:
    """The live process whose log says it took the gateway last."""
    best: tuple[float, int] | None = None
    for index in cluster.alive():
        process = cluster.processes[index]
        found = [m.start() for m in HOLDS.finditer(process.output())]
        if found and process.log_path.exists():
            stamp = process.log_path.stat().st_mtime
            best = max(best or (stamp, index), (stamp, index))
    return best[1] if best else None


def titles(messages: list[dict[str, object]]) -> list[str]:
    return [m["embeds"][0]["title"] for m in messages]  # type: ignore[index]


def check_once_in_order(posted: list[str]) -> None:
    counts = Counter(posted)
    assert {t for t, n in counts.items() if n > 1} == set(), "posted twice"
    expected = {f"Story {n:02d} of feed {f} on tariffs" for f in range(FEEDS)
                for n in range(ITEMS)}
    assert set(posted) == expected
    for feed in range(FEEDS):
        mine = [t for t in posted if t.endswith(f"of feed {feed} on tariffs")]
        assert mine == sorted(mine), f"feed {feed} out of order"


async def burst(feeds: FeedServer, midway: Callable[[], Awaitable[None]]) -> None:
    """Publish ITEMS stories per feed, 0.3 s apart, with ``midway`` run in the middle."""
    for n in range(1, ITEMS + 1):
        for feed in range(FEEDS):
            publish(feeds, feed, n)
        if n == ITEMS // 2:
            await midway()
        await asyncio.sleep(0.3)


def bot_posts(fake: FakeDiscord) -> list[dict[str, object]]:
    """Channel messages the bot posted itself (webhook posts show in the channel too)."""
    return [m for m in fake.messages(ALERTS_CHANNEL_ID) if not m.get("webhook_id")]


async def all_delivered(fake: FakeDiscord, timeout: float) -> None:
    """Every alert in the channel and through the webhook, then a pause for doubles."""
    total = FEEDS * ITEMS
    await fake.wait_until(lambda: len(bot_posts(fake)) >= total
                          and len(fake.webhook_messages(WEBHOOK_ID)) >= total, timeout,
                          "every alert")
    await asyncio.sleep(3.0)  # anything posted twice would show by now


def check_every_target(fake: FakeDiscord) -> None:
    """Once and in order, per channel and per webhook; one gateway session at a time."""
    check_once_in_order(titles(bot_posts(fake)))
    check_once_in_order(titles(fake.webhook_messages(WEBHOOK_ID)))
    assert fake.state.sessions_max == 1


async def test_kill_the_gateway_holder_and_a_poller_mid_burst(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        for feed in range(FEEDS):
            publish(feeds, feed, 0)
        async with postgres_cluster(tmp_path, config(feeds), fake) as cluster:
            await cluster.start()
            await fake.wait_until(lambda: fake.state.sessions_now == 1, 30, "a gateway session")
            await wait_for(lambda: all(feeds.hits(f"/f/{f}") >= 2 for f in range(FEEDS)), 30,
                           "every feed primed")
            gateway = await fake.wait_until(lambda: holder(cluster) is not None, 10, "holder")
            gateway = holder(cluster)
            assert gateway is not None
            poller = next(i for i in cluster.alive() if i != gateway)
            started, before = time.monotonic(), sum(feeds.hits(f"/f/{f}") for f in range(FEEDS))

            async def kills() -> None:
                await cluster.kill(gateway)
                await cluster.kill(poller)

            await burst(feeds, kills)
            await cluster.restart(gateway)
            await cluster.restart(poller)
            await fake.wait_until(lambda: fake.state.sessions_now == 1, 40, "a new session")
            replies = []
            for _ in range(3):
                record = await fake.send_command("status", permissions=MODERATOR_PERMISSIONS)
                await fake.wait_for_callback(record, timeout=10)
                replies.append(record)
            await all_delivered(fake, 60)
            views = [cluster.health(i) for i in range(3)]
            elapsed = time.monotonic() - started
            fetched = sum(feeds.hits(f"/f/{f}") for f in range(FEEDS)) - before
            assert sorted(cluster.alive()) == [0, 1, 2], cluster.output()
            assert await cluster.stop() == [0, 0, 0], cluster.output()
    check_every_target(fake)
    assert all(len(r.callbacks) == 1 and not r.rejected for r in replies)
    # /status lists the processes (a killed one stays listed until its heartbeat is stale).
    status = replies[-1].callbacks[0]["data"]["content"]
    assert "Processes: " in status and status.count("holds gateway:0/1") == 1, status
    # /healthz: each process names its role, sees itself, and all agree on one gateway holder.
    assert [view["role"] for view in views] == ["all", "all", "all"]
    assert all(sum(p["self"] for p in view["processes"]) == 1 for view in views)
    holders = {p["id"] for view in views for p in view["processes"] if "gateway:0/1" in p["holds"]}
    assert len(holders) == 1
    # 1 s interval: about `elapsed` fetches per feed in all (three processes on their own
    # would make three times as many).
    assert fetched <= 1.6 * FEEDS * elapsed, (fetched, elapsed)
