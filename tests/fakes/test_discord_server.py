"""The real discord.py client against the fake Discord: if these pass, the fake speaks Discord.

Table-driven checks of the fake's own rules (limits, mentions, faults) use plain aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakes.discord_client import GUILD_READY_TIMEOUT, discord_pointed_at, running_client
from tests.fakes.discord_interactions import interaction_payload
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    APPLICATION_ID,
    BOT_TOKEN,
    GENERAL_CHANNEL_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    ROLE_ID,
    WEBHOOK_ID,
    WEBHOOK_TOKEN,
    FakeConfig,
    FakeWebhook,
)
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(20)
REPO_ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bot {BOT_TOKEN}"}
MESSAGES = f"/channels/{ALERTS_CHANNEL_ID}/messages"


class TestBot(discord.Client):
    """A minimal bot with guild slash commands (the real cogs are tested elsewhere)."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=GUILD_READY_TIMEOUT)
        self.tree = app_commands.CommandTree(self)
        self.resumed = asyncio.Event()
        guild = discord.Object(GUILD_ID)

        @self.tree.command(name="ping", description="Answer privately", guild=guild)
        async def ping(inter: discord.Interaction) -> None:
            allowed = inter.permissions.manage_guild
            await inter.response.send_message("pong" if allowed else "Manage Server needed",
                                              ephemeral=True)

        @self.tree.command(name="slow", description="Defer, follow up, edit", guild=guild)
        async def slow(inter: discord.Interaction) -> None:
            await inter.response.defer(ephemeral=True, thinking=True)
            await inter.edit_original_response(content="done")
            await inter.followup.send("and one more thing", ephemeral=True)

        watch = app_commands.Group(name="watch", description="Watches", guild_ids=[GUILD_ID])

        @watch.command(name="add", description="Add a watch")
        async def add(inter: discord.Interaction, name: str, query: str) -> None:
            await inter.response.send_message(f"added {name}: {query}", ephemeral=True)

        @add.autocomplete("name")
        async def complete(inter: discord.Interaction,
                           current: str) -> list[app_commands.Choice[str]]:
            names = ("china-trade", "chips", "energy")
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

        self.tree.add_command(watch)

    async def on_resumed(self) -> None:
        self.resumed.set()


