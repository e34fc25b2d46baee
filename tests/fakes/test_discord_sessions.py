"""The fake gateway with several sessions, as Discord behaves for a bot run by many processes.

Raw websocket clients (plain aiohttp), so the rules are checked without discord.py in between:
every identified session of a shard gets each event; the second callback is 400/40060; the
most sessions identified at once is recorded; IDENTIFY may name a shard.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord_gateway import shard_of
from tests.fakes.discord_payloads import BOT_TOKEN, GUILD_ID
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(20)


class RawSession:
    """One websocket that identifies and collects DISPATCH events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[tuple[str, Any]] = []
        self.closed_with: int | None = None

    async def identify(self, shard: list[int] | None = None) -> None:
        data: dict[str, Any] = {"token": BOT_TOKEN, "intents": 1, "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await self.ws.send_str(json.dumps({"op": 2, "d": data}))

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                payload = json.loads(msg.data)
                if payload["op"] == 0:
                    self.events.append((payload["t"], payload["d"]))
        self.closed_with = self.ws.close_code

    def names(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]


@asynccontextmanager
async def sessions(fake: FakeDiscord, count: int) -> AsyncIterator[list[RawSession]]:
    async with aiohttp.ClientSession() as http:
        opened = [RawSession(await http.ws_connect(fake.gateway_url)) for _ in range(count)]
        readers = [asyncio.create_task(s.read()) for s in opened]
        try:
            yield opened
        finally:
            for raw in opened:
                await raw.ws.close()
            await asyncio.gather(*readers, return_exceptions=True)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_each_interaction_goes_to_every_session_and_only_one_answer_counts(
        fake: FakeDiscord) -> None:
    async with sessions(fake, 2) as (one, two):
        await one.identify()
        await two.identify()
        await fake.wait_until(lambda: fake.state.sessions_now == 2, what="two sessions")
        record = await fake.send_command("ping")
        await fake.wait_until(lambda: one.names("INTERACTION_CREATE")
                              and two.names("INTERACTION_CREATE"), what="both deliveries")
        answers = []
        async with aiohttp.ClientSession(fake.api_base + "/") as http:
            for _ in range(2):  # each session answers, as two processes would
                url = f"interactions/{record.id}/{record.token}/callback"
                async with http.post(url, json={"type": 4, "data": {"content": "hi"}}) as resp:
                    answers.append((resp.status, await resp.json(content_type=None)))
    assert answers[0][0] == 204
    assert answers[1] == (400, {"message": "Interaction has already been acknowledged.",
                                "code": 40060})
    assert len(record.callbacks) == 1 and len(record.rejected) == 1
    snapshot = fake.state.snapshot()
    assert snapshot["gateway"] == {"sessions_now": 0, "sessions_max": 2}
    assert snapshot["interactions"][0]["rejected_callbacks"] == [
        {"type": 4, "data": {"content": "hi"}}]


async def test_sessions_are_counted_at_once_not_in_total(fake: FakeDiscord) -> None:
    for _ in range(3):  # one after the other: never more than one at a time
        async with sessions(fake, 1) as (only,):
            await only.identify()
            await fake.wait_until(lambda: fake.state.sessions_now == 1, what="a session")
        await fake.wait_until(lambda: fake.state.sessions_now == 0, what="it closed")
    assert fake.state.sessions_max == 1


async def test_identify_with_a_shard_gets_only_that_shards_guilds(fake: FakeDiscord) -> None:
    mine = shard_of(GUILD_ID, 2)
    async with sessions(fake, 3) as (owner, other, bad):
        await owner.identify([mine, 2])
        await other.identify([1 - mine, 2])
        await bad.identify([2, 2])
        await fake.wait_until(lambda: owner.names("READY") and other.names("READY"),
                              what="both READY")
        await fake.wait_until(lambda: bad.closed_with is not None, what="bad shard closed")
        record = await fake.send_command("ping")
        await fake.wait_until(lambda: owner.names("INTERACTION_CREATE"), what="the event")
        await asyncio.sleep(0.1)
    assert owner.names("READY")[0]["shard"] == [mine, 2]
    assert [g["id"] for g in owner.names("GUILD_CREATE")] == [str(GUILD_ID)]
    assert other.names("GUILD_CREATE") == []
    assert other.names("INTERACTION_CREATE") == []
    assert owner.names("INTERACTION_CREATE")[0]["id"] == str(record.id)
    assert bad.closed_with == 4010
