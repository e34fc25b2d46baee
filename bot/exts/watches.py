"""/watch: add, remove, list, set, pause, resume and test watch queries."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands

from bot.config.cadence import SEND_NOW
from bot.core.errors import QueryError
from bot.core.fate import feed_state
from bot.core.quotas import quota_error
from bot.exts.common import (
    ManagedGroup,
    UserError,
    can_manage,
    choices,
    fit_lines,
    guild_of,
    now,
    plain,
    reply,
)
from bot.exts.watch_cadence import DESCRIPTIONS, cadence_from_options, timezone_choices
from bot.exts.watch_meaning import near_threshold_lines
from bot.exts.watch_text import (
    MANUAL_PAUSE,
    describe,
    explain_text,
    item_line,
    recent_matches,
)
from bot.pipeline.match import (
    CompiledQuery,
    compile_query,
)
from bot.pipeline.meaning import stored_meanings, text_meaning
from bot.service.runtime import App
from bot.store.rows import CONFIG_GUILD, NewWatch
from bot.store.why import feed_facts

log = logging.getLogger(__name__)

DAY_S = 86400.0
FOLLOW_UPS_HELP = ("later sources of a story: edit its alert (default), also post in a "
                   "thread, or off")
FOLLOW_UP_CHOICES = [app_commands.Choice(name=mode, value=mode)
                     for mode in ("edit", "thread", "off")]
NEWEST_SHOWN = 5
WATCH_TEST_SAMPLE = 1000  # items read and matched at most: a bounded cost per /watch test
# What the bot needs in an alert channel, with the names Discord's settings use.
NEEDED_IN_CHANNEL = (("view_channel", "View Channel"), ("send_messages", "Send Messages"),
                     ("embed_links", "Embed Links"))


def checked_query(query: str) -> CompiledQuery:
    """Compile a query or raise UserError pointing at the problem with a caret."""
    try:
        return compile_query(query)
    except QueryError as exc:
        start = max(0, min(exc.position, len(query)) - 40)
        shown = query[start:start + 60].replace("`", "'")
        marker = " " * (min(exc.position, len(query)) - start) + "^"
        raise UserError(f"Invalid query: {exc.reason} (at position {exc.position})\n"
                        f"```\n{shown}\n{marker}\n```") from None


def clean_name(name: str) -> str:
    """A watch or feed name on one line, or UserError when nothing is left."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise UserError("The name must not be blank.")
    return cleaned


def check_channel(channel: object) -> None:
    """Refuse a channel the bot cannot post embeds in (when the cache can tell)."""
    if not isinstance(channel, discord.TextChannel | discord.Thread):
        return
    me = channel.guild.me
    if me is None:
        return
    permissions = channel.permissions_for(me)
    missing = [label for attr, label in NEEDED_IN_CHANNEL if not getattr(permissions, attr)]
    if missing:
        raise UserError(f"I cannot post alerts in <#{channel.id}>: I need "
                        f"{', '.join(missing)} there.")


def role_note(role: discord.Role | None) -> str:
    """Refuse @everyone; warn when Discord would not actually ping the role."""
    if role is None:
        return ""
    if role.is_default():
        raise UserError("Pick a role to ping, not @everyone.")
    me = role.guild.me
    if not role.mentionable and me is not None and not me.guild_permissions.mention_everyone:
        return (f"\nNote: <@&{role.id}> is not mentionable and I lack \"Mention All Roles\", "
                "so Discord will not ping it.")
    return ""


