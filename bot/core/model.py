"""Plain data passed between pipeline steps. No I/O, no discord import."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a parsed feed, with text fields already HTML-free where noted.

    ``key`` is the stable identity (guid, else normalised link, else hash of title+link).
    ``summary`` and ``content`` keep their HTML; matching normalises them.
    ``body`` is the article page's main text (plain), when it was fetched (see issue 13).
    """

    key: str
    title: str = ""
    link: str = ""
    summary: str = ""
    content: str = ""
    body: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()
    published: datetime | None = None
    thumbnail: str | None = None
    guid: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """The result of parsing one feed body."""

    title: str
    link: str
    entries: tuple[Entry, ...]
    version: str = ""
    dropped: int = 0  # items left out because the body held more than the parser takes
    ttl_s: float | None = None  # RSS <ttl>: the publisher's "cache me this long"
    hub: str = ""  # a WebSub hub the feed advertises (rel="hub"), and its topic (rel="self")
    self_url: str = ""


@dataclass(frozen=True, slots=True)
class Span:
    """Where a query term matched: field name, character offsets into that field's text."""

    field: str
    start: int
    end: int
    term: str


@dataclass(frozen=True, slots=True)
class Snippet:
    """Neutral snippet text plus the (start, end) ranges to show in bold."""

    text: str
    bold: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """Another outlet that reported the same story: its feed name and link."""

    name: str
    link: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a sender needs to post one alert; turned into an embed by a pure function."""

    watch_name: str
    feed_name: str
    title: str
    link: str
    snippet: Snippet
    matched_terms: tuple[str, ...]
    published: datetime | None = None
    first_seen: datetime | None = None
    thumbnail: str | None = None
    color: int | None = None
    role_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # Issue 14: the other sources of the same story (shown as "Also reported by"), and
    # whether the headline or summary was corrected after the first post.
    also_reported: tuple[Source, ...] = ()
    updated: bool = False
    # Issue 22: the role members get with the Follow button; set at send time (not stored),
    # so an alert pings whoever follows the watch when it goes out.
    follow_role_id: int | None = None
