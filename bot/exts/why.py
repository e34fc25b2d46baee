"""/why <link or words>: what became of an article in this server, in a few lines (issue 21).

Ephemeral, Manage Server only, and guild-isolated by the store: the answer names only this
server's feeds and watches (and the config file's, as /feed list and /watch list show them).
"""

from __future__ import annotations

import re

import discord
from discord import app_commands

from bot.core.fate import Answer, decide
from bot.exts.common import fit_lines, guild_of, plain, reply, require_manage_server, when
from bot.service.runtime import App
from bot.store.why import Lookup

CANDIDATES_SHOWN = 5
_SAFE_LINK = re.compile(r"https?://[^\s<>]+")
_MESSAGE_LINK = re.compile(r"https://discord\.com/channels/[\d/]+")


def link_text(url: str) -> str:
    """A clickable link that never embeds (``<…>``), or inert text when it is not a plain URL."""
    return f"<{url[:400]}>" if _SAFE_LINK.fullmatch(url) else plain(url, 200)


def _inert(line: str) -> str:
    # Every word is user or feed text (escaped), except links to Discord messages.
    return " ".join(f"<{word}>" if _MESSAGE_LINK.fullmatch(word) else plain(word, 400)
                    for word in line.split(" "))


def answer_lines(answer: Answer, headline: str) -> list[str]:
    """The fate in bold with the headline, then the answer's lines."""
    head = f"**{answer.fate.replace('_', ' ')}**"
    if headline:
        head += f" — {plain(headline, 200)}"
    return [head, *(_inert(line) for line in answer.lines)]


def why_text(lookup: Lookup) -> str:
    """The reply: the candidates when several articles fit, else the fate and its lines."""
    if lookup.evidence is None:
        lines = [f"{len(lookup.candidates)} articles fit; ask again with one of their links:"]
        lines += [f"• {plain(c.title or c.link, 150)} — {plain(c.feed, 60)}, "
                  f"{when(c.first_seen)}: {link_text(c.link)}"
                  for c in lookup.candidates[:CANDIDATES_SHOWN]]
        return fit_lines(lines)
    sightings = lookup.evidence.sightings
    headline = sightings[0].title if sightings else ""
    return fit_lines(answer_lines(decide(lookup.evidence), headline))


def why_command(app: App) -> app_commands.Command[app_commands.Group, ..., None]:
    """Build the /why command bound to the running app."""

    @app_commands.command(name="why")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(require_manage_server)
    @app_commands.describe(article="The article's link, or words of its headline")
    async def why(interaction: discord.Interaction,
                  article: app_commands.Range[str, 1, 2000]) -> None:
        """Why an article was, or was not, alerted in this server."""
        lookup = await app.store.why(guild_of(interaction), article)
        await reply(interaction, why_text(lookup))

    return why