def alerts(client: discord.Client) -> discord.TextChannel:
    channel = client.get_channel(ALERTS_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    return channel


# --- login, READY, guilds ----------------------------------------------------------------
async def test_login_ready_and_guild_available(fake: FakeDiscord, bot: TestBot) -> None:
    assert bot.user is not None and bot.user.id == APPLICATION_ID
    assert bot.application_id == APPLICATION_ID
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None and not guild.unavailable
    assert [c.name for c in guild.text_channels] == ["alerts", "general"]
    assert guild.default_role.id == GUILD_ID
    assert guild.get_role(ROLE_ID) is not None
    assert guild.me is not None and guild.me.id == APPLICATION_ID
    assert len(fake.gateway.identifies) == 1
    assert fake.gateway.identifies[0]["intents"] == discord.Intents.default().value
    assert fake.unknown_requests == []


async def test_wrong_token_is_a_login_failure(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with discord_pointed_at(fake), pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert [(r.path, r.status) for r in fake.requests] == [("/users/@me", 401)]


# --- application commands ----------------------------------------------------------------
async def test_command_sync_is_recorded_and_ids_survive_a_resync(fake: FakeDiscord,
                                                               bot: TestBot) -> None:
    first = await bot.tree.sync(guild=discord.Object(GUILD_ID))
    assert sorted(c.name for c in first) == ["ping", "slow", "watch"]
    recorded = fake.commands(GUILD_ID)
    assert {c["name"] for c in recorded} == {"ping", "slow", "watch"}
    assert all(c["application_id"] == str(APPLICATION_ID) for c in recorded)
    again = await bot.tree.sync(guild=discord.Object(GUILD_ID))
    assert {c.name: c.id for c in again} == {c.name: c.id for c in first}
    fetched = await bot.tree.fetch_commands(guild=discord.Object(GUILD_ID))
    assert {c.id for c in fetched} == {c.id for c in first}
    assert await bot.tree.sync() == []  # no global commands
    assert fake.commands(None) == []


@pytest.mark.parametrize(
    ("permissions", "reply"),
    [(MEMBER_PERMISSIONS, "Manage Server needed"), (MODERATOR_PERMISSIONS, "pong")],
)
async def test_slash_command_answered_ephemeral(fake: FakeDiscord, bot: TestBot,
                                                permissions: int, reply: str) -> None:
    interaction = await fake.send_command("ping", permissions=permissions)
    callback = await fake.wait_for_callback(interaction)
    assert callback["type"] == 4
    assert callback["data"]["content"] == reply
    assert callback["data"]["flags"] == 64
    assert interaction.original is not None and interaction.original["flags"] & 64


async def test_subcommand_of_a_group_and_its_autocomplete(fake: FakeDiscord, bot: TestBot) -> None:
    added = await fake.send_command("watch", {"name": "china-trade", "query": "rare earths"},
                                    subcommand="add")
    assert (await fake.wait_for_callback(added))["data"]["content"] == (
        "added china-trade: rare earths")
    typing = await fake.send_command("watch", {"name": "ch", "query": ""}, subcommand="add",
                                     focused="name")
    callback = await fake.wait_for_callback(typing)
    assert callback["type"] == 8
    assert [c["value"] for c in callback["data"]["choices"]] == ["china-trade", "chips"]


async def test_defer_edit_original_and_followup(fake: FakeDiscord, bot: TestBot) -> None:
    interaction = await fake.send_command("slow")
    assert (await fake.wait_for_callback(interaction))["type"] == 5
    followups = await fake.wait_for_followups(interaction)
    assert [f["content"] for f in followups] == ["and one more thing"]
    assert followups[0]["flags"] & 64
    assert interaction.original is not None
    assert interaction.original["content"] == "done"
    assert not interaction.original["flags"] & 128  # no longer "thinking"


async def test_late_answer_is_an_unknown_interaction() -> None:
    async with FakeDiscord(FakeConfig(interaction_deadline=0.0)) as fake:
        errors: list[app_commands.AppCommandError] = []

        async def record(inter: discord.Interaction, exc: app_commands.AppCommandError) -> None:
            errors.append(exc)

        client = TestBot()
        client.tree.on_error = record  # type: ignore[method-assign]
        async with running_client(client, fake):
            interaction = await fake.send_command("ping")
            await fake.wait_until(lambda: errors, what="the command error")
    assert interaction.callbacks == []
    assert isinstance(errors[0], app_commands.CommandInvokeError)
    assert isinstance(errors[0].original, discord.NotFound)
    assert errors[0].original.code == 10062


# --- messages ----------------------------------------------------------------------------
async def test_send_records_allowed_mentions_and_nonce(fake: FakeDiscord, bot: TestBot) -> None:
    mentions = discord.AllowedMentions(everyone=False, users=False,
                                       roles=[discord.Object(ROLE_ID)])
    sent = await alerts(bot).send(f"@everyone <@&{ROLE_ID}> <@123>", allowed_mentions=mentions,
                                  nonce="alert-1")
    (posted,) = fake.requests_to("POST", MESSAGES)
    assert posted.json["nonce"] == "alert-1" and posted.json["enforce_nonce"] is True
    assert posted.json["allowed_mentions"]["parse"] == []
    assert posted.json["allowed_mentions"]["roles"] == [ROLE_ID]
    (stored,) = fake.messages(ALERTS_CHANNEL_ID)
    assert stored["id"] == str(sent.id)
    assert stored["mention_roles"] == [str(ROLE_ID)]
    assert stored["mention_everyone"] is False and stored["mentions"] == []
    assert sent.role_mentions and not sent.mention_everyone


async def test_nonce_dedupe_returns_the_existing_message(fake: FakeDiscord, bot: TestBot) -> None:
    first = await alerts(bot).send("one", nonce="same")
    again = await alerts(bot).send("one, resent after a crash", nonce="same")
    elsewhere = bot.get_channel(GENERAL_CHANNEL_ID)
    assert isinstance(elsewhere, discord.TextChannel)
    other = await elsewhere.send("one", nonce="same")  # nonces are per channel
    assert again.id == first.id and again.content == "one"
    assert other.id != first.id
    assert len(fake.messages(ALERTS_CHANNEL_ID)) == 1
    assert len(fake.messages(GENERAL_CHANNEL_ID)) == 1


async def test_history_is_newest_first(fake: FakeDiscord, bot: TestBot) -> None:
    for text in ("a", "b", "c"):
        await alerts(bot).send(text, nonce=f"n-{text}")
    history = [(m.content, m.nonce) async for m in alerts(bot).history(limit=2)]
    assert history == [("c", None), ("b", None)]  # like Discord: no nonce in history


async def test_429_with_via_is_retried_by_the_client(fake: FakeDiscord, bot: TestBot) -> None:
    fault = fake.faults.rate_limit(MESSAGES, count=2, retry_after=0.01)
    await alerts(bot).send("after two 429s", nonce="n-429")
    statuses = [r.status for r in fake.requests_to("POST", MESSAGES)]
    assert statuses == [429, 429, 200]
    assert {r.json["nonce"] for r in fake.requests_to("POST", MESSAGES)} == {"n-429"}
    assert fault.count == 0 and len(fake.messages(ALERTS_CHANNEL_ID)) == 1


async def test_429_without_via_is_raised_at_once(fake: FakeDiscord, bot: TestBot) -> None:
    fake.faults.rate_limit(MESSAGES, count=1, retry_after=0.01, via=False)
    with pytest.raises(discord.HTTPException) as caught:
        await alerts(bot).send("banned")
    assert caught.value.status == 429
    assert len(fake.requests_to("POST", MESSAGES)) == 1


@pytest.mark.parametrize(
    ("embed", "path"),
    [
        (discord.Embed(title="t" * 257), "embeds.0.title"),
        (discord.Embed(description="d" * 4097), "embeds.0.description"),
        (discord.Embed().add_field(name="n", value="v" * 1025), "embeds.0.fields.0.value"),
    ],
)
async def test_embed_over_the_limit_is_a_400(fake: FakeDiscord, bot: TestBot,
                                             embed: discord.Embed, path: str) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await alerts(bot).send(embed=embed)
    assert caught.value.status == 400 and caught.value.code == 50035
    assert path in caught.value.text
    assert fake.messages(ALERTS_CHANNEL_ID) == []


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [("forbid_channel", discord.Forbidden, 50001), ("unknown_webhook", discord.NotFound, 10015)],
)
async def test_lost_access_surfaces_as_discord_errors(fake: FakeDiscord, bot: TestBot,
                                                      fault: str, error: type[Exception],
                                                      code: int) -> None:
    hook = discord.Webhook.from_url(FakeWebhook().url, client=bot)
    if fault == "forbid_channel":
        fake.faults.forbid_channel(ALERTS_CHANNEL_ID)
        send = alerts(bot).send("x")
    else:
        fake.faults.unknown_webhook(WEBHOOK_ID)
        send = hook.send("x", wait=True)
    with pytest.raises(error) as caught:
        await send
    assert caught.value.code == code  # type: ignore[attr-defined]


async def test_webhook_posts_into_its_channel(fake: FakeDiscord, bot: TestBot) -> None:
    hook = discord.Webhook.from_url(FakeWebhook().url, client=bot)
    sent = await hook.send("via webhook", wait=True,
                           allowed_mentions=discord.AllowedMentions.none())
    assert [m["content"] for m in fake.webhook_messages(WEBHOOK_ID)] == ["via webhook"]
    assert fake.messages(ALERTS_CHANNEL_ID)[0]["id"] == str(sent.id)


# --- gateway -----------------------------------------------------------------------------
async def test_reconnect_is_survived_with_a_resume(fake: FakeDiscord, bot: TestBot) -> None:
    assert await fake.gateway.reconnect() == 1
    await asyncio.wait_for(bot.resumed.wait(), 5)
    assert len(fake.gateway.identifies) == 1 and len(fake.gateway.resumes) == 1
    interaction = await fake.send_command("ping")  # still answering after the resume
    assert (await fake.wait_for_callback(interaction))["type"] == 4


async def test_invalid_session_makes_the_client_identify_again(fake: FakeDiscord,
                                                               bot: TestBot) -> None:
    await fake.gateway.invalidate(resumable=False)
    await fake.wait_until(lambda: len(fake.gateway.identifies) == 2, what="a second IDENTIFY")
    await fake.wait_ready()
    interaction = await fake.send_command("ping")
    assert (await fake.wait_for_callback(interaction))["type"] == 4


# --- the fake's own rules, over plain HTTP -----------------------------------------------
def _embed_body(**embed: Any) -> dict[str, Any]:
    return {"embeds": [embed]}


@pytest.mark.parametrize(
    ("body", "status", "error_path"),
    [
        ({"content": "c" * 2000}, 200, None),
        ({"content": "c" * 2001}, 400, ["content"]),
        ({"content": "x", "nonce": "n" * 25}, 200, None),
        ({"content": "x", "nonce": "n" * 26}, 400, ["nonce"]),
        (_embed_body(title="t" * 256, description="d" * 4096), 200, None),
        (_embed_body(footer={"text": "f" * 2049}), 400, ["embeds", "0", "footer", "text"]),
        (_embed_body(author={"name": "a" * 257}), 400, ["embeds", "0", "author", "name"]),
        (_embed_body(fields=[{"name": "n", "value": "v"}] * 26), 400, ["embeds", "0", "fields"]),
        (_embed_body(fields=[{"name": "n" * 257, "value": "v"}]), 400,
         ["embeds", "0", "fields", "0", "name"]),
        ({"embeds": [{"title": "t"}] * 11}, 400, ["embeds"]),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, 400,
         ["embeds"]),
        (_embed_body(title="t", url="javascript:alert(1)"), 400, ["embeds", "0", "url"]),
        (_embed_body(title="t", thumbnail={"url": "data:image/png;base64,AA"}), 400,
         ["embeds", "0", "thumbnail", "url"]),
        (_embed_body(title="t", color=0x1000000), 400, ["embeds", "0", "color"]),
        (_embed_body(title="t", timestamp="yesterday"), 400, ["embeds", "0", "timestamp"]),
        ({"content": "x", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}}, 400,
         ["allowed_mentions"]),
        ({}, 400, None),
    ],
)
async def test_message_validation(http: aiohttp.ClientSession, body: dict[str, Any], status: int,
                                  error_path: list[str] | None) -> None:
    async with http.post(MESSAGES.lstrip("/"), json=body, headers=AUTH) as resp:
        data = await resp.json()
        assert resp.status == status, data
    node = data.get("errors", {})
    for part in error_path or []:
        node = node[part]
    if error_path is not None:
        assert node["_errors"][0]["code"]
        assert data["code"] == 50035