class WatchCommands(ManagedGroup):
    """Watch-lists: a query and the channel its alerts go to."""

    def __init__(self, app: App) -> None:
        super().__init__(app, name="watch", description="Manage keyword watches for this server")

    async def _watch_names(self, interaction: discord.Interaction,
                           current: str) -> list[app_commands.Choice[str]]:
        # Autocomplete skips interaction_check: without this, names would leak to anyone.
        if not can_manage(interaction):
            return []
        watches = await self.app.store.watches(guild_of(interaction))
        return choices((w.name for w in watches), current)

    async def _refuse_unknown(self, guild_id: int, name: str) -> None:
        """Raise the right error for a name this guild does not have."""
        config = {w.name.casefold() for w in await self.app.store.watches(CONFIG_GUILD)}
        if name.casefold() in config:
            raise UserError(f"'{plain(name)}' comes from the config file; change it there.")
        raise UserError(f"No watch named '{plain(name)}' in this server. See `/watch list`.")

    @app_commands.command(name="add")
    @app_commands.describe(name="A short name for this watch",
                           query='What to look for, e.g. "rare earths" OR tariffs -opinion',
                           channel="Where alerts go (default: this channel)",
                           role="A role to ping on each alert (nothing else is ever pinged)",
                           stories="group: later reports of a story edit its alert (default); "
                                   "every-item: one alert per item",
                           follow_ups=FOLLOW_UPS_HELP, **DESCRIPTIONS)
    @app_commands.choices(stories=[app_commands.Choice(name="group", value="group"),
                                   app_commands.Choice(name="every-item", value="every-item")],
                          follow_ups=FOLLOW_UP_CHOICES)
    async def add(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100],
                  query: app_commands.Range[str, 1, 1000],
                  channel: discord.TextChannel | discord.ForumChannel | None = None,
                  role: discord.Role | None = None,
                  deliver: app_commands.Range[str, 1, 40] | None = None,
                  timezone: app_commands.Range[str, 1, 64] | None = None,
                  quiet: app_commands.Range[str, 1, 40] | None = None,
                  urgent: app_commands.Range[str, 1, 1000] | None = None,
                  stories: app_commands.Choice[str] | None = None,
                  follow_ups: app_commands.Choice[str] | None = None) -> None:
        """Watch this server's feeds for a query and post matches to a channel."""
        guild_id = guild_of(interaction)
        name = clean_name(name)
        checked_query(query)
        cadence = cadence_from_options(SEND_NOW, deliver=deliver, timezone=timezone,
                                       quiet=quiet, urgent=urgent)
        check_channel(channel or interaction.channel)
        note = role_note(role)
        existing = await self.app.store.watches(guild_id)
        if any(w.name.casefold() == name.casefold() for w in existing):
            raise UserError(f"A watch named '{plain(name)}' exists; remove it first.")
        refused = quota_error("watch", len(existing), self.app.config.bot.max_watches_per_guild)
        if refused is not None:
            raise UserError(refused)
        channel_id = channel.id if channel else interaction.channel_id
        await self.app.store.add_watch(NewWatch(
            guild_id=guild_id, name=name, query=query, channel_id=channel_id,
            role_id=role.id if role else None, cadence=cadence,
            stories=stories.value if stories else "group",
            follow_ups=follow_ups.value if follow_ups else "edit"), now())
        log.info("guild %s added watch %r → channel %s", guild_id, name, channel_id)
        ping = f", pinging <@&{role.id}>" if role else ""
        if cadence.holds:
            ping += f"; delivery: {plain(cadence.describe(), 300)}"
        # Matching a day of items can take a second or two: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        preview = await self._preview(guild_id, compile_query(query))
        await reply(interaction, f"✅ Watch **{plain(name)}** added: alerts go to "
                                 f"<#{channel_id}>{ping}.{note}\n{preview}")

    async def _preview(self, guild_id: int, compiled: CompiledQuery) -> str:
        """What the watch would have matched among the last day's items, newest first."""
        items = await self.app.store.recent_items(guild_id, now() - DAY_S, WATCH_TEST_SAMPLE)
        meanings = await stored_meanings(self.app.poller.deps.meanings, compiled.topics,
                                         [item.vector for item in items])
        hits = await asyncio.to_thread(recent_matches, compiled, items, meanings)
        newest = "newest " if len(items) >= WATCH_TEST_SAMPLE else ""
        lines = [f"Among the {newest}{len(items)} items of the last 24 hours, {len(hits)} match "
                 "now (not alerted); new matching items will be alerted."]
        lines += [item_line(item) for item in hits[:NEWEST_SHOWN]]
        return fit_lines(lines, 1500)

    @app_commands.command(name="remove")
    @app_commands.describe(name="The watch to remove")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        """Delete a watch and its queued alerts."""
        guild_id = guild_of(interaction)
        if not await self.app.store.remove_watch(guild_id, name):
            await self._refuse_unknown(guild_id, name)
        await reply(interaction, f"🗑️ Watch **{plain(name)}** removed.")

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction) -> None:
        """Show this server's watches (and the config file's), with their state."""
        watches = (await self.app.store.watches(guild_of(interaction))
                   + await self.app.store.watches(CONFIG_GUILD))
        if not watches:
            await reply(interaction, "No watches yet. Add one with `/watch add`.")
            return
        await reply(interaction, fit_lines([describe(w) for w in watches]))

    @app_commands.command(name="pause")
    @app_commands.describe(name="The watch to pause")
    async def pause(self, interaction: discord.Interaction, name: str) -> None:
        """Stop a watch from matching and posting until resumed."""
        guild_id = guild_of(interaction)
        if not await self.app.store.set_watch_paused(guild_id, name, True,
                                                     f"{MANUAL_PAUSE} a moderator"):
            await self._refuse_unknown(guild_id, name)
        await reply(interaction, f"⏸️ Watch **{plain(name)}** paused.")

    @app_commands.command(name="set")
    @app_commands.describe(name="The watch to change", follow_ups=FOLLOW_UPS_HELP,
                           **DESCRIPTIONS)
    @app_commands.choices(follow_ups=FOLLOW_UP_CHOICES)
    async def set_(self, interaction: discord.Interaction, name: str,
                   deliver: app_commands.Range[str, 1, 40] | None = None,
                   timezone: app_commands.Range[str, 1, 64] | None = None,
                   quiet: app_commands.Range[str, 1, 40] | None = None,
                   urgent: app_commands.Range[str, 1, 1000] | None = None,
                   follow_ups: app_commands.Choice[str] | None = None) -> None:
        """Change when a watch's alerts go out and what later sources do; lifts a pause."""
        guild_id = guild_of(interaction)
        found = [w for w in await self.app.store.watches(guild_id) if w.name == name]
        if not found:
            await self._refuse_unknown(guild_id, name)
        cadence = cadence_from_options(found[0].cadence, deliver=deliver, timezone=timezone,
                                       quiet=quiet, urgent=urgent)
        if not await self.app.store.set_watch_cadence(guild_id, name, cadence):
            await self._refuse_unknown(guild_id, name)
        log.info("guild %s set watch %r delivery: %s", guild_id, name, cadence.describe())
        extra = ""
        if follow_ups is not None:
            await self.app.store.set_watch_follow_ups(guild_id, name, follow_ups.value)
            extra += f" Follow-ups: {follow_ups.value}."
        # A pause made by a member (a Pause control or /watch pause) ends with any change;
        # one made because the channel was lost waits for /watch resume after the fix.
        if found[0].paused and (found[0].paused_reason or "").startswith(MANUAL_PAUSE):
            await self.app.store.set_watch_paused(guild_id, name, False)
            self.app.outbox.wake()
            extra += " The pause is lifted."
        # Matches held so far keep their digest time; new matches follow the new setting.
        await reply(interaction, f"🕒 Watch **{plain(name)}** now delivers: "
                                 f"{plain(cadence.describe(), 400)}.{extra}")

    @app_commands.command(name="resume")
    @app_commands.describe(name="The watch to resume")
    async def resume(self, interaction: discord.Interaction, name: str) -> None:
        """Resume a paused watch; alerts queued before the pause are sent."""
        guild_id = guild_of(interaction)
        if not await self.app.store.set_watch_paused(guild_id, name, False):
            await self._refuse_unknown(guild_id, name)
        self.app.outbox.wake()
        await reply(interaction, f"▶️ Watch **{plain(name)}** resumed.")

    @app_commands.command(name="test")
    @app_commands.describe(query="The query to try",
                           text="Text to test it on (as an item's body); omit to test the "
                                "items of the last 24 hours")
    async def test(self, interaction: discord.Interaction,
                   query: app_commands.Range[str, 1, 1000],
                   text: app_commands.Range[str, 1, 2000] | None = None) -> None:
        """Explain a query on some text, or show which recent items it would have matched."""
        guild_id = guild_of(interaction)
        compiled = checked_query(query)
        model = self.app.poller.deps.meanings
        if text is not None:
            if compiled.topics:  # the model takes a moment: acknowledge first
                await interaction.response.defer(ephemeral=True, thinking=True)
            meaning = await text_meaning(model, compiled.topics, text)
            await reply(interaction, explain_text(compiled, text, meaning))
            return
        # Matching a day of items can take seconds (1.3-1.9 s for 5,000 long items on the
        # reference machine): acknowledge before Discord's 3-second deadline.
        await interaction.response.defer(ephemeral=True, thinking=True)
        items = await self.app.store.recent_items(guild_id, now() - DAY_S, WATCH_TEST_SAMPLE)
        meanings = await stored_meanings(model, compiled.topics, [i.vector for i in items])
        hits = await asyncio.to_thread(recent_matches, compiled, items, meanings)
        sample = (f"the newest {len(items)} items" if len(items) >= WATCH_TEST_SAMPLE
                  else f"{len(items)} items")
        lines = [f"{len(hits)} of {sample} from the last 24 hours would have matched."]
        lines += [item_line(item) for item in hits[:NEWEST_SHOWN]]
        lines += await self._unread_feeds(guild_id)
        lines += near_threshold_lines(compiled, items, meanings)
        await reply(interaction, fit_lines(lines))

    async def _unread_feeds(self, guild_id: int) -> list[str]:
        """Feeds whose new items this test cannot see, said as /why and /feed list say it."""
        subs = (await self.app.store.subscriptions(guild_id)
                + await self.app.store.subscriptions(CONFIG_GUILD))
        return [f"⚠️ **{plain(s.name, 80)}** is not in this test: "
                f"{plain(feed_state(feed_facts(s, s.guild_id)), 250)}"
                for s in subs if s.feed.error_count or s.feed.paused]

    remove.autocomplete("name")(_watch_names)
    add.autocomplete("timezone")(timezone_choices)
    set_.autocomplete("name")(_watch_names)
    set_.autocomplete("timezone")(timezone_choices)
    pause.autocomplete("name")(_watch_names)
    resume.autocomplete("name")(_watch_names)
