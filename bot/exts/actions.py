"""The controls under an alert (issue 22): Mute story, Pause watch, Follow.

Each control is a ``DynamicItem``: its state is in its ``custom_id`` (see
``bot.delivery.components``), so a click on a message posted before a restart, or by another
replica, is understood by any process holding the gateway. A click is handled once: the first
process to record its interaction id answers it; every other session that received it stays
silent (a second answer would only earn Discord's 40060).

Every answer is ephemeral and says what changed and how to undo it. Mute and Pause need
Manage Server or the ``[bot] manager_role``; Follow is for anyone.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol, Self, cast

import discord
from discord import ui

from bot.core.errors import StoreError
from bot.delivery.components import FOLLOW, MUTE, PAUSE, pause_choice
from bot.exts.common import UserError, now, plain, reply
from bot.service.runtime import App
from bot.store.rows import CONFIG_GUILD, WatchRow

log = logging.getLogger(__name__)


class _HasApp(Protocol):
    app: App


def may_moderate(interaction: discord.Interaction[Any], manager_role: str | None) -> bool:
    """Manage Server, or the configured manager role (by id or by name)."""
    if interaction.guild_id is None:
        return False
    if interaction.permissions.manage_guild:
        return True
    member = interaction.user
    if manager_role is None or not isinstance(member, discord.Member):
        return False
    return any(str(role.id) == manager_role or role.name == manager_role
               for role in member.roles)


def owns(watch: WatchRow, interaction: discord.Interaction[Any]) -> bool:
    """Whether the click comes from the watch's own server (a config watch: its channel)."""
    if watch.guild_id == interaction.guild_id:
        return True
    channel = interaction.channel
    here = {interaction.channel_id, getattr(channel, "parent_id", None)}
    return watch.guild_id == CONFIG_GUILD and watch.channel_id in here


def _refusal(what: str, manager_role: str | None) -> str:
    extra = f" or the role {plain(manager_role, 100)}" if manager_role else ""
    return f"{what} needs the Manage Server permission{extra}."


async def on_click(interaction: discord.Interaction[Any], action: str, ident: int,
                   values: list[str]) -> None:
    """Claim the click, acknowledge it, act, and answer ephemerally."""
    app = cast(_HasApp, interaction.client).app
    try:
        if not await app.store.claim_click(interaction.id, now()):
            return  # another session (or process) has it
    except StoreError as exc:
        log.error("click %s in guild %s: cannot claim it: %s", interaction.id,
                  interaction.guild_id, exc)
        return
    # A deferred update (type 6): nothing shows until the follow-up, and no 3 s race.
    try:
        await interaction.response.defer(ephemeral=True, thinking=False)
    except discord.HTTPException as exc:  # past Discord's 3 s: the member sees a failure
        log.warning("click %s in guild %s came too late to answer: %s", interaction.id,
                    interaction.guild_id, exc)
        return
    try:
        if action == MUTE:
            text = await _mute(app, interaction, ident)
        elif action == PAUSE:
            text = await _pause(app, interaction, ident, values)
        else:
            text = await _follow(app, interaction, ident)
    except UserError as exc:
        text = f"⚠️ {exc}"
    except StoreError as exc:
        log.error("click %s (%s) in guild %s: %s", interaction.id, action,
                  interaction.guild_id, exc)
        text = "⚠️ The database is unavailable right now; please try again in a minute."
    except discord.HTTPException as exc:
        log.warning("click %s (%s) in guild %s: Discord said %s", interaction.id, action,
                    interaction.guild_id, exc)
        text = "⚠️ Discord refused that just now; please try again."
    await reply(interaction, text)


async def _owned_watch(app: App, interaction: discord.Interaction[Any],
                       watch_id: int) -> WatchRow:
    watch = await app.store.watch_by_id(watch_id)
    if watch is None or not owns(watch, interaction):
        raise UserError("This alert's watch no longer exists.")
    return watch


async def _mute(app: App, interaction: discord.Interaction[Any], delivery_id: int) -> str:
    manager_role = app.config.bot.manager_role
    if not may_moderate(interaction, manager_role):
        raise UserError(_refusal("Muting a story", manager_role))
    story = await app.store.alert_story(delivery_id)
    if story is None or not owns(story.watch, interaction):
        raise UserError("This alert has no story to mute any more (a summary, or older than "
                        "the story window).")
    muted = await app.store.toggle_story_mute(story, interaction.user.id, now())
    where = f"<#{story.watch.channel_id}>" if story.watch.channel_id else "here"
    log.info("guild %s: %s %s story %s on %s", interaction.guild_id, interaction.user.id,
             "muted" if muted else "unmuted", story.story_id, story.target)
    if muted:
        return (f"🔇 Story muted in {where}: no more alerts or edits for it there. "
                "Undo: click **Mute story** again.")
    return (f"🔊 Story unmuted in {where}: its further sources are alerted again. "
            "Undo: click **Mute story** again.")


