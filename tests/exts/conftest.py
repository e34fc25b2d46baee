"""Fixtures: a fake Discord, a feed server, and the real bot running against both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.exts.harness import Bot, running_bot
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(fake, feeds, tmp_path) as running:
        yield running
