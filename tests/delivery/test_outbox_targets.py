"""The outbox per target: exact recovery look-ups, independent channels, racing reads."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.store import SqlStore, open_store
from bot.store.rows import Delivery, NewWatch
from tests.delivery.rig import NOW, Rig, channel_watch, queue
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    GENERAL_CHANNEL_ID,
    GUILD_ID,
    WEBHOOK_ID,
    FakeWebhook,
)


async def test_another_watchs_post_of_the_same_article_is_not_taken_for_ours(rig: Rig) -> None:
    # "trade" is a substring of "trade-war · tariffs": the old look-up called that ours.
    # Every item posts: with stories grouped, the second would edit the first instead.
    wide = await channel_watch(rig.store, "trade-war", stories="every-item")
    narrow = await channel_watch(rig.store, "trade", stories="every-item")
    await queue(rig.store, wide, 1)
    assert await rig.outbox.drain_once() == 1
    await queue(rig.store, narrow, 1, url="https://other.example/rss")  # same article link
    [(delivery, _)] = await rig.store.pending_deliveries(10)
    await rig.store.mark_attempt(delivery.id, time.time() - 600)  # interrupted long ago
    assert await rig.outbox.drain_once() == 1
    footers = [m["embeds"][0]["footer"]["text"] for m in rig.fake.messages(ALERTS_CHANNEL_ID)]
    assert [f.split(" · ")[0] for f in footers] == ["trade-war", "trade"]
    assert len(rig.fake.requests_to("POST", f"/channels/{ALERTS_CHANNEL_ID}/messages")) == 2


async def wait_for(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_backlog_on_one_channel_does_not_hold_up_another(rig: Rig) -> None:
    busy = await channel_watch(rig.store, "busy")
    idle = await rig.store.add_watch(NewWatch(guild_id=GUILD_ID, name="idle", query="tariffs",
                                              channel_id=GENERAL_CHANNEL_ID), NOW)
    # Every answer on the busy channel says its bucket is spent for 0.3 s: 12 alerts take ~4 s.
    rig.fake.faults.pace(f"/channels/{ALERTS_CHANNEL_ID}", 0.3)
    await queue(rig.store, busy, 12)
    runner = asyncio.create_task(rig.outbox.run())
    try:
        await wait_for(lambda: len(rig.fake.messages(ALERTS_CHANNEL_ID)) >= 2)
        await queue(rig.store, idle, 1, url="https://idle.example/rss")
        rig.outbox.wake()
        await wait_for(lambda: len(rig.fake.messages(GENERAL_CHANNEL_ID)) == 1)
        # The idle channel's alert went out while the busy one was still working through its
        # backlog, not after it.
        assert len(rig.fake.messages(ALERTS_CHANNEL_ID)) < 12
        await wait_for(lambda: len(rig.fake.messages(ALERTS_CHANNEL_ID)) == 12)
    finally:
        rig.outbox.stopping.set()
        rig.outbox.wake()
        await asyncio.wait_for(runner, 10)
    titles = [m["embeds"][0]["title"] for m in rig.fake.messages(ALERTS_CHANNEL_ID)]
    assert titles == [f"Story {i} on tariffs" for i in range(12)]
    assert (await rig.store.outbox_counts()).sent == 13


async def test_stopping_lets_each_lane_finish_its_send_and_leaves_the_rest_pending(
        rig: Rig) -> None:
    busy = await channel_watch(rig.store, "busy")
    rig.fake.faults.pace(f"/channels/{ALERTS_CHANNEL_ID}", 0.3)
    await queue(rig.store, busy, 12)
    runner = asyncio.create_task(rig.outbox.run())
    await wait_for(lambda: len(rig.fake.messages(ALERTS_CHANNEL_ID)) >= 2)
    rig.outbox.stopping.set()
    rig.outbox.wake()
    await asyncio.wait_for(runner, 10)
    sent = len(rig.fake.messages(ALERTS_CHANNEL_ID))
    counts = await rig.store.outbox_counts()
    assert sent < 12 and (counts.sent, counts.pending) == (sent, 12 - sent)


class SlowReadStore(SqlStore):
    """Real SQLite whose outbox read returns late, so sends land while it is in flight."""

    async def pending_deliveries(self, limit: int) -> list[tuple[Delivery, float]]:
        rows = await super().pending_deliveries(limit)
        await asyncio.sleep(0.03)
        return rows


async def test_reads_racing_the_lanes_never_send_twice_or_out_of_order(
        rig: Rig, tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'slow.db'}", SlowReadStore)
    rig.outbox._store = store  # the same outbox over a store whose reads go stale
    rig.store = store
    hook = await rig.store.add_watch(NewWatch(guild_id=GUILD_ID, name="hook", query="tariffs",
                                              webhook_url=FakeWebhook().url), NOW)
    chan = await rig.store.add_watch(NewWatch(guild_id=GUILD_ID, name="chan", query="tariffs",
                                              channel_id=GENERAL_CHANNEL_ID), NOW)
    await queue(rig.store, hook, 15)
    await queue(rig.store, chan, 15, url="https://chan.example/rss")
    rig.fake.faults.post_delay = 0.01
    rig.fake.faults.server_error(0.3, status=502, prefix=f"/webhooks/{WEBHOOK_ID}")
    runner = asyncio.create_task(rig.outbox.run())

    async def wake_often() -> None:
        while True:
            rig.outbox.wake()
            await asyncio.sleep(0.002)

    waker = asyncio.create_task(wake_often())
    try:
        await wait_for(lambda: len(rig.fake.messages()) == 30)
        await asyncio.sleep(0.2)  # room for a duplicate to show up
    finally:
        waker.cancel()
        rig.outbox.stopping.set()
        await asyncio.wait_for(runner, 10)
        await store.close()
    expected = [f"Story {i} on tariffs" for i in range(15)]
    assert [m["embeds"][0]["title"] for m in rig.fake.webhook_messages(WEBHOOK_ID)] == expected
    assert [m["embeds"][0]["title"] for m in rig.fake.messages(GENERAL_CHANNEL_ID)] == expected
