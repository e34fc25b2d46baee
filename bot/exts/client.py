"""The Discord client: gateway connection, command sync, and notices to guilds.

It is pointed at ``WIREWATCH_DISCORD_API_BASE`` / ``WIREWATCH_DISCORD_GATEWAY_URL`` (a REST
proxy in production, a fake in tests). Nothing is started in ``on_ready``: it fires again after
every reconnect, and polling lives outside the client anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from bot.core.settings import Settings
from bot.core.urls import redact_urls
from bot.delivery.markdown import escape_markdown
from bot.exts.actions import CONTROLS
from bot.exts.common import report_command_error
from bot.exts.feeds import FeedCommands
from bot.exts.gate import admit
from bot.exts.status import status_command
from bot.exts.watches import WatchCommands
from bot.exts.why import why_command
from bot.service.membership import gateway_lease
from bot.service.runtime import App
from bot.store.rows import CONFIG_GUILD, Delivery, FeedRow

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 1.5


def point_discord_at(settings: Settings) -> None:
    """Send every REST call and the gateway connection to the configured endpoints.

    discord.py has no per-client option for these; both are class attributes.
    """
    discord.http.Route.BASE = settings.discord_api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class WirewatchTree(app_commands.CommandTree["WirewatchClient"]):
    """The command tree; every command error becomes a clear ephemeral reply."""

    async def interaction_check(self, interaction: discord.Interaction[WirewatchClient],
                                /) -> bool:
        """Run a command only when fresh, with the gateway provably held, and once
        (``bot.exts.gate``); otherwise drop it without an answer."""
        return await admit(self.client.app, interaction, self.client.lease)

    async def on_error(self, interaction: discord.Interaction[WirewatchClient],
                       error: app_commands.AppCommandError) -> None:
        """Reply with what went wrong (details of unexpected errors go to the log)."""
        await report_command_error(interaction, error)


class WirewatchClient(discord.Client):
    """A gateway client with the /watch, /feed and /status commands."""

    def __init__(self, app: App, **options: Any) -> None:
        # Interactions arrive whatever the intents; guilds gives the channel and role cache
        # that the channel/role options and permission checks use. No privileged intent.
        intents = discord.Intents.none()
        intents.guilds = True
        # A text-only bot: the start-up warnings about missing voice libraries are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(intents=intents,
                         allowed_mentions=discord.AllowedMentions.none(), **options)
        self.app = app
        self.tree = WirewatchTree(self)
        self.tree.add_command(WatchCommands(app))
        self.tree.add_command(FeedCommands(app))
        self.tree.add_command(status_command(app))
        self.tree.add_command(why_command(app))
        self.synced_to: list[int | None] = []
        self.sync_commands = True  # only one shard's client syncs (see bot.service.gateway)
        # The lease behind this session (bot.service.gateway): commands need it held.
        self.lease = gateway_lease(options.get("shard_id") or 0, options.get("shard_count") or 1)

    async def setup_hook(self) -> None:
        """Listen for the controls under alerts, then sync commands once per process (not
        per reconnect): to configured guilds, else globally (which can take Discord up to
        an hour to show)."""
        # Dynamic items: a click on any alert ever posted is recognised by its custom_id.
        self.add_dynamic_items(*CONTROLS)
        if not self.sync_commands:
            return
        guilds = self.app.config.bot.guilds
        if not guilds:
            await self.tree.sync()
            self.synced_to.append(None)
            log.info("slash commands synced globally")
            return
        for guild_id in guilds:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                # One guild that removed the bot must not keep the others without commands.
                log.error("cannot sync slash commands to guild %s: %s", guild_id, exc)
                continue
            self.synced_to.append(guild_id)
        log.info("slash commands synced to %d of %d guilds", len(self.synced_to), len(guilds))

    async def on_ready(self) -> None:
        """Connected (again): only mark the gateway healthy."""
        self.app.gateway_down_since = None
        log.info("connected to Discord as %s in %d guilds", self.user, len(self.guilds))

    async def on_resumed(self) -> None:
        """Resumed after a reconnect."""
        self.app.gateway_down_since = None
        log.info("Discord gateway session resumed")

    async def on_disconnect(self) -> None:
        """Remember when the gateway went down, for /healthz."""
        if self.app.gateway_down_since is None:
            self.app.gateway_down_since = time.monotonic()

    async def notify_guild(self, guild_id: int, text: str, avoid: int | None = None) -> None:
        """Post a notice to the guild's system channel, else its first channel we may post in.

        ``avoid`` is a channel known to be unusable (the one a watch lost access to).
        """
        guild = self.get_guild(guild_id)
        channel = notice_channel(guild, avoid) if guild is not None else None
        if channel is None:
            log.warning("guild %s has no channel to notify: %s", guild_id, text)
            return
        try:
            await channel.send(escape_markdown(text)[:1900],
                               allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning("could not notify guild %s in channel %s: %s", guild_id, channel.id, exc)

    async def on_target_gone(self, delivery: Delivery, reason: str) -> None:
        """Tell the guild once that a watch was paused because its target is gone."""
        if delivery.guild_id:
            await self.notify_guild(
                delivery.guild_id,
                f"Watch '{delivery.watch_name}' is paused: {reason}. Fix the channel or "
                f"webhook, then run /watch resume {delivery.watch_name}.",
                avoid=delivery.channel_id)

    async def on_feed_paused(self, feed: FeedRow, reason: str) -> None:
        """Tell every guild following a feed, once, that it was paused after many failures."""
        subs = [s for s in await self.app.store.subscriptions()
                if s.feed.id == feed.id and s.guild_id != CONFIG_GUILD]
        for sub in subs:
            await self.notify_guild(
                sub.guild_id,
                f"Feed '{sub.name}' failed too many times in a row and is paused: "
                f"{redact_urls(reason)}. "
                f"It is retried daily; run /feed resume {sub.name} once it works again.")


def notice_channel(guild: discord.Guild, avoid: int | None) -> discord.TextChannel | None:
    """Where a notice goes: the system channel, else the first text channel we may post in."""
    candidates = ([guild.system_channel] if guild.system_channel else []) + guild.text_channels
    me = guild.me
    for channel in candidates:
        if channel.id != avoid and (me is None or channel.permissions_for(me).send_messages):
            return channel
    return None


@dataclass
class DiscordHandle:
    """The running client and the task that runs it."""

    client: WirewatchClient
    task: asyncio.Task[None]


async def _run(client: WirewatchClient, token: str, app: App, stop: asyncio.Event) -> None:
    """Run the gateway until closed; a fatal error stops the whole bot with a status."""
    try:
        async with client:
            await client.start(token, reconnect=True)
        return
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN (401); check the token")
        app.exit_status = 2
    except (discord.HTTPException, discord.GatewayNotFound, discord.ConnectionClosed,
            OSError) as exc:
        log.error("cannot connect to Discord: %s", exc)
        app.exit_status = 2
    except Exception:
        # Past this point nobody would answer commands; exit and let the supervisor restart.
        log.exception("the Discord client crashed")
        app.exit_status = 1
    stop.set()


async def start_client(app: App, stop: asyncio.Event, *, sync_commands: bool = True,
                       **options: Any) -> DiscordHandle:
    """Log in and run the gateway in a task; a login failure sets ``stop`` (exit status 2).

    ``options`` go to ``discord.Client`` (tests pass ``guild_ready_timeout``; the gateway
    hub passes ``shard_id`` and ``shard_count``).
    """
    point_discord_at(app.settings)
    client = WirewatchClient(app, **options)
    client.sync_commands = sync_commands
    app.outbox.on_target_gone = client.on_target_gone
    app.poller.deps.on_feed_paused = client.on_feed_paused
    token = app.settings.discord_token or ""
    return DiscordHandle(client, asyncio.create_task(_run(client, token, app, stop),
                                                     name="discord"))


async def stop_client(handle: DiscordHandle) -> None:
    """Close the gateway connection and wait (briefly) for the client task."""
    try:
        # discord.py waits up to 30 s for a silent gateway to close: not within our 10 s.
        await asyncio.wait_for(handle.client.close(), timeout=STOP_TIMEOUT_S)
    except TimeoutError:
        log.warning("the Discord gateway did not close in time; leaving it")
    done, _ = await asyncio.wait({handle.task}, timeout=STOP_TIMEOUT_S)
    if not done:
        handle.task.cancel()
        await asyncio.wait({handle.task}, timeout=1.0)
