"""Two guilds, one bot, the fake Discord: each sees only its own feeds, none reaches the
operator's networks unless listed, quotas answer clearly, one channel's backlog delays no other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config.file import BotConfig, Config, FeedConfig
from tests.exts.harness import Bot, item, rss, running_bot
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    GUILD_ID,
    FakeChannel,
    FakeConfig,
    FakeGuild,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(90)

B_GUILD_ID = 1111111111111111112
B_CHANNEL_ID = 2222222222222222301
SECRET = "apikey=OPERATOR-SECRET"


async def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def two_guild_config(feeds: FeedServer) -> Config:
    # Guild A may use the operator's private networks (the feed server is on 127.0.0.1);
    # guild B may not. The config file's own feed carries an API key in its query string.
    return Config(
        bot=BotConfig(guilds=(GUILD_ID, B_GUILD_ID), min_feed_interval=1.0,
                      private_network_guilds=(GUILD_ID,), max_feeds_per_guild=1),
        feeds=(FeedConfig(name="Operator Wire", url=feeds.url(f"/op.xml?{SECRET}")),))


async def b_answer(bot: Bot, command: str, options: dict[str, str] | None = None,
                   subcommand: str | None = None) -> str:
    return await bot.answer(command, options, subcommand=subcommand, guild_id=B_GUILD_ID,
                            channel_id=B_CHANNEL_ID)


async def test_two_guilds_see_only_their_own_and_reach_only_what_they_may(
        feeds: FeedServer, tmp_path: Path) -> None:
    b_guild = FakeGuild(id=B_GUILD_ID, name="B", channels=(FakeChannel(B_CHANNEL_ID, "news"),))
    feeds.serve("/op.xml", rss(item("o1", "Operator item")))
    feeds.serve("/a.xml", rss(item("a1", "A item"), title="A Wire"))
    feeds.serve("/b.xml", rss(item("b1", "B item"), title="B Wire"))
    async with FakeDiscord(FakeConfig(guilds=(FakeGuild(), b_guild))) as fake, \
            running_bot(fake, feeds, tmp_path, two_guild_config(feeds)) as bot:
        a_url = feeds.url("/a.xml?token=A-OWN")
        assert (await bot.feed_add(a_url)).startswith("✅ Feed **A Wire** added")
        await bot.app.poller.poll_all_once()

        # A sees its own feed in full and the config file's by name and host only.
        listed = await bot.answer("feed", subcommand="list")
        assert f"<{a_url}>" in listed
        assert "**Operator Wire** (config file)" in listed and "host `127.0.0.1`" in listed
        assert "OPERATOR-SECRET" not in listed and "op.xml" not in listed

        # B is not listed: no local URL, not even the config file's, and no probe is made.
        hits = feeds.hits("/op.xml"), feeds.hits("/b.xml")
        refused = await b_answer(bot, "feed", {"url": feeds.url("/b.xml")}, "add")
        assert refused == ("⚠️ That feed could not be added: refused: 127.0.0.1 is not a public "
                           "address \\(loopback\\); this server may not add feeds on private "
                           "networks"), refused
        shared = await b_answer(bot, "feed", {"url": feeds.url(f"/op.xml?{SECRET}")}, "add")
        assert shared.startswith("⚠️ That feed could not be added: refused"), shared
        assert "OPERATOR-SECRET" not in shared
        assert (feeds.hits("/op.xml"), feeds.hits("/b.xml")) == hits

        # B's list: nothing of A's; the config feed without its URL.
        b_listed = await b_answer(bot, "feed", subcommand="list")
        assert "A Wire" not in b_listed and "A-OWN" not in b_listed
        assert "OPERATOR-SECRET" not in b_listed and "host `127.0.0.1`" in b_listed

        # Failures carry no query string, in /status and /feed list alike.
        feeds.status("/op.xml", 503)
        await bot.app.poller.poll_all_once()
        for text in (await b_answer(bot, "status"), await b_answer(bot, "feed", None, "list"),
                     await bot.answer("status")):
            assert "Operator Wire" in text and "503" in text, text
            assert "OPERATOR-SECRET" not in text and "op.xml" not in text, text

        # Quotas: one feed each; A is full, the answer says which key to change.
        full = await bot.feed_add(feeds.url("/b.xml"))
        assert full.startswith("⚠️ This server has 1 feed; the limit is 1 "
                               "(`max_feeds_per_guild`"), full


async def test_a_backlog_in_one_guilds_channel_does_not_delay_the_other(
        feeds: FeedServer, tmp_path: Path) -> None:
    b_guild = FakeGuild(id=B_GUILD_ID, name="B", channels=(FakeChannel(B_CHANNEL_ID, "news"),))
    feeds.serve("/a.xml", rss(title="A Wire"))
    feeds.serve("/b.xml", rss(title="B Wire"))
    config = Config(bot=BotConfig(guilds=(GUILD_ID, B_GUILD_ID), min_feed_interval=1.0,
                                  private_network_guilds=(GUILD_ID, B_GUILD_ID)))
    async with FakeDiscord(FakeConfig(guilds=(FakeGuild(), b_guild))) as fake, \
            running_bot(fake, feeds, tmp_path, config) as bot:
        await bot.feed_add(feeds.url("/a.xml"))
        await b_answer(bot, "feed", {"url": feeds.url("/b.xml")}, "add")
        await bot.watch_add("a", "tariffs", channel_id=ALERTS_CHANNEL_ID)
        await b_answer(bot, "watch", {"name": "b", "query": "tariffs"}, "add")
        # A's channel answers as a spent rate-limit bucket for 0.3 s after every message.
        fake.faults.pace(f"/channels/{ALERTS_CHANNEL_ID}", 0.3)
        feeds.serve("/a.xml", rss(*(item(f"a{i}", f"A tariffs {i}") for i in range(12)),
                                 title="A Wire"))
        await bot.app.poller.poll_all_once()
        sender = asyncio.create_task(bot.app.outbox.run())
        try:
            await wait_for(lambda: len(fake.messages(ALERTS_CHANNEL_ID)) >= 2)
            feeds.serve("/b.xml", rss(item("b1", "B tariffs"), title="B Wire"))
            await bot.app.poller.poll_all_once()
            await wait_for(lambda: len(fake.messages(B_CHANNEL_ID)) == 1)
            assert len(fake.messages(ALERTS_CHANNEL_ID)) < 12  # A's backlog is still going
            await wait_for(lambda: len(fake.messages(ALERTS_CHANNEL_ID)) == 12)
        finally:
            bot.app.outbox.stopping.set()
            bot.app.outbox.wake()
            await asyncio.wait_for(sender, 15)
