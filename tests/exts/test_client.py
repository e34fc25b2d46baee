"""The client against the fake Discord: login, command sync, reconnects, rate limits, bad token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.core.settings import load_settings
from bot.exts.client import start_client, stop_client
from bot.service.app import build_app
from tests.exts.harness import Bot, item, make_config, rss, running_bot, settings_env
from tests.fakes.discord_client import GUILD_READY_TIMEOUT, discord_pointed_at
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, APPLICATION_ID, GUILD_ID
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(30)

MANAGE_GUILD = "32"
COMMANDS = {
    "watch": {"add", "remove", "list", "set", "pause", "resume", "test"},
    "feed": {"add", "remove", "list", "resume"},
    "status": set(),
    "why": set(),
}
OUR_TASKS = ("discord", "outbox", "poll-tick")


def our_tasks() -> list[str]:
    """Names of the bot's own long-lived tasks (not discord.py's or the fakes')."""
    return sorted(t.get_name() for t in asyncio.all_tasks()
                  if t.get_name() in OUR_TASKS or t.get_name().startswith("poll "))


def command_puts(fake: FakeDiscord) -> int:
    return len([r for r in fake.requests_to("PUT", f"/applications/{APPLICATION_ID}/")
                if r.status == 200])


async def test_login_syncs_commands_to_the_configured_guild(bot: Bot) -> None:
    fake = bot.fake
    synced = {c["name"]: c for c in fake.commands(GUILD_ID)}
    assert {name: {o["name"] for o in c.get("options", []) if o["type"] == 1}
            for name, c in synced.items()} == COMMANDS
    for command in synced.values():
        # Hidden from members without Manage Server, and never offered in DMs.
        assert str(command["default_member_permissions"]) == MANAGE_GUILD
        assert command["dm_permission"] is False
    add = next(o for o in synced["watch"]["options"] if o["name"] == "add")
    assert [(o["name"], o["type"], o["required"]) for o in add["options"]] == [
        ("name", 3, True), ("query", 3, True), ("channel", 7, False), ("role", 8, False),
        ("deliver", 3, False), ("timezone", 3, False), ("quiet", 3, False), ("urgent", 3, False),
        ("stories", 3, False), ("follow_ups", 3, False)]
    assert [o.get("autocomplete", False) for o in add["options"]][5] is True  # timezone
    assert fake.commands(None) == []  # nothing global when guilds are configured
    assert bot.client.synced_to == [GUILD_ID]
    assert fake.unknown_requests == []


async def test_without_configured_guilds_commands_sync_globally(
        fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> None:
    async with running_bot(fake, feeds, tmp_path, make_config(guilds=())) as bot:
        assert {c["name"] for c in fake.commands(None)} == set(COMMANDS)
        assert fake.commands(GUILD_ID) == []
        # Global commands answer in a guild too.
        assert "No watches yet" in await bot.answer("watch", subcommand="list")


async def test_a_wrong_token_stops_the_bot_with_status_2(
        fake: FakeDiscord, tmp_path: Path) -> None:
    env = {**settings_env(fake, tmp_path), "DISCORD_TOKEN": "not-the-token"}
    stop = asyncio.Event()
    with discord_pointed_at(fake):
        async with build_app(load_settings(env), make_config()) as app:
            handle = await start_client(app, stop, guild_ready_timeout=GUILD_READY_TIMEOUT)
            await asyncio.wait_for(stop.wait(), timeout=5)
            await stop_client(handle)
    assert app.exit_status == 2
    assert fake.commands(GUILD_ID) == []


async def test_reconnect_resumes_without_new_pollers_or_resync(bot: Bot) -> None:
    fake = bot.fake
    tasks, puts = our_tasks(), command_puts(fake)
    assert tasks == ["discord"]
    bot.feeds.serve("/feed.xml", rss(item("a1", "Old tariffs story")))
    await bot.feed_add(bot.feeds.url("/feed.xml"), name="Wire")
    await bot.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID)

    assert await fake.gateway.reconnect() == 1
    await fake.wait_until(lambda: fake.gateway.resumes and fake.gateway.active, what="RESUME")
    await fake.wait_until(lambda: bot.app.gateway_down_since is None, what="on_resumed")
    assert "trade" in await bot.answer("watch", subcommand="list")

    # A non-resumable INVALID_SESSION: a fresh IDENTIFY, READY and on_ready again.
    await fake.gateway.invalidate(resumable=False)
    await fake.wait_until(lambda: len(fake.gateway.identifies) == 2 and fake.gateway.active,
                          what="a second IDENTIFY")
    # on_disconnect marked the gateway down; on_ready (fired again) marks it healthy.
    await fake.wait_until(lambda: bot.app.gateway_down_since is None,
                          what="on_ready after re-IDENTIFY")

    bot.feeds.serve("/feed.xml", rss(item("a2", "New tariffs bite"),
                                     item("a1", "Old tariffs story")))
    assert await bot.poll_and_deliver() == 1
    assert await bot.poll_and_deliver() == 0
    assert [m["embeds"][0]["title"] for m in fake.messages(ALERTS_CHANNEL_ID)] == [
        "New tariffs bite"]
    assert (our_tasks(), command_puts(fake)) == (tasks, puts)
    assert len(fake.gateway.resumes) == 1


async def test_a_rate_limited_command_reply_is_retried(bot: Bot) -> None:
    fault = bot.fake.faults.rate_limit("/interactions/", count=1, retry_after=0.05)
    assert "No watches yet" in await bot.answer("watch", subcommand="list")
    assert fault.count == 0
    statuses = [r.status for r in bot.fake.requests_to("POST", "/interactions/")]
    assert statuses == [429, 200]


async def test_a_guild_that_refuses_the_sync_does_not_stop_the_others(
        fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> None:
    gone = 1111111111111111999  # in the config, but the bot was removed from it
    async with running_bot(fake, feeds, tmp_path, make_config(guilds=(gone, GUILD_ID))) as bot:
        assert bot.client.synced_to == [GUILD_ID]
        assert {c["name"] for c in fake.commands(GUILD_ID)} == set(COMMANDS)
        assert "No watches yet" in await bot.answer("watch", subcommand="list")
    [refused] = [r for r in fake.requests_to("PUT", f"/applications/{APPLICATION_ID}/")
                 if r.status != 200]
    assert (refused.path.split("/")[4], refused.status) == (str(gone), 403)
