"""The fake's message edits, through the real discord.py client and plain HTTP."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    BOT_TOKEN,
    WEBHOOK_ID,
    WEBHOOK_TOKEN,
    FakeWebhook,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.test_discord_server import TestBot, alerts

pytestmark = pytest.mark.timeout(20)
AUTH = {"Authorization": f"Bot {BOT_TOKEN}"}
NONE = discord.AllowedMentions.none()


async def test_bot_edits_its_own_message(fake: FakeDiscord, bot: TestBot) -> None:
    sent = await alerts(bot).send("first", allowed_mentions=NONE)
    edited = await sent.edit(content="second", embed=discord.Embed(title="T"))
    assert edited.content == "second" and edited.edited_at is not None
    stored = fake.messages(ALERTS_CHANNEL_ID)[0]
    assert (stored["content"], stored["embeds"][0]["title"]) == ("second", "T")
    assert [e["id"] for e in fake.state.edits] == [str(sent.id)]


async def test_webhook_edits_its_own_message(fake: FakeDiscord, bot: TestBot) -> None:
    hook = discord.Webhook.from_url(FakeWebhook().url, client=bot)
    sent = await hook.send("via webhook", wait=True, allowed_mentions=NONE)
    await hook.edit_message(sent.id, content="edited via webhook")
    assert [m["content"] for m in fake.webhook_messages(WEBHOOK_ID)] == ["edited via webhook"]


async def test_bot_cannot_edit_a_webhook_message(fake: FakeDiscord, bot: TestBot,
                                                 http: aiohttp.ClientSession) -> None:
    hook = discord.Webhook.from_url(FakeWebhook().url, client=bot)
    sent = await hook.send("via webhook", wait=True, allowed_mentions=NONE)
    url = f"channels/{ALERTS_CHANNEL_ID}/messages/{sent.id}"
    async with http.patch(url, json={"content": "x"}, headers=AUTH) as resp:
        assert (resp.status, (await resp.json())["code"]) == (403, 50005)


async def test_webhook_cannot_edit_the_bots_message(fake: FakeDiscord, bot: TestBot,
                                                    http: aiohttp.ClientSession) -> None:
    sent = await alerts(bot).send("bot's", allowed_mentions=NONE)
    url = f"webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}/messages/{sent.id}"
    async with http.patch(url, json={"content": "x"}) as resp:
        assert (resp.status, (await resp.json())["code"]) == (404, 10008)


async def test_deleted_message_is_unknown(fake: FakeDiscord, bot: TestBot) -> None:
    sent = await alerts(bot).send("short-lived", allowed_mentions=NONE)
    await sent.delete()
    with pytest.raises(discord.NotFound) as caught:
        await sent.edit(content="too late")
    assert caught.value.code == 10008
    assert fake.messages(ALERTS_CHANNEL_ID) == []


async def test_edit_is_checked_like_a_create(fake: FakeDiscord, bot: TestBot,
                                             http: aiohttp.ClientSession) -> None:
    sent = await alerts(bot).send("x", allowed_mentions=NONE)
    url = f"channels/{ALERTS_CHANNEL_ID}/messages/{sent.id}"
    async with http.patch(url, json={"content": "y" * 2001}, headers=AUTH) as resp:
        assert resp.status == 400
    async with http.patch(url, json={"content": "y"}) as resp:
        assert resp.status == 401
    async with http.patch(url, json={"content": "y"}, headers=AUTH) as resp:
        assert resp.status == 200
        assert int(resp.headers["X-RateLimit-Remaining"]) > 0


async def test_rate_limited_edit_is_retried_by_discord_py(fake: FakeDiscord,
                                                         bot: TestBot) -> None:
    sent = await alerts(bot).send("x", allowed_mentions=NONE)
    path = f"/channels/{ALERTS_CHANNEL_ID}/messages/{sent.id}"
    fake.faults.rate_limit(prefix=path, count=1, retry_after=0.05, method="PATCH")
    await sent.edit(content="after a 429")
    assert fake.messages(ALERTS_CHANNEL_ID)[0]["content"] == "after a 429"
    patches = [r.status for r in fake.state.requests if r.method == "PATCH"]
    assert patches == [429, 200]


async def test_a_webhook_deletes_only_its_own_messages(fake: FakeDiscord, bot: TestBot) -> None:
    hook = discord.Webhook.from_url(FakeWebhook().url, client=bot)
    sent = await hook.send("via webhook", wait=True, allowed_mentions=NONE)
    own = await alerts(bot).send("the bot's own", allowed_mentions=NONE)
    base = f"{fake.api_base}/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}/messages"
    async with aiohttp.ClientSession() as http:
        async with http.delete(f"{base}/{own.id}") as resp:
            assert resp.status == 404  # not this webhook's message
        async with http.delete(f"{base}/{sent.id}") as resp:
            assert resp.status == 204
        async with http.delete(f"{base}/{sent.id}") as resp:
            assert resp.status == 404 and (await resp.json())["code"] == 10008
    assert fake.webhook_messages(WEBHOOK_ID) == []
    assert [m["content"] for m in fake.messages(ALERTS_CHANNEL_ID)] == ["the bot's own"]
