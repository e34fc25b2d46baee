"""The real bot (``build_app`` + ``start_client``) against the fake Discord and a feed server.

Polls and deliveries are driven by the test (``app.poller.poll_all_once()``,
``app.outbox.drain_once()``), so nothing waits for a scheduler tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bot.config.file import BotConfig, Config
from bot.core.settings import load_settings
from bot.exts.client import DiscordHandle, WirewatchClient, start_client, stop_client
from bot.service.app import build_app
from bot.service.runtime import App
from tests.fakes.discord_client import GUILD_READY_TIMEOUT, discord_pointed_at, no_identify_delay
from tests.fakes.discord_interactions import OptionValues
from tests.fakes.discord_payloads import (
    GENERAL_CHANNEL_ID,
    GUILD_ID,
    JSON,
    MODERATOR_PERMISSIONS,
    FakeChannel,
    FakeGuild,
    FakeRole,
    channel_json,
    role_json,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_state import InteractionRecord
from tests.fakes.feed_server import FeedServer

EPHEMERAL = 64
DEFERRED = 5
AUTOCOMPLETE_RESULT = 8


def item(guid: str, headline: str, *, published: str | None = None,
         thumbnail: str | None = None) -> str:
    """One RSS item; ``published`` is an RFC 822 date, ``thumbnail`` a media:thumbnail URL."""
    parts = [f"<title>{escape(headline)}</title><link>https://news.example/{guid}</link>",
             f"<guid>{guid}</guid><description>Markets moved. {escape(headline)}. Analysts "
             "were surprised.</description>"]
    if published:
        parts.append(f"<pubDate>{published}</pubDate>")
    if thumbnail:
        parts.append(f'<media:thumbnail url="{thumbnail}"/>')
    return f"<item>{''.join(parts)}</item>"


def rss(*items: str, title: str = "Local Wire") -> bytes:
    """An RSS 2.0 feed of ``items`` (from :func:`item`), newest first."""
    return (f'<?xml version="1.0"?><rss version="2.0" '
            f'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>{title}</title>'
            f"<link>https://news.example/</link>{''.join(items)}</channel></rss>").encode()


def make_config(guilds: Sequence[int] = (GUILD_ID,), **fields: Any) -> Config:
    """A config with guild sync and a 1 s minimum ``/feed add`` interval (local feeds).

    The synced guilds may add feeds on the allowed private networks (the feed server is on
    127.0.0.1); tests of that allowance build their own config.
    """
    return Config(bot=BotConfig(guilds=tuple(guilds), min_feed_interval=1.0,
                                private_network_guilds=tuple(guilds)), **fields)


def channel_option(name: str, channel_id: int, guild_id: int = GUILD_ID) -> tuple[JSON, JSON]:
    """A CHANNEL option and the ``resolved`` data Discord sends with it."""
    data = {**channel_json(FakeChannel(channel_id, f"channel-{channel_id}"), guild_id),
            "permissions": str(MODERATOR_PERMISSIONS)}
    return ({"name": name, "type": 7, "value": str(channel_id)},
            {"channels": {str(channel_id): data}})


def role_option(name: str, role: FakeRole, guild: FakeGuild) -> tuple[JSON, JSON]:
    """A ROLE option and its ``resolved`` data."""
    return ({"name": name, "type": 8, "value": str(role.id)},
            {"roles": {str(role.id): role_json(guild, role)}})


@dataclass
class Bot:
    """A running bot: the app, its Discord client, the fake Discord and the feed server."""

    app: App
    handle: DiscordHandle
    fake: FakeDiscord
    feeds: FeedServer

    @property
    def client(self) -> WirewatchClient:
        """The discord.py client."""
        return self.handle.client

    async def command(self, name: str, options: OptionValues | None = None, *,
                      subcommand: str | None = None, permissions: int = MODERATOR_PERMISSIONS,
                      **kwargs: Any) -> InteractionRecord:
        """Send a slash command as a member with ``permissions`` (a moderator by default)."""
        return await self.fake.send_command(name, options, subcommand=subcommand,
                                            permissions=permissions, **kwargs)

    async def answer(self, name: str, options: OptionValues | None = None, *,
                     subcommand: str | None = None, **kwargs: Any) -> str:
        """Run a command and return its reply text, asserting the reply is ephemeral."""
        interaction = await self.command(name, options, subcommand=subcommand, **kwargs)
        callback = await self.fake.wait_for_callback(interaction)
        if callback["type"] == DEFERRED:
            assert callback["data"]["flags"] & EPHEMERAL
            [message] = await self.fake.wait_for_followups(interaction, timeout=10)
        else:
            assert callback["type"] == 4, callback
            message = callback["data"]
        assert int(message["flags"]) & EPHEMERAL, message
        assert message.get("allowed_mentions") in (None, {"parse": []}), message
        return str(message["content"])

    async def watch_add(self, name: str, query: str, *, channel_id: int | None = None,
                        role: FakeRole | None = None, guild: FakeGuild | None = None) -> str:
        """``/watch add`` with optional channel and role options, from #general."""
        options: list[JSON] = [{"name": "name", "type": 3, "value": name},
                               {"name": "query", "type": 3, "value": query}]
        resolved: dict[str, Any] = {}
        if channel_id is not None:
            option, data = channel_option("channel", channel_id)
            options.append(option)
            resolved.update(data)
        if role is not None:
            option, data = role_option("role", role, guild or FakeGuild())
            options.append(option)
            resolved.update(data)
        return await self.answer("watch", options, subcommand="add",
                                 channel_id=GENERAL_CHANNEL_ID, resolved=resolved or None)

    async def feed_add(self, url: str, **options: str) -> str:
        """``/feed add`` (deferred, answered by a follow-up)."""
        return await self.answer("feed", {"url": url, **options}, subcommand="add")

    async def poll_and_deliver(self) -> int:
        """Poll every feed now, then send what was queued; returns how many were sent."""
        await self.app.poller.poll_all_once()
        return await self.app.outbox.drain_once()


