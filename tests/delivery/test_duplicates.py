"""Reconcile what could not be prevented (issue 20): a sender paused past its claim after
its request passed the last fence check posts an alert another process already sent; it
finds the second copy (same ``ref``) and deletes it.

Two outbox senders (two registered "processes", each sending under its target claim) on one
SQLite file and one fake Discord whose nonce window is zero, as after Discord's few minutes:
the repeated nonce no longer dedupes. (A pause *before* the last check sends nothing at all:
tests/service/test_partial_failures.py, case 1.)
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.core.metrics import DUPLICATES_DELETED
from bot.core.model import Alert, Entry, Snippet
from bot.delivery.console import ConsoleSender
from bot.delivery.discord_rest import DiscordSender
from bot.delivery.embed import delivery_marker, footer_marker
from bot.delivery.outbox import OutboxSender, target_lease
from bot.store import SqlStore, open_store
from bot.store.rows import DeliveryDraft, NewWatch
from tests.delivery.rig import NOW, queue
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    BOT_TOKEN,
    GUILD_ID,
    FakeConfig,
    FakeWebhook,
)
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(30)


class Pause:
    """Stops the first POST or PATCH of one process's HTTP session until the test lets it go
    on: what a SIGSTOP (or a GC pause, a VM migration) does once the request has passed every
    check of the claim and its fence (issue 20) and is on its way, which no fencing prevents.
    An aiohttp trace hook, so every check of the real sender runs before it."""

    def __init__(self) -> None:
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._on_request_start)

    async def _on_request_start(self, _session: aiohttp.ClientSession, _context: object,
                                params: aiohttp.TraceRequestStartParams) -> None:
        if params.method in ("POST", "PATCH") and not self.resume.is_set():
            self.paused.set()
            await self.resume.wait()


@dataclass
class Pair:
    store: SqlStore
    fake: FakeDiscord
    paused: OutboxSender
    other: OutboxSender
    pause: Pause


@pytest.fixture
async def pair(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    token = request.param
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    pause = Pause()
    async with FakeDiscord(FakeConfig(nonce_window=0.0)) as fake, \
            aiohttp.ClientSession(trace_configs=[pause.trace]) as paused_session, \
            aiohttp.ClientSession() as session:
        senders = [OutboxSender(store, console=ConsoleSender(io.StringIO()), clock=time.time,
                                discord=DiscordSender(http, fake.api_base, token, time.time))
                   for http in (paused_session, session)]
        for owner, outbox in zip(("paused", "other"), senders, strict=True):
            # Two members of one cluster, as `wirewatch run` makes them: only a registered
            # process takes a target's claim (issue 20), and every send runs under it.
            await store.register_process(owner, "host", 1, "all", "h1")
            outbox.owner = owner
        yield Pair(store, fake, *senders, pause)
    await store.close()


def copies(fake: FakeDiscord, nonce: str) -> list[str]:
    marker = delivery_marker(nonce)
    return [m["id"] for m in fake.messages(ALERTS_CHANNEL_ID)
            if footer_marker(m["embeds"][0]) == marker]


@pytest.mark.parametrize(("pair", "target"), [
    (BOT_TOKEN, "channel"),
    (BOT_TOKEN, "webhook"),  # the bot token reads the webhook's channel
    (None, "webhook"),  # webhook-only: the paused sender knows its own copy and the recorded one
], indirect=["pair"])
async def test_a_paused_senders_late_copy_is_deleted(pair: Pair, target: str) -> None:
    watch = await pair.store.add_watch(NewWatch(
        guild_id=GUILD_ID, name="trade", query="tariffs",
        channel_id=ALERTS_CHANNEL_ID if target == "channel" else None,
        webhook_url=FakeWebhook().url if target == "webhook" else None,
        stories="every-item"), NOW)
    await queue(pair.store, watch, 1)
    [(delivery, _)] = await pair.store.pending_deliveries(10)
    before = DUPLICATES_DELETED._value.get()
    late = asyncio.create_task(pair.paused.drain_once())
    await asyncio.wait_for(pair.pause.paused.wait(), 10)  # its POST is on its way, on hold
    # Its claim runs out meanwhile; the other process takes the target and sends the alert.
    await pair.store.release_lease(target_lease(delivery.target), "paused")
    assert await pair.other.drain_once() == 1
    [first] = copies(pair.fake, delivery.nonce)
    pair.pause.resume.set()  # it wakes and posts its stale copy: Discord no longer dedupes
    await late
    posts = [r for r in pair.fake.state.requests if r.method == "POST"
             and ("/messages" in r.path or "/webhooks/" in r.path)]
    assert copies(pair.fake, delivery.nonce) == [first]  # the later copy is gone
    deleted = len(posts) - 1
    assert pair.paused.outcomes["duplicate_deleted"] == deleted
    assert DUPLICATES_DELETED._value.get() - before == deleted
    sent = await pair.store.sent_message(delivery.id)
    assert sent == first  # the copy kept is the one recorded (later edits go to it)


async def _publish(store: SqlStore, watch_id: int, feed: str, title: str) -> None:
    """One item of ``feed`` (subscribed on first use), alerted by the watch: the real ingest,
    so stories group and edits queue as in a poll."""
    sub = next((s for s in await store.subscriptions(GUILD_ID) if s.name == feed), None)
    if sub is None:
        sub = await store.subscribe(GUILD_ID, f"https://{feed.lower()}.example/rss", feed,
                                    300, NOW)
        await store.ingest(sub.feed.id, [], now=NOW, next_check=NOW, title=None, etag=None,
                           last_modified=None, body_hash=None, plan=lambda new: [])
    entry = Entry(key=f"{feed}-1", title=title, link=f"https://{feed.lower()}.example/1")

    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(watch_id, e.key, f"n-{feed}-{e.key}", Alert(
            watch_name="trade", feed_name=feed, title=e.title, link=e.link,
            snippet=Snippet(e.title, ()), matched_terms=("rates",))) for e in new]

    now = time.time()
    await store.ingest(sub.feed.id, [entry], now=now, next_check=now + 60, title=None,
                       etag=None, last_modified=None, body_hash=None, plan=plan)


@pytest.mark.parametrize("pair", [BOT_TOKEN], indirect=True)
async def test_a_paused_senders_stale_edit_is_undone(pair: Pair) -> None:
    """A story edit's PATCH (one source) paused on its way; meanwhile the other process sends
    it and a newer edit (two sources). The late PATCH lands last: it must not leave the
    message showing the older state."""
    watch = await pair.store.add_watch(NewWatch(
        guild_id=GUILD_ID, name="trade", query="rates", channel_id=ALERTS_CHANNEL_ID), NOW)
    lease = target_lease(f"channel:{ALERTS_CHANNEL_ID}")
    await _publish(pair.store, watch.id, "AP", "Fed raises interest rates by a quarter point")
    assert await pair.other.drain_once() == 1
    await pair.store.release_lease(lease, "other")
    await _publish(pair.store, watch.id, "Reuters",
                   "Fed raises interest rates by quarter point - Reuters")
    late = asyncio.create_task(pair.paused.drain_once())
    await asyncio.wait_for(pair.pause.paused.wait(), 10)  # the edit's PATCH is on hold
    await _publish(pair.store, watch.id, "BBC",
                   "UPDATE 2-Fed raises interest rates by a quarter point")
    await pair.store.release_lease(lease, "paused")  # its claim ran out
    await pair.other.drain_once()  # sends the held edit and the newer one
    assert "BBC" in str(pair.fake.messages(ALERTS_CHANNEL_ID)[0]["embeds"])
    pair.pause.resume.set()
    await late
    [message] = pair.fake.messages(ALERTS_CHANNEL_ID)
    field = message["embeds"][0]["fields"][0]
    assert field["name"] == "Also reported by (2)"
    assert "Reuters" in field["value"] and "BBC" in field["value"]
    assert pair.paused.outcomes["edit_restored"] == 1
