"""The fake's components, threads, forums and roles, through discord.py and plain HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest

from tests.fakes.discord_client import running_client
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    BOT_TOKEN,
    GUILD_ID,
    USER_ID,
    FakeChannel,
    FakeConfig,
    FakeGuild,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.test_discord_server import TestBot, alerts

pytestmark = pytest.mark.timeout(20)
AUTH = {"Authorization": f"Bot {BOT_TOKEN}"}
NONE = discord.AllowedMentions.none()
FORUM_ID = 2222222222222222209
GUILD = FakeGuild(channels=(*FakeGuild().channels, FakeChannel(FORUM_ID, "news", 2, 15)))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(FakeConfig(guilds=(GUILD,))) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[TestBot]:
    async with running_client(TestBot(), fake) as client:
        yield client


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(fake.api_base + "/") as session:
        yield session


async def _post(http: aiohttp.ClientSession, path: str, body: object,
                method: str = "POST") -> tuple[int, dict[str, object]]:
    async with http.request(method, path, json=body, headers=AUTH) as resp:
        data = await resp.json() if resp.status != 204 else {}
        return resp.status, data


BUTTON = {"type": 1, "components": [{"type": 2, "style": 2, "label": "Go",
                                     "custom_id": "go:1"}]}


async def test_a_click_reaches_the_client_and_a_deferred_update_takes_follow_ups(
        fake: FakeDiscord, http: aiohttp.ClientSession, bot: TestBot) -> None:
    clicked: asyncio.Queue[discord.Interaction] = asyncio.Queue()

    async def on_interaction(interaction: discord.Interaction) -> None:
        await clicked.put(interaction)

    bot.on_interaction = on_interaction  # type: ignore[method-assign]
    status, message = await _post(http, f"channels/{ALERTS_CHANNEL_ID}/messages",
                                  {"content": "x", "components": [BUTTON]})
    assert status == 200
    record = await fake.click(message, "go:1")
    interaction = await asyncio.wait_for(clicked.get(), 5)
    assert interaction.type is discord.InteractionType.component
    assert interaction.data is not None and interaction.data["custom_id"] == "go:1"
    assert interaction.message is not None and interaction.message.id == int(message["id"])
    await interaction.response.defer()  # type 6: a deferred update
    await interaction.followup.send("done", ephemeral=True)
    assert (await fake.wait_for_callback(record))["type"] == 6
    [answer] = await fake.wait_for_followups(record)
    assert answer["content"] == "done" and int(answer["flags"]) & 64


async def test_a_click_is_unknown_after_its_three_seconds(fake: FakeDiscord,
                                                          http: aiohttp.ClientSession) -> None:
    _, message = await _post(http, f"channels/{ALERTS_CHANNEL_ID}/messages",
                             {"content": "x", "components": [BUTTON]})
    record = fake.prepare_click(message, "go:1")
    record.created -= fake.config.interaction_deadline + 0.1
    async with http.post(f"interactions/{record.id}/{record.token}/callback",
                         json={"type": 6}) as resp:
        assert (resp.status, (await resp.json())["code"]) == (404, 10062)


async def test_a_component_not_on_the_message_cannot_be_clicked(
        fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    _, message = await _post(http, f"channels/{ALERTS_CHANNEL_ID}/messages", {"content": "x"})
    with pytest.raises(ValueError):
        fake.prepare_click(message, "go:1")


async def test_thread_on_a_message_once_then_160004(fake: FakeDiscord, bot: TestBot) -> None:
    sent = await alerts(bot).send("story", allowed_mentions=NONE)
    thread = await sent.create_thread(name="Story")
    assert thread.id == sent.id
    await thread.send("second source", allowed_mentions=NONE)
    assert [m["content"] for m in fake.messages(sent.id)] == ["second source"]
    with pytest.raises(discord.HTTPException) as caught:
        await sent.create_thread(name="Story again")
    assert (caught.value.status, caught.value.code) == (400, 160004)


async def test_threads_need_create_public_threads(fake: FakeDiscord, bot: TestBot) -> None:
    sent = await alerts(bot).send("story", allowed_mentions=NONE)
    fake.state.bot_lacks.add("create_public_threads")
    with pytest.raises(discord.Forbidden) as caught:
        await sent.create_thread(name="Story")
    assert caught.value.code == 50013


async def test_forum_post_with_a_new_tag(fake: FakeDiscord, http: aiohttp.ClientSession) -> None:
    status, _ = await _post(http, f"channels/{FORUM_ID}/messages", {"content": "x"})
    assert status == 400  # a forum takes posts, not messages
    status, forum = await _post(http, f"channels/{FORUM_ID}",
                                {"available_tags": [{"name": "trade"}]}, method="PATCH")
    assert status == 200
    [tag] = forum["available_tags"]  # type: ignore[misc]
    status, post = await _post(http, f"channels/{FORUM_ID}/threads", {
        "name": "Story", "message": {"content": "first"}, "applied_tags": [tag["id"]]})
    assert status == 201 and post["parent_id"] == str(FORUM_ID)
    assert post["message"]["id"] == post["id"]  # type: ignore[index]
    assert fake.state.applied_tags[int(str(post["id"]))] == [tag["id"]]
    assert [m["content"] for m in fake.messages(int(str(post["id"])))] == ["first"]
    fake.state.bot_lacks.add("manage_channels")
    status, denied = await _post(http, f"channels/{FORUM_ID}", {"available_tags": []},
                                 method="PATCH")
    assert (status, denied["code"]) == (403, 50013)


async def test_roles_are_created_given_and_announced(fake: FakeDiscord, bot: TestBot) -> None:
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None
    role = await guild.create_role(name="followers", mentionable=True)
    await fake.wait_until(lambda: guild.get_role(role.id), what="GUILD_ROLE_CREATE")
    member = discord.Object(USER_ID)
    await bot.http.add_role(GUILD_ID, USER_ID, role.id)
    assert fake.state.member_roles[(GUILD_ID, USER_ID)] == {role.id}
    await bot.http.remove_role(GUILD_ID, member.id, role.id)
    assert fake.state.member_roles[(GUILD_ID, USER_ID)] == set()
    fake.state.bot_lacks.add("manage_roles")
    with pytest.raises(discord.Forbidden) as caught:
        await guild.create_role(name="more")
    assert caught.value.code == 50013


async def test_webhooks_send_only_link_buttons(fake: FakeDiscord,
                                               http: aiohttp.ClientSession) -> None:
    from tests.fakes.discord_payloads import WEBHOOK_ID, WEBHOOK_TOKEN
    link = {"type": 1, "components": [{"type": 2, "style": 5, "label": "Read",
                                       "url": "https://news.example/1"}]}
    url = f"webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}?wait=true"
    async with http.post(url, json={"content": "x", "components": [link]}) as resp:
        assert (await resp.json())["components"] == []  # ignored without with_components
    async with http.post(url + "&with_components=true",
                         json={"content": "x", "components": [link]}) as resp:
        assert (await resp.json())["components"] == [link]
    async with http.post(url + "&with_components=true",
                         json={"content": "x", "components": [BUTTON]}) as resp:
        assert resp.status == 400


async def test_the_control_api_clicks_for_another_process(fake: FakeDiscord, bot: TestBot,
                                                          http: aiohttp.ClientSession) -> None:
    _, message = await _post(http, f"channels/{ALERTS_CHANNEL_ID}/messages",
                             {"content": "x", "components": [BUTTON]})
    async with aiohttp.ClientSession(fake.base_url) as control:
        async with control.post("/_fake/clicks", json={"message_id": message["id"],
                                                       "custom_id": "go:1"}) as resp:
            made = await resp.json()
        async with control.post("/_fake/clicks", json={"message_id": message["id"],
                                                       "custom_id": "nope"}) as resp:
            assert resp.status == 400
    record = fake.state.interactions[int(made["id"])]
    assert record.payload["type"] == 3 and record.payload["data"]["custom_id"] == "go:1"
