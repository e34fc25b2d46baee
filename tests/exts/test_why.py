"""/why and ``wirewatch why --json`` as a new user tries them (issue 21): one item per fate.

The real bot against the fake Discord and a local feed server. Guild A follows three feeds
(one turns 403) and has three watches; the config file adds a feed and a webhook watch whose
webhook gets deleted. Each item below meets a different fate; /why in A and the operator's
``wirewatch why --json`` must name the right fate, watch, feed and reason. Guild B asks about
A's items and learns nothing of A's feeds, watches or links.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from bot.config.file import BotConfig, Config, FeedConfig, WatchConfig
from tests.exts.harness import Bot, item, rss, running_bot, settings_env
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    GUILD_ID,
    FakeChannel,
    FakeConfig,
    FakeGuild,
    FakeWebhook,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(120)

B_GUILD_ID = 1111111111111111112
B_CHANNEL_ID = 2222222222222222301
HOOK = FakeWebhook()
OLD = item("k0", "Harbour reopens after storm")


def link(guid: str) -> str:
    return f"https://news.example/{guid}"  # what tests.exts.harness.item links to


# fate → (the article asked about, its watch, its feed, words the reason must hold)
EXPECTED: dict[str, tuple[str, str | None, str | None, tuple[str, ...]]] = {
    "sent": (link("t1"), "china-trade", "Wire", ("matched 'tariffs' → posted at",)),
    "not_matched": (link("w1"), "china-trade", "Wire", ("no match ('tariffs' not in title "
                                                        "or article)",)),
    "folded": (link("t2") + "?utm_source=rss&utm_medium=feed", "china-trade", "Wire Two",
               ("matched 'tariffs' → folded into the story posted at",
                "as 'Also reported by'")),
    "held": (link("g1"), "gallium-digest", "Wire", ("matched 'gallium' → held for the "
                                                    "17:00 UTC digest",)),
    "failed": (link("c1"), "hooked", "Operator Wire", ("matched 'copper' → failed:",
                                                       "Unknown Webhook")),
    "feed_failing": ("https://blocked.example/story-1", None, "Blocked Wire", ("403",)),
    "not_seen": (link("never-published"), None, None, ("Not in any feed this server "
                                                       "follows",)),
    "known": (link("k0"), None, "Wire", ("recorded silently on the feed's first poll",)),
}


def config(feeds: FeedServer) -> Config:
    return Config(
        bot=BotConfig(guilds=(GUILD_ID, B_GUILD_ID), min_feed_interval=1.0,
                      private_network_guilds=(GUILD_ID, B_GUILD_ID)),
        feeds=(FeedConfig(name="Operator Wire", url=feeds.url("/op.xml")),),
        watches=(WatchConfig(name="hooked", query="copper", webhook=HOOK.url),))


async def a_answer(bot: Bot, asked: str) -> str:
    return await bot.answer("why", {"article": asked})


async def b_answer(bot: Bot, asked: str) -> str:
    return await bot.answer("why", {"article": asked}, guild_id=B_GUILD_ID,
                            channel_id=B_CHANNEL_ID)


def cli_json(asked: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["why", asked, "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


async def add_watch(bot: Bot, name: str, query: str, **extra: str) -> None:
    options = {"name": name, "query": query, **extra}
    reply = await bot.answer("watch", options, subcommand="add", channel_id=ALERTS_CHANNEL_ID)
    assert reply.startswith("✅"), reply


async def set_the_scene(bot: Bot, feeds: FeedServer) -> None:
    """Each item meets its fate; see EXPECTED."""
    feeds.serve("/wire.xml", rss(OLD, title="Wire"))
    feeds.serve("/wire2.xml", rss(item("x0", "Local fair opens"), title="Wire Two"))
    feeds.serve("/blocked.xml", rss(item("b0", "Blocked first"), title="Blocked"))
    feeds.serve("/op.xml", rss(item("o0", "Operator first"), title="Op"))
    for path, name in (("/wire.xml", "Wire"), ("/wire2.xml", "Wire Two"),
                       ("/blocked.xml", "Blocked Wire")):
        assert (await bot.feed_add(feeds.url(path), name=name)).startswith("✅")
    await add_watch(bot, "china-trade", "tariffs")
    await add_watch(bot, "gallium-digest", "gallium", deliver="daily 17:00")
    await bot.poll_and_deliver()  # the config file's feed records its items silently
    feeds.serve("/wire.xml", rss(item("t1", "Tariffs bite exporters"),
                                 item("w1", "Weather calm today"),
                                 item("g1", "Gallium output falls"), OLD, title="Wire"))
    feeds.serve("/op.xml", rss(item("c1", "Copper rally"), item("o0", "Operator first")))
    feeds.status("/blocked.xml", 403)
    bot.fake.faults.unknown_webhook(HOOK.id)
    await bot.poll_and_deliver()
    assert len(bot.fake.messages(ALERTS_CHANNEL_ID)) == 1  # t1 only
    feeds.serve("/wire2.xml", rss(item("t2", "Tariffs bite exporters"),
                                  item("x0", "Local fair opens"), title="Wire Two"))
    await bot.poll_and_deliver()


async def test_why_names_every_fate_and_no_guild_sees_another(
        feeds: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    b_guild = FakeGuild(id=B_GUILD_ID, name="B", channels=(FakeChannel(B_CHANNEL_ID, "news"),))
    async with FakeDiscord(FakeConfig(guilds=(FakeGuild(), b_guild))) as fake, \
            running_bot(fake, feeds, tmp_path, config(feeds)) as bot:
        await set_the_scene(bot, feeds)
        for key, value in settings_env(fake, tmp_path).items():
            monkeypatch.setenv(key, value)
        [posted] = fake.messages(ALERTS_CHANNEL_ID)
        message = f"https://discord.com/channels/{GUILD_ID}/{ALERTS_CHANNEL_ID}/{posted['id']}"
        for fate, (asked, watch, feed, reasons) in EXPECTED.items():
            text = await a_answer(bot, asked)
            assert text.startswith(f"**{fate.replace('_', ' ')}**"), (fate, text)
            plain = text.replace("\\", "")
            for words in (watch, feed, *reasons):
                assert words is None or words in plain, (fate, words, text)
            answer = await asyncio.to_thread(cli_json, asked, capsys)
            assert answer["fate"] == fate, (fate, answer)
            if feed is not None:
                assert feed in answer["feeds"] or any(feed in line for line in answer["text"])
            if watch is not None:
                [line] = [w for w in answer["watches"] if w["watch"] == watch]
                assert line["matched"] is (fate != "not_matched"), line
                assert all(r in line["reason"] for r in reasons), (line, reasons)
        sent = await a_answer(bot, link("t1"))
        assert message in sent
        assert "hooked" not in sent  # the config file's watch never sees a guild's feed
        assert (await asyncio.to_thread(cli_json, link("t1"), capsys))["message"] == message

        # /feed list and /watch test say why a feed fails in the words /why uses.
        failing = "failing: its last fetch failed 2 times in a row \\(HTTP 403 Forbidden"
        assert failing in await bot.answer("feed", subcommand="list")
        tested = await bot.answer("watch", {"query": "tariffs"}, subcommand="test")
        assert f"**Blocked Wire** is not in this test: {failing}" in tested, tested
        assert failing in await a_answer(bot, EXPECTED["feed_failing"][0])

        # Headline words: one article, or the candidates when several fit.
        assert (await a_answer(bot, "weather calm")).startswith("**not matched**")
        several = await a_answer(bot, "Tariffs bite")
        assert several.startswith("2 articles fit") and link("t2") in several

        # Guild B follows none of A's feeds: it learns nothing of them, nor of A's watches.
        for asked in (link("t1"), link("t2"), "Tariffs bite", "https://blocked.example/x"):
            text = await b_answer(bot, asked)
            assert text.startswith("**not seen**"), (asked, text)
            for secret in ("Wire Two", "Blocked", "china-trade", "gallium", "news.example/t",
                           "/wire", "discord.com/channels"):
                assert secret not in text, (secret, text)
