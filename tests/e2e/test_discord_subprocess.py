"""The bot as a user runs it, driven from Discord: ``python -m bot run`` against a fake Discord.

Starts from a config file with no feeds and no watches. A moderator adds a watch and a feed
with slash commands; a later matching item arrives as an embed in the chosen channel, a
hostile headline pings nobody, a gateway RECONNECT changes nothing, SIGTERM exits 0.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import BotProcess, bot_env
from tests.exts.harness import EPHEMERAL, channel_option, item, rss
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    GENERAL_CHANNEL_ID,
    GUILD_ID,
    MODERATOR_PERMISSIONS,
    ROLE_ID,
    USER_ID,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[2]
HOSTILE = f"@everyone <@&{ROLE_ID}> <@{USER_ID}> tariffs"
CONFIG = f"""
[bot]
guilds = ["{GUILD_ID}"]
private_network_guilds = ["{GUILD_ID}"]  # the feed server is on 127.0.0.1
"""



@pytest.fixture
async def servers() -> AsyncIterator[tuple[FeedServer, FakeDiscord]]:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        yield feeds, fake


@pytest.fixture
async def bot(tmp_path: Path,
              servers: tuple[FeedServer, FakeDiscord]) -> AsyncIterator[BotProcess]:
    _, fake = servers
    config = tmp_path / "wirewatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = bot_env(tmp_path, config, fake.api_base, DISCORD_TOKEN=fake.config.token,
                  WIREWATCH_DISCORD_GATEWAY_URL=fake.gateway_url)
    process = BotProcess(env, tmp_path / "bot.log")
    await process.start()
    try:
        yield process
    finally:
        await process.kill()


async def eventually(probe: Callable[[], Any], what: str, process: BotProcess,
                     timeout: float = 20.0) -> Any:
    """Poll ``probe`` until truthy; fail with the bot's output otherwise."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert process.process is not None
        if process.process.returncode is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {what}; bot output:\n{process.output()[-4000:]}")
        await asyncio.sleep(0.05)
    return value


async def command_reply(fake: FakeDiscord, process: BotProcess, name: str,
                        options: Any, subcommand: str, **kwargs: Any) -> str:
    """Issue a slash command as a moderator; the text of its (ephemeral) reply."""
    interaction = await fake.send_command(name, options, subcommand=subcommand,
                                          permissions=MODERATOR_PERMISSIONS, **kwargs)
    await eventually(lambda: interaction.callbacks, f"answer to /{name} {subcommand}", process)
    callback = interaction.callbacks[0]
    if callback["type"] == 5:  # deferred: the answer is a follow-up
        await eventually(lambda: interaction.followups, f"follow-up of /{name}", process)
        message = interaction.followups[0]
    else:
        message = callback["data"]
    assert int(message["flags"]) & EPHEMERAL
    return str(message["content"])


async def test_watch_and_feed_added_from_discord_deliver_alerts(
        servers: tuple[FeedServer, FakeDiscord], bot: BotProcess) -> None:
    feeds, fake = servers
    feeds.serve("/feed.xml", rss(item("a1", "Old story about tariffs")))
    await eventually(lambda: sorted(c["name"] for c in fake.commands(GUILD_ID))
                     == ["feed", "status", "watch", "why"], "command sync", bot)
    assert fake.commands(None) == []
    await eventually(lambda: "connected to Discord" in bot.output(), "READY", bot)

    option, resolved = channel_option("channel", ALERTS_CHANNEL_ID)
    added = await command_reply(
        fake, bot, "watch", [{"name": "name", "type": 3, "value": "china-trade"},
                             {"name": "query", "type": 3, "value": '"rare earths" OR tariffs'},
                             option],
        "add", channel_id=GENERAL_CHANNEL_ID, resolved=resolved)
    assert added.startswith("✅ Watch **china\\-trade** added"), added
    feed_reply = await command_reply(fake, bot, "feed", {"url": feeds.url("/feed.xml"),
                                                         "name": "Wire", "interval": "1s"}, "add")
    assert feed_reply.startswith("✅ Feed **Wire** added: Local Wire — 1 items now"), feed_reply
    assert "Newest: Old story about tariffs" in feed_reply

    feeds.serve("/feed.xml", rss(item("a3", HOSTILE), item("a2", "China curbs exports as "
                                                            "tariffs bite", published=
                                                            "Tue, 02 Jan 2024 10:00:00 GMT"),
                                 item("a1", "Old story about tariffs")))
    await eventually(lambda: len(fake.messages(ALERTS_CHANNEL_ID)) >= 2, "two alerts", bot)
    normal, hostile = fake.messages(ALERTS_CHANNEL_ID)  # oldest (published) first
    embed = normal["embeds"][0]
    assert (embed["title"], embed["url"]) == ("China curbs exports as tariffs bite",
                                              "https://news.example/a2")
    assert embed["author"]["name"] == "Wire"
    assert "**tariffs**" in embed["description"]
    assert embed["footer"]["text"].startswith("china-trade · tariffs · ref ")
    assert embed["timestamp"] == "2024-01-02T10:00:00+00:00"
    for message in (normal, hostile):
        assert (message["mention_everyone"], message["mention_roles"], message["mentions"]) == (
            False, [], [])
        assert message["content"] == ""
    posts = fake.requests_to("POST", f"/channels/{ALERTS_CHANNEL_ID}/messages")
    assert all(p.json["allowed_mentions"] == {"parse": []} for p in posts)
    assert fake.messages(GENERAL_CHANNEL_ID) == []

    # A gateway RECONNECT: resumed, no second IDENTIFY, no duplicated polling or sending.
    await fake.gateway.reconnect()
    await eventually(lambda: fake.gateway.resumes and fake.gateway.active, "RESUME", bot)
    feeds.serve("/feed.xml", rss(item("a4", "Rare earths prices jump"), item("a3", HOSTILE)))
    await eventually(lambda: len(fake.messages(ALERTS_CHANNEL_ID)) >= 3, "third alert", bot)
    await asyncio.sleep(2.5)  # several more polls and outbox passes
    titles = [m["embeds"][0]["title"] for m in fake.messages(ALERTS_CHANNEL_ID)]
    assert len(titles) == 3 and titles[2] == "Rare earths prices jump"
    assert len(fake.gateway.identifies) == 1
    assert len(fake.commands(GUILD_ID)) == 4  # no duplicate sync after reconnects
    assert fake.unknown_requests == []

    status, took = await bot.stop()
    assert status == 0, bot.output()
    assert took < 10
