"""The controls under an alert, tried as a member would against the fake Discord (issue 22).

Real bot (``build_app`` + the discord.py client), real SQLite, a local feed server; the
clicks are component interactions (type 3) dispatched over the fake gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config.file import BotConfig, Config
from bot.core.model import Alert
from bot.exts.client import start_client, stop_client
from bot.store import SqlStore
from bot.store.schema import deliveries
from tests.exts.harness import GUILD_ID, Bot, item, rss, running_bot
from tests.fakes.discord_client import GUILD_READY_TIMEOUT, no_identify_delay
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    JSON,
    MEMBER_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    FakeChannel,
    FakeConfig,
    FakeGuild,
    FakeRole,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(60)

EDITORS = FakeRole(4444444444444444409, "editors")
GUILD = FakeGuild(roles=(EDITORS,))
OTHER_USER = 5555555555555555599
HEADLINE = "China curbs rare earth exports as tariffs bite"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(FakeConfig(guilds=(GUILD,))) as server:
        yield server


def config(**bot: Any) -> Config:
    return Config(bot=BotConfig(guilds=(GUILD_ID,), min_feed_interval=1.0,
                                private_network_guilds=(GUILD_ID,), **bot))


async def wire(bot: Bot) -> None:
    """Two feeds (so a story can have a second source) and a watch posting to #alerts."""
    for path in ("/a.xml", "/b.xml"):
        bot.feeds.serve(path, rss(item(f"old{path[1]}", "Old tariffs story")))
    await bot.feed_add(bot.feeds.url("/a.xml"), name="Wire A")
    await bot.feed_add(bot.feeds.url("/b.xml"), name="Wire B")
    await bot.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID)


def publish(bot: Bot, path: str, *items: str) -> None:
    bot.feeds.serve(path, rss(*items, item(f"old{path[1]}", "Old tariffs story")))