@pytest.mark.parametrize(
    ("content", "allowed", "everyone", "roles", "users"),
    [
        (f"@everyone <@&{ROLE_ID}> <@42>", None, True, [str(ROLE_ID)], ["42"]),
        (f"@everyone <@&{ROLE_ID}> <@42>", {"parse": []}, False, [], []),
        (f"@here <@&{ROLE_ID}>", {"parse": [], "roles": [str(ROLE_ID)]}, False, [str(ROLE_ID)],
         []),
        ("<@&999> <@!42>", {"parse": ["roles", "users"]}, False, [], ["42"]),  # 999: no such role
    ],
)
async def test_mentions_follow_allowed_mentions(http: aiohttp.ClientSession, content: str,
                                                allowed: dict[str, Any] | None, everyone: bool,
                                                roles: list[str], users: list[str]) -> None:
    body: dict[str, Any] = {"content": content}
    if allowed is not None:
        body["allowed_mentions"] = allowed
    async with http.post(MESSAGES.lstrip("/"), json=body, headers=AUTH) as resp:
        msg = await resp.json()
    assert msg["mention_everyone"] is everyone
    assert msg["mention_roles"] == roles
    assert [u["id"] for u in msg["mentions"]] == users


@pytest.mark.parametrize(
    ("command", "error_path"),
    [
        ({"name": "watch", "description": "ok"}, None),
        ({"name": "Watch", "description": "ok"}, ["0", "name"]),
        ({"name": "watch", "description": ""}, ["0", "description"]),
        ({"name": "watch", "description": "d" * 101}, ["0", "description"]),
        ({"name": "watch", "description": "ok", "options": [
            {"name": "a", "description": "a", "type": 3},
            {"name": "b", "description": "b", "type": 3, "required": True}]},
         ["0", "options", "1", "required"]),
    ],
)
async def test_command_validation(http: aiohttp.ClientSession, command: dict[str, Any],
                                  error_path: list[str] | None) -> None:
    url = f"applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"
    async with http.put(url, json=[command], headers=AUTH) as resp:
        data = await resp.json()
    if error_path is None:
        assert resp.status == 200 and data[0]["name"] == "watch"
        return
    assert resp.status == 400 and data["code"] == 50035
    node = data["errors"]
    for part in error_path:
        node = node[part]
    assert node["_errors"]


