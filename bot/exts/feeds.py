"""/feed: add (validated by fetching it), remove and list feeds with their health."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlsplit

import discord
from discord import app_commands

from bot.config.file import MIN_INTERVAL_S
from bot.core.durations import AUTO_INTERVAL_S, format_duration, parse_feed_interval
from bot.core.errors import AddressRefused, FeedError
from bot.core.model import Entry, ParsedFeed
from bot.core.quotas import quota_error
from bot.core.settings import Network
from bot.core.urls import host_of, redact_urls, safe_url
from bot.exts.common import (
    ManagedGroup,
    UserError,
    ago,
    can_manage,
    choices,
    fit_lines,
    guild_of,
    now,
    plain,
    reply,
)
from bot.exts.watches import clean_name
from bot.pipeline.article import describe_stats
from bot.pipeline.fetch import Fetched, NotModified
from bot.pipeline.netguard import ALLOW_HINT, parse_address
from bot.pipeline.next_check import (
    DEFAULT_MAX_AUTO_S,
    DEFAULT_MIN_AUTO_S,
    feed_interval,
    first_schedule,
)
from bot.pipeline.preview import describe_preview, preview_matches
from bot.service.runtime import App
from bot.store.rows import CONFIG_GUILD, Subscription

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 60.0  # alerts within a minute; conditional GET keeps it cheap
MAX_INTERVAL_S = 7 * 86400.0


def parse_interval(text: str | None, minimum: float) -> float:
    """The interval option in seconds (default 1m), within [minimum, 7d], or "auto"
    (``AUTO_INTERVAL_S``: from how often the feed publishes); else UserError."""
    if text is None:
        return max(DEFAULT_INTERVAL_S, minimum)
    try:
        seconds = parse_feed_interval(text)
    except ValueError as exc:
        raise UserError(f'{exc}, or "auto"') from None
    if seconds == AUTO_INTERVAL_S:
        return seconds
    if seconds < minimum:
        raise UserError(f"The interval must be at least {format_duration(minimum)}.")
    if seconds > MAX_INTERVAL_S:
        raise UserError("The interval must be at most 7d.")
    return seconds


def on_allowed_network(url: str, networks: Sequence[Network]) -> bool:
    """Whether ``url``'s host is an address (or ``localhost``) inside ``networks``."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host == "localhost":
        host = "127.0.0.1"
    address = parse_address(host)
    return address is not None and any(address in network for network in networks
                                       if network.version == address.version)


def feed_error(sub: Subscription) -> str:
    """A feed's last error as a guild may see it: URLs without credentials or query strings,
    and for a config-file feed only their host (the operator's URLs are not every guild's)."""
    return redact_urls(sub.feed.last_error or "?", host_only=sub.guild_id == CONFIG_GUILD)


def interval_text(sub: Subscription, bounds: tuple[float, float]) -> str:
    """How often a feed is checked, as /feed list says it: "every 1m", or for "auto" the
    interval in force now and why ("auto, now every 4m: an item about every 9m")."""
    if sub.interval_s != AUTO_INTERVAL_S:
        return f"every {format_duration(sub.interval_s)}"
    force = feed_interval(sub.feed, now(), bounds)
    return f"auto, now every {format_duration(force.seconds)} ({force.reason})"


def health(sub: Subscription,
           bounds: tuple[float, float] = (DEFAULT_MIN_AUTO_S, DEFAULT_MAX_AUTO_S)) -> str:
    """One entry of /feed list: name, interval, state, last success, next check, URL.

    A guild's own feed shows its URL in full (the guild typed it); a config-file feed only its
    host, since its query string may hold the operator's API key.
    """
    feed = sub.feed
    if feed.paused:
        state = f"⏸️ paused after repeated failures: {plain(feed_error(sub), 150)}"
    elif feed.error_count:
        state = f"❌ failing ×{feed.error_count}: {plain(feed_error(sub), 150)}"
    elif feed.last_success is None:
        state = "⏳ not checked yet"
    else:
        state = "✅ ok"
    config = sub.guild_id == CONFIG_GUILD
    source = " (config file)" if config else ""
    where = f"host `{plain(host_of(feed.url), 100)}`" if config else f"<{feed.url[:300]}>"
    return (f"• **{plain(sub.name, 100)}**{source} {interval_text(sub, bounds)} — "
            f"{state}\n  last success {ago(feed.last_success)}, next check "
            f"{ago(feed.next_check)} — {where}")


