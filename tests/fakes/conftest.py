"""Fixtures for the fake Discord's own tests: a running fake, a real discord.py bot, raw HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.discord_client import running_client
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.test_discord_server import TestBot


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[TestBot]:
    async with running_client(TestBot(), fake) as client:
        yield client


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(fake.api_base + "/") as session:
        yield session