async def test_interaction_for_an_unknown_guild_is_refused(fake: FakeDiscord) -> None:
    with pytest.raises(ValueError, match="no configured guild"):
        await fake.send_command("ping", guild_id=1)


async def test_headers_unknown_routes_and_auth(fake: FakeDiscord,
                                               http: aiohttp.ClientSession) -> None:
    async with http.get("users/@me", headers=AUTH) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        assert int(resp.headers["X-RateLimit-Remaining"]) > 0
    async with http.get("users/@me") as resp:
        assert resp.status == 401
    async with http.delete("channels/1/pins", headers=AUTH) as resp:
        assert resp.status == 404
        assert set(await resp.json()) == {"message", "code"}
    assert [(r.method, r.path) for r in fake.unknown_requests] == [("DELETE", "/channels/1/pins")]


async def test_server_error_window_and_post_delay(fake: FakeDiscord,
                                                  http: aiohttp.ClientSession) -> None:
    fake.faults.server_error(0.2, status=502, prefix="/channels/")
    async with http.post(MESSAGES.lstrip("/"), json={"content": "x"}, headers=AUTH) as resp:
        assert resp.status == 502
    await asyncio.sleep(0.25)
    fake.faults.post_delay = 0.05
    started = time.monotonic()
    async with http.post(MESSAGES.lstrip("/"), json={"content": "x"}, headers=AUTH) as resp:
        assert resp.status == 200
    assert time.monotonic() - started >= 0.05


