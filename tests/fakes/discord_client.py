"""Pointing a real discord.py client at the fake, and running one for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import discord
import discord.gateway
import discord.http
import yarl

from .discord_server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)

# Pass as ``guild_ready_timeout=``: the default 2 s would slow every test start; 0 is racy.
GUILD_READY_TIMEOUT = 0.05


@contextlib.contextmanager
def discord_pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Send discord.py's REST and gateway traffic to the fake; restore the real hosts after."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
    """Replacement for ``Client.before_identify_hook``, which sleeps 5 s before re-IDENTIFY."""
    return None


@contextlib.asynccontextmanager
async def running_client(client: ClientT, fake: FakeDiscord,
                         timeout: float = 5.0) -> AsyncIterator[ClientT]:
    """Start ``client`` against ``fake``, yield once it is ready, close it afterwards.

    A failure of ``client.start`` (e.g. LoginFailure) is raised instead of a timeout.
    """
    client.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
    with discord_pointed_at(fake):
        task = asyncio.create_task(client.start(fake.config.token))
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait({task, ready}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                task.result()  # raises what start() raised
            if ready not in done:
                raise TimeoutError("discord client did not become ready")
            yield client
        finally:
            ready.cancel()
            await client.close()
            # Its outcome was raised above if it mattered; here it only must not leak.
            await asyncio.gather(task, return_exceptions=True)
