"""The bot as a user runs it: `wirewatch run` as a subprocess, a feed server, a fake Discord.

Alerts must arrive once, on time, with title, link and snippet, and survive restarts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.harness import BotProcess, bot_env, rss, wait_for
from tests.fakes.discord_payloads import WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer


def write_config(path: Path, feed_url: str) -> None:
    path.write_text(f"""
[[feeds]]
name = "Local Wire"
url = "{feed_url}"
interval = "1s"

[[watches]]
name = "china-trade"
query = '"rare earths" OR tariffs OR Xi OR Bessent'
webhook = "{FakeWebhook().url}"
""", encoding="utf-8")


async def test_alerts_arrive_once_and_survive_restarts(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        feeds.serve("/feed.xml", rss([("a1", "Old story about tariffs"), ("a2", "Weather")]))
        config = tmp_path / "wirewatch.toml"
        write_config(config, feeds.url("/feed.xml"))
        bot = BotProcess(bot_env(tmp_path, config, fake.api_base), tmp_path / "bot.log")
        await bot.start()
        await wait_for(lambda: feeds.hits("/feed.xml") >= 2, 20, "two polls")
        assert fake.webhook_messages(WEBHOOK_ID) == [], "the first poll must be silent"

        feeds.serve("/feed.xml", rss([("a4", "Sports results"),
                                      ("a3", "China curbs rare-earth exports as tariffs bite"),
                                      ("a1", "Old story about tariffs"), ("a2", "Weather")]))
        await wait_for(lambda: len(fake.webhook_messages(WEBHOOK_ID)) >= 1, 5, "the alert")
        await asyncio.sleep(2.5)  # more ticks: still exactly one message
        [message] = fake.webhook_messages(WEBHOOK_ID)
        [embed] = message["embeds"]
        assert embed["title"].startswith("China curbs rare")
        assert embed["url"] == "https://news.example/a3"
        assert "**" in embed["description"] and "tariffs" in embed["description"]
        assert "china-trade" in embed["footer"]["text"]
        posts = [r for r in fake.requests_to("POST", "/webhooks/") if r.status == 200]
        assert len(posts) == 1 and posts[0].json["allowed_mentions"] == {"parse": []}
        assert posts[0].query.get("wait") == "true"

        status, took = await bot.stop()
        assert status == 0, bot.output()
        assert took < 10

        # Published while the bot was down: delivered after the restart; nothing re-posted.
        feeds.serve("/feed.xml", rss([("a5", "Bessent meets Xi in Geneva"),
                                      ("a4", "Sports results"),
                                      ("a3", "China curbs rare-earth exports as tariffs bite"),
                                      ("a1", "Old story about tariffs")]))
        await bot.start()
        await wait_for(lambda: len(fake.webhook_messages(WEBHOOK_ID)) >= 2, 10, "second alert")
        await asyncio.sleep(2.5)
        titles = [m["embeds"][0]["title"] for m in fake.webhook_messages(WEBHOOK_ID)]
        assert len(titles) == 2 and titles[1].startswith("Bessent meets Xi")
        status, _ = await bot.stop()
        assert status == 0, bot.output()


async def test_a_second_process_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        feeds.serve("/feed.xml", rss([("a1", "Weather")]))
        config = tmp_path / "wirewatch.toml"
        write_config(config, feeds.url("/feed.xml"))
        env = bot_env(tmp_path, config, fake.api_base)
        first = BotProcess(env, tmp_path / "first.log")
        await first.start()
        await wait_for(lambda: feeds.hits("/feed.xml") >= 1, 20, "the first process polling")
        second = BotProcess(env, tmp_path / "second.log")
        await second.start()
        assert second.process is not None
        assert await asyncio.wait_for(second.process.wait(), timeout=20) == 2
        assert "SQLite serves one process" in second.output()
        assert "use PostgreSQL" in second.output()
        status, _ = await first.stop()
        assert status == 0, first.output()
