"""The bot as a user runs it: `wirewatch run` as a subprocess, a feed server, a fake Discord.

Alerts must arrive once, on time, with title, link and snippet, and survive restarts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.discord_payloads import WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

REPO = Path(__file__).resolve().parents[2]


def rss(*items: tuple[str, str]) -> bytes:
    """An RSS feed whose items are (guid, title), newest first."""
    body = "".join(
        f"<item><title>{title}</title><link>https://news.example/{guid}</link>"
        f"<guid>{guid}</guid><description>Markets moved. {title}. Analysts were surprised."
        f"</description></item>" for guid, title in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local Wire</title>'
            f"<link>https://news.example/</link>{body}</channel></rss>").encode()


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


class Bot:
    """One ``wirewatch run`` subprocess."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=self.env, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)

    async def stop(self) -> tuple[int, float, str]:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(self.process.communicate(), timeout=15)
        return self.process.returncode or 0, time.monotonic() - started, output.decode()


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FeedServer, FakeDiscord]]:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        yield feeds, fake


async def wait_for(probe, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_alerts_arrive_once_and_survive_restarts(
        tmp_path: Path, servers: tuple[FeedServer, FakeDiscord]) -> None:
    feeds, fake = servers
    feeds.serve("/feed.xml", rss(("a1", "Old story about tariffs"), ("a2", "Weather")))
    config = tmp_path / "wirewatch.toml"
    write_config(config, feeds.url("/feed.xml"))
    env = {**os.environ, "WIREWATCH_CONFIG": str(config),
           "WIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/state/ww.db",
           "WIREWATCH_DISCORD_API_BASE": fake.api_base,
           "WIREWATCH_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8", "PYTHONUNBUFFERED": "1"}
    env.pop("DISCORD_TOKEN", None)
    bot = Bot(env)
    await bot.start()
    await wait_for(lambda: feeds.hits("/feed.xml") >= 2, timeout=20)
    assert fake.webhook_messages(WEBHOOK_ID) == [], "the first poll must be silent"

    feeds.serve("/feed.xml", rss(("a4", "Sports results"),
                                 ("a3", "China curbs rare-earth exports as tariffs bite"),
                                 ("a1", "Old story about tariffs"), ("a2", "Weather")))
    await wait_for(lambda: len(fake.webhook_messages(WEBHOOK_ID)) >= 1, timeout=5)
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

    status, took, output = await bot.stop()
    assert status == 0, output
    assert took < 10

    # Published while the bot was down: delivered after the restart; nothing re-posted.
    feeds.serve("/feed.xml", rss(("a5", "Bessent meets Xi in Geneva"), ("a4", "Sports results"),
                                 ("a3", "China curbs rare-earth exports as tariffs bite"),
                                 ("a1", "Old story about tariffs")))
    await bot.start()
    await wait_for(lambda: len(fake.webhook_messages(WEBHOOK_ID)) >= 2, timeout=10)
    await asyncio.sleep(2.5)
    titles = [m["embeds"][0]["title"] for m in fake.webhook_messages(WEBHOOK_ID)]
    assert len(titles) == 2 and titles[1].startswith("Bessent meets Xi")
    status, _, output = await bot.stop()
    assert status == 0, output