def settings_env(fake: FakeDiscord, tmp_path: Path) -> dict[str, str]:
    """The environment a user would set, pointed at the fakes and a fresh SQLite file."""
    return {
        "DISCORD_TOKEN": fake.config.token,
        "WIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/state/wirewatch.db",
        "WIREWATCH_DISCORD_API_BASE": fake.api_base,
        "WIREWATCH_DISCORD_GATEWAY_URL": fake.gateway_url,
        "WIREWATCH_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
        "WIREWATCH_CONFIG": str(tmp_path / "unused.toml"),
    }


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord, feeds: FeedServer, tmp_path: Path,
                      config: Config | None = None,
                      env: Mapping[str, str] | None = None) -> AsyncIterator[Bot]:
    """Build the app, log the client in, wait until it is ready; close everything after."""
    settings = load_settings({**settings_env(fake, tmp_path), **(env or {})})
    stop = asyncio.Event()
    with discord_pointed_at(fake):  # restores discord.py's real hosts afterwards
        async with build_app(settings, config or make_config()) as app:
            if app.membership is not None:  # as `wirewatch run` does: only members send
                await app.membership.register()
            handle = await start_client(app, stop, guild_ready_timeout=GUILD_READY_TIMEOUT)
            # Set before the task first runs: a re-IDENTIFY would otherwise sleep 5 s.
            handle.client.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
            try:
                ready = asyncio.ensure_future(handle.client.wait_until_ready())
                stopped = asyncio.ensure_future(stop.wait())
                await asyncio.wait({ready, stopped}, timeout=10,
                                   return_when=asyncio.FIRST_COMPLETED)
                ready.cancel()
                stopped.cancel()
                assert handle.client.is_ready(), f"not ready (exit status {app.exit_status})"
                yield Bot(app, handle, fake, feeds)
            finally:
                await stop_client(handle)
            assert not stop.is_set(), f"the client stopped the bot (status {app.exit_status})"