@pytest.fixture
async def bot(fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(fake, feeds, tmp_path, config(manager_role="editors")) as running:
        await wire(running)
        yield running


def ids(message: JSON) -> dict[str, str]:
    """The message's controls: label or placeholder → custom_id (or url for links)."""
    found = {}
    for row in message["components"]:
        for component in row["components"]:
            name = component.get("label") or component.get("placeholder")
            found[name] = component.get("custom_id") or component.get("url")
    return found


async def first_alert(bot: Bot, headline: str = HEADLINE, guid: str = "s1") -> JSON:
    publish(bot, "/a.xml", item(guid, headline))
    assert await bot.poll_and_deliver() == 1
    return bot.fake.messages(ALERTS_CHANNEL_ID)[-1]


async def test_an_alert_arrives_with_buttons(bot: Bot) -> None:
    message = await first_alert(bot)
    [watch] = await bot.app.store.watches(GUILD_ID)
    delivery_id = await _delivery_of(bot, message)
    assert ids(message) == {
        "Read": "https://news.example/s1",
        "Follow": f"ww1:follow:{watch.id}",
        "Mute story": f"ww1:mute:{delivery_id}",
        "⏸️ Pause this watch…": f"ww1:pause:{watch.id}",
    }
    select = message["components"][1]["components"][0]
    assert [o["value"] for o in select["options"]] == ["1h", "8h", "24h", "until-resumed"]


async def _delivery_of(bot: Bot, message: JSON) -> int:
    """The outbox row that posted ``message``."""
    store = bot.app.store
    assert isinstance(store, SqlStore)
    return int(await store.read(lambda conn: conn.execute(select(deliveries.c.id).where(
        deliveries.c.message_id == message["id"])).scalar_one()))


async def test_pause_for_an_hour_stops_the_next_item_and_watch_list_shows_it(bot: Bot) -> None:
    message = await first_alert(bot)
    text = await bot.click(message, ids(message)["⏸️ Pause this watch…"], values=["1h"],
                           permissions=MODERATOR_PERMISSIONS)
    assert text.startswith("⏸️ Watch **trade** paused until <t:")
    assert "Undo: `/watch resume trade` (or `/watch set trade`)." in text
    publish(bot, "/a.xml", item("s2", "Tariffs on steel doubled"), item("s1", HEADLINE))
    assert await bot.poll_and_deliver() == 0
    assert len(bot.fake.messages(ALERTS_CHANNEL_ID)) == 1
    listing = await bot.answer("watch", subcommand="list")
    assert "⏸️ paused until <t:" in listing and "for 1 hour" in listing
    lifted = await bot.answer("watch", {"name": "trade"}, subcommand="set")
    assert "The pause is lifted." in lifted
    publish(bot, "/a.xml", item("s3", "Tariffs on copper halved"), item("s1", HEADLINE))
    assert await bot.poll_and_deliver() == 1


async def test_mute_story_stops_its_edits_while_another_story_still_alerts(bot: Bot) -> None:
    message = await first_alert(bot)
    text = await bot.click(message, ids(message)["Mute story"], permissions=MODERATOR_PERMISSIONS)
    assert text.startswith("🔇 Story muted in <#") and "click **Mute story** again" in text
    # The same story from the second feed: without the mute this would edit the message.
    publish(bot, "/b.xml", item("b1", HEADLINE))
    publish(bot, "/a.xml", item("s2", "Steel tariffs doubled overnight"), item("s1", HEADLINE))
    await bot.poll_and_deliver()
    await bot.app.outbox.drain_once()
    assert bot.fake.state.edits == []
    messages = bot.fake.messages(ALERTS_CHANNEL_ID)
    assert [m["embeds"][0]["title"] for m in messages] == [
        HEADLINE, "Steel tariffs doubled overnight"]


async def test_unmuted_story_edits_as_before(bot: Bot) -> None:
    """The control case of the test above: the second source edits the first message."""
    await first_alert(bot)
    publish(bot, "/b.xml", item("b1", HEADLINE))
    await bot.poll_and_deliver()
    assert len(bot.fake.state.edits) == 1
    assert len(bot.fake.messages(ALERTS_CHANNEL_ID)) == 1


async def test_follow_gives_the_role_and_the_next_alert_pings_exactly_it(bot: Bot) -> None:
    message = await first_alert(bot)
    text = await bot.click(message, ids(message)["Follow"], user_id=OTHER_USER)
    [role] = bot.fake.state.created_roles[GUILD_ID]
    role_id = int(role["id"])
    assert role["name"] == "trade" and role["mentionable"] is True
    assert text.startswith(f"🔔 You now follow **trade**: its alerts ping <@&{role_id}>.")
    assert f"I created the role <@&{role_id}>" in text
    assert bot.fake.state.member_roles[(GUILD_ID, OTHER_USER)] == {role_id}

    publish(bot, "/a.xml", item("s2", "Steel tariffs doubled overnight"), item("s1", HEADLINE))
    assert await bot.poll_and_deliver() == 1
    alert = bot.fake.messages(ALERTS_CHANNEL_ID)[-1]
    assert alert["content"] == f"<@&{role_id}>"
    assert alert["mention_roles"] == [str(role_id)] and not alert["mention_everyone"]

    again = await bot.click(alert, ids(alert)["Follow"], user_id=OTHER_USER)
    assert again.startswith("🔕 You no longer follow **trade**.")
    assert bot.fake.state.member_roles[(GUILD_ID, OTHER_USER)] == set()
    assert len(bot.fake.state.created_roles[GUILD_ID]) == 1  # made once


async def test_follow_without_manage_roles_says_what_is_missing(bot: Bot) -> None:
    message = await first_alert(bot)
    bot.fake.state.bot_lacks.add("manage_roles")
    text = await bot.click(message, ids(message)["Follow"])
    assert text == "⚠️ I need the Manage Roles permission to create this watch's follow role."
    [watch] = await bot.app.store.watches(GUILD_ID)
    assert watch.follow_role_id is None


@pytest.mark.parametrize("control", ["Mute story", "⏸️ Pause this watch…"])
async def test_a_member_without_manage_server_is_refused(bot: Bot, control: str) -> None:
    message = await first_alert(bot)
    text = await bot.click(message, ids(message)[control], values=["24h"],
                           permissions=MEMBER_PERMISSIONS)
    assert text.startswith("⚠️ ") and "needs the Manage Server permission or the role " \
                                      "editors" in text
    [watch] = await bot.app.store.watches(GUILD_ID)
    assert not watch.paused
    publish(bot, "/b.xml", item("b1", HEADLINE))
    await bot.poll_and_deliver()
    assert len(bot.fake.state.edits) == 1  # the story was not muted


async def test_the_manager_role_may_pause(bot: Bot) -> None:
    message = await first_alert(bot)
    text = await bot.click(message, ids(message)["⏸️ Pause this watch…"],
                           values=["until-resumed"], permissions=MEMBER_PERMISSIONS,
                           roles=(EDITORS.id,))
    assert text.startswith("⏸️ Watch **trade** paused until resumed")
    [watch] = await bot.app.store.watches(GUILD_ID)
    assert watch.paused and watch.paused_until is None


async def test_after_a_restart_the_same_buttons_work(fake: FakeDiscord, feeds: FeedServer,
                                                     tmp_path: Path) -> None:
    async with running_bot(fake, feeds, tmp_path, config()) as before:
        await wire(before)
        message = await first_alert(before)
    async with running_bot(fake, feeds, tmp_path, config()) as after:
        text = await after.click(message, ids(message)["Mute story"],
                                 permissions=MODERATOR_PERMISSIONS)
        assert text.startswith("🔇 Story muted")
        text = await after.click(message, ids(message)["Follow"])
        assert text.startswith("🔔 You now follow **trade**")
        publish(after, "/b.xml", item("b1", HEADLINE))
        await after.poll_and_deliver()
        assert fake.state.edits == []
        text = await after.click(message, ids(message)["⏸️ Pause this watch…"],
                                 values=["8h"], permissions=MODERATOR_PERMISSIONS)
        assert text.startswith("⏸️ Watch **trade** paused until <t:")


async def test_a_click_delivered_to_two_sessions_is_handled_once(bot: Bot) -> None:
    """Discord gives an interaction to every session of its shard: only one may act."""
    fake = bot.fake
    message = await first_alert(bot)
    stop = asyncio.Event()
    second = await start_client(bot.app, stop, sync_commands=False,
                                guild_ready_timeout=GUILD_READY_TIMEOUT)
    second.client.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(second.client.wait_until_ready(), 10)
        await fake.wait_until(lambda: len(fake.gateway.live()) == 2, what="two sessions")
        record = await fake.click(message, ids(message)["Follow"], user_id=OTHER_USER)
        [answer] = await fake.wait_for_followups(record)
        await asyncio.sleep(0.5)  # room for a second, wrong, answer
        assert answer["content"].startswith("🔔 You now follow **trade**")
        assert (len(record.callbacks), record.rejected, len(record.followups)) == (1, [], 1)
        assert len(fake.state.created_roles[GUILD_ID]) == 1
        assert len(fake.requests_to("PUT", f"/guilds/{GUILD_ID}/members/")) == 1
    finally:
        await stop_client(second)


def test_alert_role_and_follow_role_both_ping() -> None:
    from bot.core.model import Snippet
    from bot.delivery.embed import alert_to_message
    alert = Alert(watch_name="w", feed_name="f", title="t", link="https://x.example/1",
                  snippet=Snippet("t"), matched_terms=(), role_id=11, follow_role_id=22)
    body = alert_to_message(alert)
    assert body["content"] == "<@&11> <@&22>"
    assert body["allowed_mentions"] == {"parse": [], "roles": ["11", "22"]}


async def test_a_control_naming_another_servers_watch_changes_nothing(
        feeds: FeedServer, tmp_path: Path) -> None:
    """A custom_id is only an id: a message in server B naming server A's watch (a forged
    or stale control) must not pause or mute anything of A."""
    other = FakeGuild(id=1111111111111111122, name="Other",
                      channels=(FakeChannel(2222222222222222299, "b-news"),))
    async with FakeDiscord(FakeConfig(guilds=(GUILD, other))) as fake, \
            running_bot(fake, feeds, tmp_path, config()) as bot:
        await wire(bot)
        message = await first_alert(bot)
        [watch] = await bot.app.store.watches(GUILD_ID)
        forged = fake.state.store_message(2222222222222222299, fake.state.build_message(
            2222222222222222299, {"content": "x", "components": message["components"]}), {})
        for control, values in (("⏸️ Pause this watch…", ["until-resumed"]),
                                ("Mute story", None), ("Follow", None)):
            text = await bot.click(forged, ids(forged)[control], values=values,
                                   permissions=MODERATOR_PERMISSIONS)
            assert text.startswith("⚠️ This alert"), text
        [watch] = await bot.app.store.watches(GUILD_ID)
        assert not watch.paused and watch.follow_role_id is None
        assert fake.state.created_roles == {}