async def test_interaction_callback_only_once(fake: FakeDiscord,
                                              http: aiohttp.ClientSession) -> None:
    record = interaction_payload(fake.state, "ping")
    url = f"interactions/{record.id}/{record.token}/callback?with_response=1"
    answers = []
    for _ in range(2):
        async with http.post(url, json={"type": 4, "data": {"content": "hi"}}) as resp:
            answers.append((resp.status, (await resp.json())))
    assert answers[0][0] == 200 and answers[0][1]["resource"]["message"]["content"] == "hi"
    assert answers[1] == (400, {"message": "Interaction has already been acknowledged.",
                                "code": 40060})


# --- control API and standalone process --------------------------------------------------
async def test_control_api_sends_interactions_and_arms_faults(fake: FakeDiscord,
                                                              bot: TestBot) -> None:
    async with aiohttp.ClientSession(fake.base_url) as control:
        async with control.post("/_fake/interactions", json={
                "name": "ping", "permissions": MODERATOR_PERMISSIONS}) as resp:
            iid = (await resp.json())["id"]
        record = fake.state.interactions[int(iid)]
        await fake.wait_for_callback(record)
        async with control.get(f"/_fake/interactions/{iid}") as resp:
            assert (await resp.json())["callbacks"][0]["data"]["content"] == "pong"
        async with control.post("/_fake/faults", json={
                "kind": "rate_limit", "prefix": MESSAGES, "count": 1, "retry_after": 0.01}):
            pass
        await alerts(bot).send("through the control API")
        async with control.get("/_fake/messages",
                               params={"channel_id": str(ALERTS_CHANNEL_ID)}) as resp:
            assert [m["content"] for m in await resp.json()] == ["through the control API"]
    assert [r.status for r in fake.requests_to("POST", MESSAGES)] == [429, 200]


async def test_standalone_process(tmp_path: Path) -> None:
    port_file, state_file = tmp_path / "port", tmp_path / "state.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.discord_server", "--port", "0",
         "--port-file", str(port_file), "--state-file", str(state_file)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ready = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 15)
        assert ready.startswith(b"FAKE_DISCORD_READY"), ready
        base = f"http://127.0.0.1:{port_file.read_text()}"
        async with aiohttp.ClientSession(base) as s:
            hook = f"/api/v10/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
            async with s.post(hook, params={"wait": "true"}, json={"content": "hi"}) as resp:
                assert resp.status == 200
            async with s.get("/_fake/messages") as resp:
                assert [m["content"] for m in await resp.json()] == ["hi"]
        assert json.loads(state_file.read_text())["messages"][0]["content"] == "hi"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
