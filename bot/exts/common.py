"""What every slash command shares: the permission gate, replies, errors, formatting."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import discord
from discord import app_commands

from bot.core.errors import QueryError, StoreError, WirewatchError
from bot.delivery.markdown import escape_markdown
from bot.service.runtime import App

log = logging.getLogger(__name__)

MANAGE_SERVER = discord.Permissions(manage_guild=True)
MESSAGE_MAX = 2000
CHOICES_MAX = 25  # Discord shows at most 25 autocomplete choices


class UserError(WirewatchError):
    """A bad argument or state the user can fix; shown to them as is."""


class NeedsManageServer(app_commands.CheckFailure):
    """The member lacks Manage Server."""


def can_manage(interaction: discord.Interaction) -> bool:
    """Whether the member may use Wirewatch here (in a server, with Manage Server)."""
    return interaction.guild_id is not None and interaction.permissions.manage_guild


def require_manage_server(interaction: discord.Interaction) -> bool:
    """The handler-side check behind the commands' default permission.

    Discord hides the commands from members without Manage Server, but a server admin can
    override that per role or channel, so the handler checks again.
    """
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage("Wirewatch commands work inside a server only.")
    if not interaction.permissions.manage_guild:
        raise NeedsManageServer("You need the Manage Server permission to use Wirewatch.")
    return True


def guild_of(interaction: discord.Interaction) -> int:
    """The guild id of an interaction (the commands are guild-only)."""
    if interaction.guild_id is None:
        raise UserError("Wirewatch commands work inside a server only.")
    return interaction.guild_id


def choices(names: Iterable[str], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices: names containing what was typed, prefix matches first."""
    typed = current.casefold()
    hits = [name for name in names if typed in name.casefold()]
    hits.sort(key=lambda name: (not name.casefold().startswith(typed), name.casefold()))
    return [app_commands.Choice(name=name[:100], value=name[:100]) for name in hits[:CHOICES_MAX]]


async def reply(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral reply that pings nobody; a follow-up when the interaction was deferred."""
    text = text[:MESSAGE_MAX]
    none = discord.AllowedMentions.none()
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=none)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)


def error_text(interaction: discord.Interaction, error: app_commands.AppCommandError) -> str:
    """What the user sees for a failed command; unexpected errors are logged, not shown."""
    cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(cause, UserError | QueryError | app_commands.CheckFailure):
        return f"⚠️ {cause}"
    if isinstance(cause, app_commands.TransformerError):
        return f"⚠️ That is not a valid {cause.type.name}: {plain(str(cause.value), 100)}"
    name = interaction.command.qualified_name if interaction.command else "?"
    if isinstance(cause, StoreError):
        log.error("command /%s in guild %s: %s", name, interaction.guild_id, cause)
        return "⚠️ The database is unavailable right now; please try again in a minute."
    log.error("command /%s failed in guild %s", name, interaction.guild_id, exc_info=cause)
    return "⚠️ Something went wrong on our side; the details are in the bot's log."


async def report_command_error(interaction: discord.Interaction,
                               error: app_commands.AppCommandError) -> None:
    """Show the user a clear ephemeral error (never a traceback)."""
    text = error_text(interaction, error)
    try:
        await reply(interaction, text)
    except discord.HTTPException as exc:
        # Typically the 3-second deadline passed; the user sees "did not respond".
        log.warning("could not send the error reply in guild %s: %s", interaction.guild_id, exc)


def plain(text: str, limit: int = 200) -> str:
    """User or feed text made inert for a Discord message, on one line."""
    return escape_markdown(" ".join(text.split())[:limit])


def fit_lines(lines: list[str], limit: int = MESSAGE_MAX - 40) -> str:
    """Join as many whole lines as fit in ``limit``; say how many were left out."""
    out: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        if size + len(line) + 1 > limit:
            out.append(f"… and {len(lines) - index} more")
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def ago(timestamp: float | None) -> str:
    """A relative Discord timestamp ("3 minutes ago" in the reader's language), or "never"."""
    return "never" if timestamp is None else f"<t:{int(timestamp)}:R>"


def when(timestamp: float | None) -> str:
    """A Discord timestamp tag, or "—"."""
    return f"<t:{int(timestamp)}:f>" if timestamp else "—"


def now() -> float:
    """Unix time now."""
    return datetime.now(UTC).timestamp()


def uptime(started_monotonic: float) -> str:
    """Time since start, compact ("2d3h04m", "0h05m")."""
    seconds = int(time.monotonic() - started_monotonic)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    prefix = f"{days}d" if days else ""
    return f"{prefix}{hours}h{rest // 60:02d}m"


class ManagedGroup(app_commands.Group):
    """A guild-only command group that needs Manage Server: by default and in the handler."""

    def __init__(self, app: App, *, name: str, description: str) -> None:
        super().__init__(name=name, description=description, guild_only=True,
                         default_permissions=MANAGE_SERVER)
        self.app = app

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Manage Server is required (checked here as well as by Discord)."""
        return require_manage_server(interaction)
