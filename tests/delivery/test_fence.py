"""The send deadline (issue 20): a POST or PATCH that would start past it is not made, while
look-ups still are; outside a send nothing is fenced."""

from __future__ import annotations

import time

import aiohttp
import pytest

from bot.core.errors import RetryableDelivery
from bot.delivery import fence
from bot.delivery.discord_rest import DiscordSender
from tests.delivery.rig import Rig, channel_watch, queue
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, BOT_TOKEN


@pytest.mark.parametrize(("deadline_in_s", "posted"), [(-0.1, 0), (30.0, 1)])
async def test_a_post_past_the_send_deadline_is_not_made(rig: Rig, deadline_in_s: float,
                                                         posted: int) -> None:
    watch = await channel_watch(rig.store, stories="every-item")
    await queue(rig.store, watch, 1)
    [(delivery, _)] = await rig.store.pending_deliveries(10)
    async with aiohttp.ClientSession() as session:
        sender = DiscordSender(session, rig.fake.api_base, BOT_TOKEN, time.time)
        with fence.send_deadline(time.monotonic() + deadline_in_s):
            if posted:
                assert await sender.send(delivery)
            else:
                with pytest.raises(RetryableDelivery, match="claim ran out"):
                    await sender.send(delivery)
        assert not fence.expired()  # the deadline ends with its send
    path = f"/channels/{ALERTS_CHANNEL_ID}/messages"
    assert len(rig.fake.requests_to("POST", path)) == posted
