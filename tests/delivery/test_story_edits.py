"""DiscordSender.edit against the fake Discord: bot and webhook messages, 404 and 429."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.core.errors import MessageGone, RetryableDelivery
from bot.core.model import Source
from bot.delivery.discord_rest import DiscordSender
from bot.store.rows import Delivery
from tests.delivery.test_embed import make_alert
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, BOT_TOKEN, WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(20)
ALERT = make_alert()
STORY = make_alert(also_reported=(Source("AP", "https://ap.example/1"),
                                  Source("BBC", "https://bbc.example/2")))


def _delivery(channel_id: int | None = None, webhook_url: str | None = None) -> Delivery:
    return Delivery(id=1, watch_id=1, watch_name="china-trade", guild_id=1, feed_id=1,
                    item_key="k", nonce="n1", alert=ALERT, attempts=0, first_attempt=None,
                    created_at=0.0, channel_id=channel_id, webhook_url=webhook_url)


@pytest.fixture
async def rig() -> AsyncIterator[tuple[FakeDiscord, DiscordSender]]:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        yield fake, DiscordSender(session, fake.api_base, BOT_TOKEN, time.time)


async def test_edits_a_channel_message_in_place(
        rig: tuple[FakeDiscord, DiscordSender]) -> None:
    fake, sender = rig
    message_id = await sender.send(_delivery(channel_id=ALERTS_CHANNEL_ID))
    assert message_id is not None
    for _ in range(2):  # idempotent: the same rendering twice leaves the same message
        await sender.edit_message(channel_id=ALERTS_CHANNEL_ID, webhook_url=None,
                          message_id=message_id, alert=STORY)
    [message] = fake.messages(ALERTS_CHANNEL_ID)
    field = message["embeds"][0]["fields"][0]
    assert field["name"] == "Also reported by (2)"
    assert "[AP](https://ap.example/1)" in field["value"]
    assert len(fake.state.edits) == 2


async def test_edits_a_webhook_message(rig: tuple[FakeDiscord, DiscordSender]) -> None:
    fake, sender = rig
    url = FakeWebhook().url
    message_id = await sender.send(_delivery(webhook_url=url))
    assert message_id is not None
    await sender.edit_message(channel_id=None, webhook_url=url, message_id=message_id, alert=STORY)
    [message] = fake.webhook_messages(WEBHOOK_ID)
    assert message["embeds"][0]["fields"][0]["name"] == "Also reported by (2)"
    patches = [r for r in fake.state.requests if r.method == "PATCH"]
    assert [r.path.split("/")[1] for r in patches] == ["webhooks"]


async def test_a_deleted_message_raises_message_gone(
        rig: tuple[FakeDiscord, DiscordSender]) -> None:
    fake, sender = rig
    with pytest.raises(MessageGone):
        await sender.edit_message(channel_id=ALERTS_CHANNEL_ID, webhook_url=None,
                          message_id="123456789012345678", alert=STORY)
    assert fake.messages(ALERTS_CHANNEL_ID) == []


async def test_a_rate_limited_edit_is_retryable_with_the_servers_delay(
        rig: tuple[FakeDiscord, DiscordSender]) -> None:
    fake, sender = rig
    message_id = await sender.send(_delivery(channel_id=ALERTS_CHANNEL_ID))
    assert message_id is not None
    fake.faults.rate_limit(prefix=f"/channels/{ALERTS_CHANNEL_ID}/messages/{message_id}",
                           retry_after=2.5, method="PATCH")
    with pytest.raises(RetryableDelivery) as caught:
        await sender.edit_message(channel_id=ALERTS_CHANNEL_ID, webhook_url=None,
                          message_id=message_id, alert=STORY)
    assert caught.value.retry_after == 2.5
