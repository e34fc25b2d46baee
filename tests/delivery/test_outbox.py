"""The outbox against real SQLite and the fake Discord: once, in order, failures by class."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest

from bot.delivery.discord_rest import DiscordSender
from bot.store import open_store
from bot.store.rows import NewWatch
from tests.delivery.rig import NOW, Rig, channel_watch, drain_until, queue, titles
from tests.fakes.discord_faults import Fault
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    BOT_TOKEN,
    GUILD_ID,
    WEBHOOK_ID,
    FakeWebhook,
)
from tests.fakes.discord_server import FakeDiscord


async def test_channel_alerts_arrive_once_in_order_with_nonce(rig: Rig) -> None:
    watch = await channel_watch(rig.store)
    await queue(rig.store, watch, 4)
    assert await rig.outbox.drain_once() == 4
    assert titles(rig.fake) == [f"Story {i} on tariffs" for i in range(4)]
    posts = rig.fake.requests_to("POST", f"/channels/{ALERTS_CHANNEL_ID}/messages")
    assert all(p.json["enforce_nonce"] and len(p.json["nonce"]) <= 25 for p in posts)
    assert all(p.json["allowed_mentions"] == {"parse": []} for p in posts)
    assert await rig.outbox.drain_once() == 0
    assert (await rig.store.outbox_counts()).sent == 4


async def test_a_resend_with_the_same_nonce_creates_no_second_message(rig: Rig) -> None:
    watch = await channel_watch(rig.store)
    await queue(rig.store, watch, 1)
    [(delivery, _)] = await rig.store.pending_deliveries(10)
    async with aiohttp.ClientSession() as session:
        sender = DiscordSender(session, rig.fake.api_base, BOT_TOKEN, time.time)
        first = await sender.send(delivery)  # "crash" here: never marked sent
        again = await sender.send(delivery)
    assert first == again
    assert len(rig.fake.messages(ALERTS_CHANNEL_ID)) == 1


async def test_outage_then_recovery_delivers_each_once_in_order(rig: Rig) -> None:
    watch = await channel_watch(rig.store)
    await queue(rig.store, watch, 5)
    rig.fake.faults.server_error(1.5, status=502)
    await drain_until(rig.outbox, lambda: len(rig.fake.messages(ALERTS_CHANNEL_ID)) >= 5)
    assert titles(rig.fake) == [f"Story {i} on tariffs" for i in range(5)]
    assert rig.outbox.outcomes["retry"] >= 1


async def test_429_storm_is_survived(rig: Rig) -> None:
    watch = await channel_watch(rig.store)
    await queue(rig.store, watch, 3)
    rig.fake.faults.rate_limit("/channels/", count=4, retry_after=0.2)
    await drain_until(rig.outbox, lambda: len(rig.fake.messages(ALERTS_CHANNEL_ID)) >= 3)
    await rig.outbox.drain_once()
    assert titles(rig.fake) == [f"Story {i} on tariffs" for i in range(3)]


async def test_forbidden_channel_fails_pauses_and_tells_once(rig: Rig) -> None:
    watch = await channel_watch(rig.store)
    await queue(rig.store, watch, 3)
    rig.fake.faults.forbid_channel(ALERTS_CHANNEL_ID)
    await rig.outbox.drain_once()
    await rig.outbox.drain_once()
    assert rig.fake.messages(ALERTS_CHANNEL_ID) == []
    [paused] = await rig.store.watches(GUILD_ID)
    assert paused.paused and "403" in (paused.paused_reason or "")
    assert len(rig.gone) == 1 and rig.gone[0][0] == "trade"
    counts = await rig.store.outbox_counts()
    assert (counts.failed, counts.pending) == (1, 2)  # the rest wait for /watch resume


@pytest.mark.parametrize("fault, status", [("unknown_webhook", "404"),
                                           ("invalid_webhook_token", "401")])
async def test_a_dead_webhook_fails_pauses_and_tells_once(rig: Rig, fault: str,
                                                          status: str) -> None:
    # 401 is an invalid (reset) webhook token: retrying it forever would never succeed.
    watch = await rig.store.add_watch(NewWatch(guild_id=GUILD_ID, name="hook", query="tariffs",
                                               webhook_url=FakeWebhook().url), NOW)
    await queue(rig.store, watch, 2)
    getattr(rig.fake.faults, fault)(WEBHOOK_ID)
    await rig.outbox.drain_once()
    await rig.outbox.drain_once()
    [paused] = await rig.store.watches(GUILD_ID)
    assert paused.paused and status in (paused.paused_reason or "")
    assert "fake-webhook-token" not in (paused.paused_reason or "")
    assert rig.gone == [("hook", paused.paused_reason)]
    counts = await rig.store.outbox_counts()
    assert (counts.failed, counts.pending) == (1, 1)


async def test_bad_payload_fails_with_reason_and_the_queue_moves_on(rig: Rig) -> None:
    watch = await channel_watch(rig.store)
    await queue(rig.store, watch, 2)
    rig.fake.faults.add(Fault(status=400, body={"message": "Invalid Form Body", "code": 50035},
                              prefix="/channels/", method="POST", count=1))
    await rig.outbox.drain_once()
    assert titles(rig.fake) == ["Story 1 on tariffs"]
    counts = await rig.store.outbox_counts()
    assert (counts.failed, counts.sent, counts.pending) == (1, 1, 0)


async def test_webhook_delivery_waits_for_the_message_id(rig: Rig) -> None:
    watch = await rig.store.add_watch(NewWatch(guild_id=GUILD_ID, name="hook", query="tariffs",
                                               webhook_url=FakeWebhook().url), NOW)
    await queue(rig.store, watch, 1)
    assert await rig.outbox.drain_once() == 1
    [post] = rig.fake.requests_to("POST", f"/webhooks/{WEBHOOK_ID}/")
    assert post.query.get("wait") == "true"
    row = await rig.store.read(
        lambda conn: conn.exec_driver_sql("SELECT message_id FROM deliveries").fetchone())
    assert row[0] == rig.fake.webhook_messages(WEBHOOK_ID)[0]["id"]


async def test_sender_holds_a_route_when_discord_says_none_remain(rig: Rig) -> None:
    from aiohttp import web

    seen: list[float] = []

    async def create(request: web.Request) -> web.Response:
        seen.append(time.monotonic())
        return web.Response(text='{"id": "1"}', content_type="application/json", headers={
            "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "0.4"})

    app = web.Application()
    app.router.add_post("/api/v10/channels/{id}/messages", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    watch = await channel_watch(rig.store)
    await queue(rig.store, watch, 2)
    async with aiohttp.ClientSession() as session:
        sender = DiscordSender(session, f"http://127.0.0.1:{port}/api/v10", BOT_TOKEN, time.time)
        for delivery, _ in await rig.store.pending_deliveries(10):
            assert await sender.send(delivery) == "1"
    await runner.cleanup()
    assert seen[1] - seen[0] >= 0.35


async def test_past_the_nonce_window_the_channel_is_checked_before_resending(
        tmp_path: Path) -> None:
    from tests.fakes.discord_payloads import FakeConfig

    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    async with FakeDiscord(FakeConfig(nonce_window=0.0)) as fake, \
            aiohttp.ClientSession() as session:
        watch = await channel_watch(store)
        await queue(store, watch, 1)
        sender = DiscordSender(session, fake.api_base, BOT_TOKEN, time.time)
        [(delivery, _)] = await store.pending_deliveries(10)
        first = await sender.send(delivery)  # posted, then the bot "crashed" for 10 minutes
        await store.mark_attempt(delivery.id, time.time() - 600)
        [(stale, _)] = await store.pending_deliveries(10)
        assert await sender.send(stale) == first
        assert len(fake.messages(ALERTS_CHANNEL_ID)) == 1
        assert fake.requests_to("GET", f"/channels/{ALERTS_CHANNEL_ID}/messages")
    await store.close()


async def test_an_interrupted_webhook_delivery_is_looked_for_before_resending(rig: Rig) -> None:
    watch = await rig.store.add_watch(NewWatch(guild_id=GUILD_ID, name="hook", query="tariffs",
                                               webhook_url=FakeWebhook().url), NOW)
    await queue(rig.store, watch, 1)
    [(delivery, _)] = await rig.store.pending_deliveries(10)
    async with aiohttp.ClientSession() as session:
        sender = DiscordSender(session, rig.fake.api_base, BOT_TOKEN, time.time)
        first = await sender.send(delivery)  # posted; the bot is killed before marking it
        await rig.store.mark_attempt(delivery.id, time.time())
        [(again, _)] = await rig.store.pending_deliveries(10)
        assert await sender.send(again) == first
        # Without a bot token the channel cannot be read: the documented duplicate window.
        tokenless = DiscordSender(session, rig.fake.api_base, None, time.time)
        assert await tokenless.send(again) != first
    assert len(rig.fake.webhook_messages(WEBHOOK_ID)) == 2
