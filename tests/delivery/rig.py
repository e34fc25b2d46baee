"""The outbox test rig: real SQLite, the fake Discord, and alerts queued by the real ingest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.core.model import Alert, Entry, Snippet
from bot.delivery.console import ConsoleSender
from bot.delivery.discord_rest import DiscordSender
from bot.delivery.outbox import OutboxSender
from bot.store import SqlStore, open_store
from bot.store.rows import Delivery, DeliveryDraft, NewWatch, WatchRow
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, BOT_TOKEN, GUILD_ID
from tests.fakes.discord_server import FakeDiscord

NOW = time.time()


@dataclass
class Rig:
    store: SqlStore
    fake: FakeDiscord
    outbox: OutboxSender
    gone: list[tuple[str, str]]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        gone: list[tuple[str, str]] = []

        async def on_gone(delivery: Delivery, reason: str) -> None:
            gone.append((delivery.watch_name, reason))

        outbox = OutboxSender(store, console=ConsoleSender(), clock=time.time,
                              discord=DiscordSender(session, fake.api_base, BOT_TOKEN, time.time),
                              on_target_gone=on_gone)
        yield Rig(store, fake, outbox, gone)
    await store.close()


async def queue(store: SqlStore, watch: WatchRow, count: int, url: str = "https://n.example/rss",
                start: int = 0) -> None:
    """Queue ``count`` alerts for ``watch`` through the real ingest path."""
    sub = await store.subscribe(watch.guild_id, url, "News", 300, NOW)
    await store.ingest(sub.feed.id, [], now=NOW, next_check=NOW, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=lambda new: [])
    entries = [Entry(key=f"k{i}", title=f"Story {i} on tariffs", link=f"https://n.example/{i}")
               for i in range(start, start + count)]

    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(watch.id, e.key, f"n{watch.id}-{e.key}", Alert(
            watch_name=watch.name, feed_name="News", title=e.title, link=e.link,
            snippet=Snippet(e.title, ((len(e.title) - 7, len(e.title)),)),
            matched_terms=("tariffs",))) for e in new]

    await store.ingest(sub.feed.id, entries, now=NOW, next_check=NOW, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=plan)


async def drain_until(outbox: OutboxSender, done, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "outbox did not finish in time"
        await outbox.drain_once()
        await asyncio.sleep(0.05)


async def channel_watch(store: SqlStore, name: str = "trade",
                        stories: str = "group") -> WatchRow:
    return await store.add_watch(NewWatch(guild_id=GUILD_ID, name=name, query="tariffs",
                                          channel_id=ALERTS_CHANNEL_ID, stories=stories), NOW)


def titles(fake: FakeDiscord) -> list[str]:
    return [m["embeds"][0]["title"] for m in fake.messages(ALERTS_CHANNEL_ID)]


