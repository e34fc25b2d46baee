"""Caps and cleaning for feed fields, shared by the XML and the JSON Feed parsers. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from urllib.parse import urldefrag, urljoin

from bot.core.model import Entry, ParsedFeed
from bot.core.text import html_to_text

MAX_TITLE = 1_000
MAX_TEXT = 100_000  # summary and content
MAX_AUTHOR = 500
MAX_URL = 4_096
MAX_TAGS = 50
MAX_TAG = 200
# Items taken from one body. Real feeds list 10-100; one hostile 4.5 MB JSON Feed of 330,000
# tiny items held the event loop 2 s and wrote 178 MiB to the database per poll.
MAX_ITEMS = 500


def one_line(markup: str, limit: int) -> str:
    """Visible text of an HTML fragment on one line, at most ``limit`` characters.

    The input is cut first (to 20× the limit) so that no text helper ever sees megabytes.
    """
    return cap(" ".join(html_to_text(markup[: limit * 20]).split()), limit)


def cap(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters."""
    return text if len(text) <= limit else text[:limit]


def web_url(value: object) -> str | None:
    """``value`` if it is an http(s) URL of sane length, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    ok = url[:8].lower().startswith(("http://", "https://")) and len(url) <= MAX_URL
    return url if ok else None


def newest(dates: Sequence[datetime | None], limit: int = MAX_ITEMS) -> list[int]:
    """Indices of the items to keep, in document order: the ``limit`` newest by date.

    Undated items rank after dated ones, in document order (feeds list newest first), so a
    feed without dates keeps its first ``limit`` items.
    """
    if len(dates) <= limit:
        return list(range(len(dates)))

    def rank(i: int) -> tuple[bool, float, int]:
        date = dates[i]
        return (date is None, -date.timestamp() if date is not None else 0.0, i)

    return sorted(sorted(range(len(dates)), key=rank)[:limit])


def dedupe(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """Drop entries whose key was already seen in this document; the first one wins."""
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.key, entry)
    return tuple(seen.values())


def absolute(base: str, link: object) -> str:
    """``link`` resolved against the feed URL (feedparser got none), capped; "" if unusable."""
    if not isinstance(link, str) or not link.strip():
        return ""
    try:
        resolved = urljoin(base, link.strip()) if base else link.strip()
    except ValueError:
        resolved = link.strip()
    if base and urldefrag(resolved).url == urldefrag(base).url:
        # A fragment-only link ("#item-1") is the feed document itself, not an article; kept,
        # it would post the feed URL (a config feed's API key in its query) to every guild.
        return ""
    return cap(resolved, MAX_URL)


def tags(terms: Iterable[object]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for term in terms:
        text = " ".join(str(term or "").split())
        if text:
            seen.setdefault(cap(text, MAX_TAG))
    return tuple(seen)[:MAX_TAGS]


def _valid_text(text: str) -> str:
    # JSON escapes can smuggle lone surrogates in ("\ud800"); no database can store them.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def scrubbed(feed: ParsedFeed) -> ParsedFeed:
    """The feed with every text field encodable as UTF-8."""
    entries = tuple(replace(
        entry, key=_valid_text(entry.key), title=_valid_text(entry.title),
        link=_valid_text(entry.link), summary=_valid_text(entry.summary),
        content=_valid_text(entry.content), author=_valid_text(entry.author),
        tags=tuple(_valid_text(tag) for tag in entry.tags),
        guid=_valid_text(entry.guid) if entry.guid is not None else None,
        thumbnail=_valid_text(entry.thumbnail) if entry.thumbnail is not None else None,
    ) for entry in feed.entries)
    return replace(feed, title=_valid_text(feed.title), link=_valid_text(feed.link),
                   entries=dedupe(entries), dropped=feed.dropped)
