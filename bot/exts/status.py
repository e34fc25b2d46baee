"""/status: is the bot healthy, and what has it done lately."""

from __future__ import annotations

import time

import discord
from discord import app_commands

from bot import __version__
from bot.core.errors import StoreError
from bot.core.urls import redact_urls
from bot.exts.common import (
    ago,
    fit_lines,
    guild_of,
    plain,
    reply,
    require_manage_server,
    uptime,
)
from bot.exts.feeds import feed_error
from bot.service.membership import PROCESS_TTL_S
from bot.service.roles import describe
from bot.service.runtime import App
from bot.store.rows import CONFIG_GUILD

REASONS_SHOWN = 5


async def status_lines(app: App, guild_id: int) -> list[str]:
    """The /status report for one guild: feeds, deliveries, last alert, uptime, version."""
    subs = await app.store.subscriptions(guild_id) + await app.store.subscriptions(CONFIG_GUILD)
    failing = [s for s in subs if s.feed.error_count]
    counts = await app.store.outbox_counts(guild_id)
    errors = await app.store.delivery_errors(guild_id, REASONS_SHOWN)
    lines = [
        f"**Wirewatch {__version__}** — up {uptime(app.started_monotonic)}",
        f"Feeds: {len(subs) - len(failing)} ok, {len(failing)} failing",
        f"Alerts: {counts.pending} queued, {counts.failed} failed, {counts.sent} sent; "
        f"last alert {ago(counts.last_sent_at)}",
    ]
    lines += [f"• feed **{plain(s.name, 80)}**: {plain(feed_error(s), 200)}"
              for s in failing[:REASONS_SHOWN]]
    lines += [f"• watch **{plain(name, 80)}** ({'retrying' if status == 'pending' else status})"
              f": {plain(redact_urls(error), 200)}" for name, status, error in errors]
    lines.append(schedule_line(app))
    lines += await process_lines(app)
    return lines


async def process_lines(app: App) -> list[str]:
    """With several processes: each live one, its roles, and what it holds (counted).

    Numbered, never named: every guild's admins may run /status, and the operator's host
    names and pids are not theirs to see (the operator has /healthz and the logs).
    """
    if app.membership is None:
        return []
    try:
        rows = await app.store.live_processes(PROCESS_TTL_S)
    except StoreError:
        return ["Processes: the database did not answer"]
    lines = [f"Processes: {len(rows)} live"]
    for number, row in enumerate(rows, start=1):
        gateway = [name for name in row.holds if name.startswith("gateway:")]
        targets = len(row.holds) - len(gateway)
        held = ", ".join([*gateway, f"{targets} alert targets"])
        me = " (this one)" if row.id == app.membership.me.id else ""
        lines.append(f"• process {number}{me}: {row.roles}; holds {held}")
    return lines


def schedule_line(app: App) -> str:
    """How late this process started due polls over the last minute, and its role."""
    lag = app.poller.lag.summary(time.monotonic())
    return (f"Schedule: lag p95 {lag['p95_s']:.1f}s, max {lag['max_s']:.1f}s over the last "
            f"minute ({int(lag['claimed'])} polls started); role {describe(app.roles)}")


def status_command(app: App) -> app_commands.Command[app_commands.Group, ..., None]:
    """Build the /status command bound to the running app."""

    @app_commands.command(name="status")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(require_manage_server)
    async def status(interaction: discord.Interaction) -> None:
        """Feeds ok and failing, queued and failed alerts, last alert, uptime and version."""
        await reply(interaction, fit_lines(await status_lines(app, guild_of(interaction))))

    return status