def articles_line(counts: Mapping[str, int]) -> str:
    """The /feed list line on a feed's article fetches (issue 13), or "" before any."""
    text = describe_stats(counts)
    return f"\n  {text}" if text else ""


def newest(entries: tuple[Entry, ...]) -> Entry | None:
    """The most recently published entry, else the first one listed (feeds list newest first)."""
    dated = [(entry.published, entry) for entry in entries if entry.published is not None]
    if dated:
        return max(dated, key=lambda pair: pair[0])[1]
    return entries[0] if entries else None


def check_unused(subs: list[Subscription], url: str, name: str | None) -> None:
    """Refuse a second subscription to the same URL, or a name already taken."""
    for sub in subs:
        if sub.feed.url == url:
            raise UserError(f"This server already has that feed as '{plain(sub.name)}'.")
        if name is not None and sub.name.casefold() == name.casefold():
            raise UserError(f"This server already has a feed named '{plain(name)}'; "
                            "pick another name.")


class FeedCommands(ManagedGroup):
    """Feeds: the news sources this server's watches see."""

    def __init__(self, app: App) -> None:
        super().__init__(app, name="feed", description="Manage the news feeds this server watches")

    async def _feed_names(self, interaction: discord.Interaction,
                          current: str) -> list[app_commands.Choice[str]]:
        # Autocomplete skips interaction_check: without this, names would leak to anyone.
        if not can_manage(interaction):
            return []
        subs = await self.app.store.subscriptions(guild_of(interaction))
        return choices((s.name for s in subs), current)

    def _private_allowed(self, guild_id: int) -> bool:
        # The operator's private networks are for the config file and the guilds it lists.
        return guild_id in self.app.config.bot.private_network_guilds

    async def _probe(self, url: str, guild_id: int) -> tuple[Fetched, ParsedFeed]:
        """Fetch and parse the feed as a poll would; any failure becomes a UserError.

        The fetch has this guild's allowance, whoever else follows the URL: a config-file
        feed on a private network is not a way in for a guild that is not listed.
        """
        deps = self.app.poller.deps
        try:
            response = await deps.fetcher.fetch(url, private=self._private_allowed(guild_id))
            if isinstance(response, NotModified):
                raise UserError("The server answered 304 Not Modified to a first request.")
            parsed = await deps.parser.parse(response.body, response.headers,
                                             response.final_url)
        except FeedError as exc:
            reason = str(exc)
            if isinstance(exc, AddressRefused) and not self._private_allowed(guild_id):
                # The operator's hint (set WIREWATCH_ALLOW_PRIVATE_NETWORKS) is not for guilds.
                reason = reason.split(f"; {ALLOW_HINT}", 1)[0] + \
                    "; this server may not add feeds on private networks"
            raise UserError("That feed could not be added: "
                            f"{plain(redact_urls(reason), 300)}") from None
        return response, parsed

    async def _prime(self, feed_id: int, response: Fetched, parsed: ParsedFeed,
                     interval_s: float) -> None:
        """Record what the feed holds today, alerting nothing: no flood on first add."""
        stamp = now()
        deps = self.app.poller.deps
        next_check, publishing = first_schedule(interval_s, parsed, stamp, deps.interval_bounds,
                                                response.max_age_s, deps.rng)
        await self.app.store.ingest(
            feed_id, parsed.entries, now=stamp, title=parsed.title or None,
            next_check=next_check, etag=response.etag, last_modified=response.last_modified,
            body_hash=hashlib.sha256(response.body).hexdigest(), plan=lambda _new: [],
            publishing=publishing)

    @app_commands.command(name="add")
    @app_commands.describe(url="The RSS, Atom, RDF or JSON Feed address",
                           name="A short name (default: the feed's title)",
                           interval='How often to check, e.g. "10m" (default 1m), or "auto" '
                                    '(from how often the feed publishes)',
                           full_text="Also match the article page of new items: auto (when "
                                     "the feed gives a teaser, the default), always or never")
    async def add(self, interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000],
                  name: app_commands.Range[str, 1, 100] | None = None,
                  interval: str | None = None,
                  full_text: Literal["auto", "always", "never"] | None = None) -> None:
        """Add a feed: it is fetched and checked first; the items it holds now are not alerted."""
        guild_id = guild_of(interaction)
        url = url.strip()
        seconds = parse_interval(interval, self._minimum_interval(url, guild_id))
        wanted = clean_name(name) if name is not None else None
        # Fetching can take longer than Discord's 3-second deadline: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        subs = await self.app.store.subscriptions(guild_id)
        refused = quota_error("feed", len(subs), self.app.config.bot.max_feeds_per_guild)
        if refused is not None:
            raise UserError(refused)
        check_unused(subs, url, wanted)
        response, parsed = await self._probe(url, guild_id)
        name = wanted or clean_name(parsed.title or url)[:100]
        check_unused(subs, url, name)
        sub = await self.app.store.subscribe(guild_id, url, name, seconds, now())
        access = self.app.poller.deps.fetcher.access
        if access is not None and self._private_allowed(guild_id):
            access.grant(url)  # its polls may reach the private networks it was checked with
        if full_text is not None:
            await self.app.store.set_full_text(guild_id, {name: full_text})
        # A URL another server already follows is primed: its stored items are the baseline.
        if not sub.feed.primed:
            await self._prime(sub.feed.id, response, parsed, seconds)
        self.app.poller.wake()  # its schedule may now be the earliest one
        log.info("guild %s added feed %r (%d items)", guild_id, name, len(parsed.entries))
        latest = newest(parsed.entries)
        latest_text = (plain(latest.title or latest.link, 200) if latest is not None
                       else "(no items yet)")
        preview = await self._preview(guild_id, sub.feed.id, name, url, parsed)
        await reply(interaction, f"✅ Feed **{plain(name)}** added: "
                                 f"{plain(parsed.title or safe_url(url))} — "
                                 f"{len(parsed.entries)} items "
                                 f"now, checked every {format_duration(seconds)}.\n"
                                 f"Newest: {latest_text}\n{preview}")

    async def _preview(self, guild_id: int, feed_id: int, name: str, url: str,
                       parsed: ParsedFeed) -> str:
        """What this server's watches would have matched among the items just recorded."""
        watches = await self.app.store.watches_for_feed(feed_id)
        preview = await asyncio.to_thread(
            preview_matches, name, len(parsed.entries), parsed.entries, watches)
        return fit_lines([plain(line, 400) for line in
                          describe_preview(preview.for_guild(guild_id))], 1400)

    def _minimum_interval(self, url: str, guild_id: int) -> float:
        # The floor protects other people's servers. A feed on a network the operator
        # explicitly allowed (WIREWATCH_ALLOW_PRIVATE_NETWORKS) is their own: down to 1s.
        if self._private_allowed(guild_id) and on_allowed_network(
                url, self.app.settings.allow_private_networks):
            return MIN_INTERVAL_S
        return self.app.config.bot.min_feed_interval

    async def _refuse_unknown(self, name: str) -> None:
        """Raise the right error for a feed name this guild does not have."""
        config = {s.name.casefold() for s in await self.app.store.subscriptions(CONFIG_GUILD)}
        if name.casefold() in config:
            raise UserError(f"'{plain(name)}' comes from the config file; change it there.")
        raise UserError(f"No feed named '{plain(name)}' in this server. See `/feed list`.")

    @app_commands.command(name="remove")
    @app_commands.describe(name="The feed to remove")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        """Stop following a feed in this server."""
        guild_id = guild_of(interaction)
        if not await self.app.store.unsubscribe(guild_id, name):
            await self._refuse_unknown(name)
        log.info("guild %s removed feed %r", guild_id, name)
        await reply(interaction, f"🗑️ Feed **{plain(name)}** removed.")

    @app_commands.command(name="resume")
    @app_commands.describe(name="The feed to check again now")
    async def resume(self, interaction: discord.Interaction, name: str) -> None:
        """Resume a feed paused after repeated failures: it is checked again right away."""
        guild_id = guild_of(interaction)
        if not await self.app.store.resume_feed(guild_id, name, now()):
            await self._refuse_unknown(name)
        log.info("guild %s resumed feed %r", guild_id, name)
        await reply(interaction, f"▶️ Feed **{plain(name)}** resumed; it is checked within "
                                 "seconds. See `/feed list` for the result.")

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction) -> None:
        """Show this server's feeds (and the config file's) with health and next check."""
        subs = (await self.app.store.subscriptions(guild_of(interaction))
                + await self.app.store.subscriptions(CONFIG_GUILD))
        if not subs:
            await reply(interaction, "No feeds yet. Add one with `/feed add`.")
            return
        stats = await self.app.store.article_stats(sorted({s.feed.id for s in subs}))
        bounds = self.app.poller.deps.interval_bounds
        await reply(interaction, fit_lines([
            health(s, bounds) + articles_line(stats.get(s.feed.id, {})) for s in subs]))

    remove.autocomplete("name")(_feed_names)
    resume.autocomplete("name")(_feed_names)