async def _pause(app: App, interaction: discord.Interaction[Any], watch_id: int,
                 values: list[str]) -> str:
    manager_role = app.config.bot.manager_role
    if not may_moderate(interaction, manager_role):
        raise UserError(_refusal("Pausing a watch", manager_role))
    choice = pause_choice(values[0]) if values else None
    if choice is None:
        raise UserError("Pick how long to pause for.")
    watch = await _owned_watch(app, interaction, watch_id)
    name = plain(watch.name, 100)
    if watch.source == "config":
        raise UserError(f"'{name}' comes from the config file; change it there.")
    until = now() + choice.seconds if choice.seconds is not None else None
    who = plain(interaction.user.display_name, 60)
    await app.store.pause_watch_until(watch.id, until, f"paused by {who} {choice.label}")
    log.info("guild %s: watch %r paused %s by %s", interaction.guild_id, watch.name,
             choice.label, interaction.user.id)
    undo = f"Undo: `/watch resume {name}` (or `/watch set {name}`)."
    if until is None:
        return f"⏸️ Watch **{name}** paused until resumed: new matches are not alerted. {undo}"
    return (f"⏸️ Watch **{name}** paused until <t:{int(until)}:f> (<t:{int(until)}:R>): "
            f"matches meanwhile are not alerted. {undo}")


async def _follow(app: App, interaction: discord.Interaction[Any], watch_id: int) -> str:
    watch = await _owned_watch(app, interaction, watch_id)
    member, guild = interaction.user, interaction.guild
    if not isinstance(member, discord.Member) or guild is None:
        raise UserError("Following works inside a server only.")
    role_id, created = watch.follow_role_id, ""
    if role_id is None:
        role_id = await _make_role(app, guild, watch)
        created = (f"\nI created the role <@&{role_id}> for the followers of "
                   f"**{plain(watch.name, 100)}**; admins may rename or recolour it.")
    following = member.get_role(role_id) is not None
    try:
        if following:
            await member.remove_roles(discord.Object(role_id), reason="Wirewatch: unfollow")
        else:
            await member.add_roles(discord.Object(role_id), reason="Wirewatch: follow")
    except discord.Forbidden:
        raise UserError(f"I cannot give out <@&{role_id}>: I need Manage Roles, and my role "
                        "must be above it.") from None
    except discord.NotFound:
        await app.store.forget_follow_role(watch.id, role_id)
        raise UserError("The follow role was deleted; click **Follow** again to make a new "
                        "one.") from None
    name = plain(watch.name, 100)
    if following:
        return f"🔕 You no longer follow **{name}**. Undo: click **Follow** again.{created}"
    return (f"🔔 You now follow **{name}**: its alerts ping <@&{role_id}>. "
            f"Undo: click **Follow** again.{created}")


async def _make_role(app: App, guild: discord.Guild, watch: WatchRow) -> int:
    """Create the watch's follow role; keep the one another process recorded first."""
    try:
        role = await guild.create_role(name=watch.name[:100], mentionable=True,
                                       permissions=discord.Permissions.none(),
                                       reason=f"Wirewatch: followers of watch {watch.name}")
    except discord.Forbidden:
        raise UserError("I need the Manage Roles permission to create this watch's follow "
                        "role.") from None
    kept = await app.store.claim_follow_role(watch.id, role.id)
    if kept is None:
        raise UserError("This alert's watch no longer exists.")
    if kept != role.id:
        try:
            await role.delete(reason="Wirewatch: another process made the follow role first")
        except discord.HTTPException as exc:
            log.warning("guild %s: could not delete duplicate role %s: %s", guild.id,
                        role.id, exc)
    else:
        log.info("guild %s: created follow role %s for watch %r", guild.id, role.id,
                 watch.name)
    return kept


class MuteButton(ui.DynamicItem[ui.Button[Any]], template=rf"ww1:{MUTE}:(?P<id>[0-9]{{1,20}})"):
    """Mute story: no more alerts or edits for this story in this channel (a toggle)."""

    def __init__(self, item: ui.Button[Any], ident: int) -> None:
        super().__init__(item)
        self.ident = ident

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        """The button as it is on the message, with the id its custom_id carries."""
        return cls(cast(ui.Button[Any], item), int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Handle the click once."""
        await on_click(interaction, MUTE, self.ident, [])


class FollowButton(ui.DynamicItem[ui.Button[Any]],
                   template=rf"ww1:{FOLLOW}:(?P<id>[0-9]{{1,20}})"):
    """Follow: toggles, for the member who clicks, the role the watch pings."""

    def __init__(self, item: ui.Button[Any], ident: int) -> None:
        super().__init__(item)
        self.ident = ident

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        """The button as it is on the message, with the id its custom_id carries."""
        return cls(cast(ui.Button[Any], item), int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Handle the click once."""
        await on_click(interaction, FOLLOW, self.ident, [])


class PauseSelect(ui.DynamicItem[ui.Select[Any]],
                  template=rf"ww1:{PAUSE}:(?P<id>[0-9]{{1,20}})"):
    """Pause watch: for 1 h, 8 h, 24 h or until resumed."""

    def __init__(self, item: ui.Select[Any], ident: int) -> None:
        super().__init__(item)
        self.ident = ident

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        """The select as it is on the message, with the id its custom_id carries."""
        return cls(cast(ui.Select[Any], item), int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Handle the choice once."""
        await on_click(interaction, PAUSE, self.ident, list(self.item.values))


CONTROLS = (MuteButton, FollowButton, PauseSelect)
