"""Delivery survives crashes and outages: every matching item posted exactly once, in order.

The bot runs as a subprocess with a bot token against the fake Discord (channel messages
carry our deterministic nonce); it is SIGKILLed at random moments during delivery and restarted.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from tests.e2e.harness import BotProcess, bot_env, rss, wait_for
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, BOT_TOKEN
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

ITEMS = 100


def write_config(path: Path, feed_url: str) -> None:
    path.write_text(f"""
[[feeds]]
name = "Local Wire"
url = "{feed_url}"
interval = "1s"

[[watches]]
name = "trade"
query = "tariffs"
channel = {ALERTS_CHANNEL_ID}
""", encoding="utf-8")


def stories(count: int) -> list[tuple[str, str]]:
    """Newest first, so story 0 is the oldest and must be posted first."""
    return [(f"s{i}", f"Story {i:03d} on tariffs") for i in reversed(range(count))]


def posted_titles(fake: FakeDiscord) -> list[str]:
    return [m["embeds"][0]["title"] for m in fake.messages(ALERTS_CHANNEL_ID)]


async def start_primed(tmp_path: Path, feeds: FeedServer, fake: FakeDiscord) -> BotProcess:
    feeds.serve("/feed.xml", rss([("old", "Old news on tariffs")]))
    config = tmp_path / "wirewatch.toml"
    write_config(config, feeds.url("/feed.xml"))
    bot = BotProcess(bot_env(tmp_path, config, fake.api_base, DISCORD_TOKEN=BOT_TOKEN,
                             WIREWATCH_DISCORD_GATEWAY_URL=fake.gateway_url),
                     tmp_path / "bot.log")
    await bot.start()
    await wait_for(lambda: feeds.hits("/feed.xml") >= 2, 30, "the feed to be primed")
    return bot


async def test_sigkill_during_delivery_loses_nothing_and_duplicates_nothing(
        tmp_path: Path) -> None:
    rng = random.Random(20261127)
    async with FeedServer() as feeds, FakeDiscord() as fake:
        fake.faults.post_delay = 0.05
        bot = await start_primed(tmp_path, feeds, fake)
        feeds.serve("/feed.xml", rss(stories(ITEMS), minutes=True))
        kills = 0
        while kills < 4 and len(fake.messages(ALERTS_CHANNEL_ID)) < ITEMS:
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            await bot.kill()
            kills += 1
            await bot.start()
        await wait_for(lambda: len(fake.messages(ALERTS_CHANNEL_ID)) >= ITEMS, 90,
                       "every item to be delivered")
        await asyncio.sleep(2)
        status, _ = await bot.stop()
        titles = posted_titles(fake)
        assert len(titles) == ITEMS, f"{len(titles)} messages for {ITEMS} items"
        assert titles == [f"Story {i:03d} on tariffs" for i in range(ITEMS)]
        assert kills >= 2
        assert status == 0, bot.output()


async def test_outage_then_recovery_posts_every_alert_once_in_order(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        bot = await start_primed(tmp_path, feeds, fake)
        fake.faults.server_error(10.0, status=502, prefix="/channels/")
        feeds.serve("/feed.xml", rss(stories(20), minutes=True))
        await wait_for(lambda: len(fake.messages(ALERTS_CHANNEL_ID)) >= 20, 60,
                       "recovery after the outage")
        await asyncio.sleep(1.5)
        status, _ = await bot.stop()
        assert posted_titles(fake) == [f"Story {i:03d} on tariffs" for i in range(20)]
        assert status == 0, bot.output()
