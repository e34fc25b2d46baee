"""Which new items get their article page fetched, and putting the text into them (issue 13).

A poll calls ``add_article_text`` after parsing and before storing, with the keys the store
does not know yet: one GET per new item, never per poll. Each article that yields text sets
``Entry.body``; every other outcome leaves the entry as the feed gave it, so matching falls
back to the feed's text and no alert is lost. Fetches run side by side (bounded by the
``ArticleFetcher``), so a poll waits at most one article deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Literal

from bot.core import metrics
from bot.core.model import Entry
from bot.core.text import html_to_text
from bot.pipeline.article import Article, ArticleFetcher, ArticleReason
from bot.pipeline.fetch import origin_of
from bot.pipeline.fields import web_url
from bot.store.rows import CONFIG_GUILD, WatchRow

log = logging.getLogger(__name__)

FullTextMode = Literal["auto", "always", "never"]
FULL_TEXT_MODES: tuple[FullTextMode, ...] = ("auto", "always", "never")
TEASER_CHARS = 1_000  # "auto": an item whose own text is shorter is a teaser
MAX_PER_POLL = 25  # a feed that suddenly lists hundreds of new items is not read page by page
PER_FEED = 2  # pages of one feed fetched at once: a feed of slow pages leaves slots to others


def full_text_mode(value: str | None) -> FullTextMode:
    """``value`` as a mode; unknown or missing values mean the default, "auto"."""
    for mode in FULL_TEXT_MODES:
        if value == mode:
            return mode
    return "auto"


def is_teaser(entry: Entry) -> bool:
    """Whether the item's own text (summary or content, HTML stripped) is under TEASER_CHARS."""
    own = max(entry.summary, entry.content, key=len)
    # Cut first: no text helper sees more than needed to decide.
    return len(html_to_text(own[: TEASER_CHARS * 20])) < TEASER_CHARS


def wants_article(entry: Entry, mode: FullTextMode) -> bool:
    """Whether this (new) item's page should be fetched under ``mode``."""
    if mode == "never" or web_url(entry.link) is None:
        return False
    return mode == "always" or is_teaser(entry)


def strongest_mode(modes: Collection[FullTextMode]) -> FullTextMode:
    """What a feed's pages are fetched for: any "always" wins, then "auto"; "never" needs all.

    Each follower's watches still see only the text that follower asked for
    (``as_asked``), so one guild's "always" changes what is fetched, never what another
    guild's "never" watches match.
    """
    for mode in FULL_TEXT_MODES:
        if mode in modes:
            return mode
    return "auto"


def as_asked(entries: Sequence[Entry], mode: FullTextMode) -> tuple[Entry, ...]:
    """``entries`` (article text added for the strongest mode) as a follower asking ``mode``
    sees them: an article's text only on the items that mode wants it for."""
    return tuple(entry if not entry.body or wants_article(entry, mode)
                 else replace(entry, body="") for entry in entries)


def by_follower_mode(watches: Sequence[tuple[WatchRow, str]], modes: Mapping[int, FullTextMode]
                     ) -> dict[FullTextMode, list[tuple[WatchRow, str]]]:
    """Watches by the full-text mode of their guild's subscription (the config file's for a
    config feed); every watch in one group when no article text was added."""
    groups: dict[FullTextMode, list[tuple[WatchRow, str]]] = {}
    for watch, feed_name in watches:
        mode = modes.get(watch.guild_id, modes.get(CONFIG_GUILD, "auto"))
        groups.setdefault(mode, []).append((watch, feed_name))
    return groups


async def add_article_text(entries: Sequence[Entry], new_keys: Collection[str],
                           mode: FullTextMode, articles: ArticleFetcher,
                           feed_name: str = "", private: bool | None = None,
                           feed_url: str = "") -> tuple[tuple[Entry, ...], dict[str, Article]]:
    """``entries`` with ``body`` set on new items whose page gave text; and each page's
    outcome, by link (one per GET).

    Items sharing a link share one fetch. ``private`` is the feed's private-network
    allowance (``Fetcher.fetch``), so a page cannot reach further than its feed; it holds
    only for pages on the host of ``feed_url``.
    """
    targets = [e for e in entries if e.key in new_keys and wants_article(e, mode)]
    if len(targets) > MAX_PER_POLL:
        log.info("feed %r: %d new items want their article; fetching the first %d",
                 feed_name, len(targets), MAX_PER_POLL, extra={"feed": feed_name})
        targets = targets[:MAX_PER_POLL]
    if not targets:
        return tuple(entries), {}
    links = list(dict.fromkeys(entry.link for entry in targets))  # one GET per page
    share = asyncio.Semaphore(PER_FEED)
    outcomes = await asyncio.gather(*(articles.get(link, share, _page_private(
        private, link, feed_url)) for link in links))
    texts: dict[str, str] = {}
    for link, article in zip(links, outcomes, strict=True):
        metrics.count_article(article.reason)
        if article.reason is ArticleReason.OK:
            texts[link] = article.text
        else:
            log.info("feed %r: article %s: %s (%s); matching the feed's text", feed_name,
                     link[:200], article.reason, article.detail, extra={"feed": feed_name})
    wanted = {entry.key for entry in targets}
    enriched = tuple(replace(e, body=texts[e.link]) if e.key in wanted and e.link in texts
                     else e for e in entries)
    return enriched, dict(zip(links, outcomes, strict=True))


def _page_private(private: bool | None, link: str, feed_url: str) -> bool | None:
    """The feed's allowance, for a page on the feed's own host and port only (else no private
    network); the fetcher also drops it on any redirect that leaves them.

    A link to another host (or another port: another service) is the publisher's choice (on
    an aggregator, anyone's): with the allowance it would reach into the operator's network,
    and the page's text would be matched and shown to every guild that sees the feed.
    """
    if private is True and origin_of(link) != origin_of(feed_url):
        return False
    return private
