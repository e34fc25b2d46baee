"""The outbox per target: exact recovery look-ups, independent channels, racing reads."""

from __future__ import annotations

import time

from tests.delivery.rig import Rig, channel_watch, queue
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
)


async def test_another_watchs_post_of_the_same_article_is_not_taken_for_ours(rig: Rig) -> None:
    # "trade" is a substring of "trade-war · tariffs": the old look-up called that ours.
    wide = await channel_watch(rig.store, "trade-war")
    narrow = await channel_watch(rig.store, "trade")
    await queue(rig.store, wide, 1)
    assert await rig.outbox.drain_once() == 1
    await queue(rig.store, narrow, 1, url="https://other.example/rss")  # same article link
    [(delivery, _)] = await rig.store.pending_deliveries(10)
    await rig.store.mark_attempt(delivery.id, time.time() - 600)  # interrupted long ago
    assert await rig.outbox.drain_once() == 1
    footers = [m["embeds"][0]["footer"]["text"] for m in rig.fake.messages(ALERTS_CHANNEL_ID)]
    assert [f.split(" · ")[0] for f in footers] == ["trade-war", "trade"]
    assert len(rig.fake.requests_to("POST", f"/channels/{ALERTS_CHANNEL_ID}/messages")) == 2
