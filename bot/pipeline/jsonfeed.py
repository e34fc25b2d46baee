"""JSON Feed (jsonfeed.org 1.0 / 1.1), parsed with ``json``: feedparser 6.0 does not know it."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.core.errors import ParseError
from bot.core.model import Entry, ParsedFeed
from bot.pipeline.fields import (
    MAX_AUTHOR,
    MAX_TEXT,
    MAX_TITLE,
    MAX_URL,
    absolute,
    cap,
    dedupe,
    newest,
    tags,
    web_url,
)
from bot.pipeline.identity import item_key

_JSONFEED_PREFIX = "https://jsonfeed.org/version/"

def looks_like_json(body: bytes, content_type: str) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"<":
        return False  # mislabelled XML is common; the body decides
    kind = content_type.split(";", 1)[0].strip().lower()
    return start == b"{" or kind in ("application/json", "application/feed+json")


def _s(value: object) -> str:
    """A JSON scalar as text (ids are sometimes numbers); anything else as ""."""
    if isinstance(value, str):
        return value.strip()
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _iso_date(value: object) -> datetime | None:
    """The date as aware UTC; None when absent or unusable.

    ``0001-01-01T00:00:00+01:00`` parses but lies before year 1 in UTC (OverflowError):
    that one item's date is unknown, the feed is still read.
    """
    try:
        parsed = datetime.fromisoformat(_s(value))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _item_date(item: Mapping[str, Any]) -> datetime | None:
    return _iso_date(item.get("date_published")) or _iso_date(item.get("date_modified"))


def _json_author(*holders: Mapping[str, Any]) -> str:
    for holder in holders:
        for author in [holder.get("author"), *_list(holder.get("authors"))[:1]]:
            if isinstance(author, dict) and _s(author.get("name")):
                return cap(" ".join(_s(author["name"]).split()), MAX_AUTHOR)
    return ""


def _json_entry(item: Mapping[str, Any], feed: Mapping[str, Any], base: str) -> Entry:
    guid = _s(item.get("id")) or None
    link = _s(item.get("url")) or _s(item.get("external_url"))
    title = cap(" ".join(_s(item.get("title")).split()), MAX_TITLE)
    content = _s(item.get("content_html")) or html.escape(_s(item.get("content_text")))
    images = [item.get("image"), item.get("banner_image")]
    images += [a.get("url") for a in _list(item.get("attachments"))
               if isinstance(a, dict) and _s(a.get("mime_type")).startswith("image/")]
    return Entry(
        key=item_key(guid, link, title),
        title=title,
        link=absolute(base, link),
        summary=cap(html.escape(_s(item.get("summary"))), MAX_TEXT),
        content=cap(content, MAX_TEXT),
        author=_json_author(item, feed),
        tags=tags(t for t in _list(item.get("tags")) if isinstance(t, str)),
        published=_item_date(item),
        thumbnail=next((u for u in (web_url(absolute(base, i)) for i in images) if u), None),
        guid=cap(guid, MAX_URL) if guid else None,
    )


def parse_json(body: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise ParseError(f"invalid JSON Feed: {exc}") from exc
    version = _s(doc.get("version")) if isinstance(doc, dict) else ""
    if not version.startswith(_JSONFEED_PREFIX):
        raise ParseError("not a feed: a JSON document without a JSON Feed version")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("invalid JSON Feed: 'items' is not a list")
    items = [i for i in items if isinstance(i, dict)]
    # Dates are cheap next to building entries: choose the items first, then build those.
    keep = newest([_item_date(i) for i in items])
    return ParsedFeed(
        title=cap(" ".join(_s(doc.get("title")).split()), MAX_TITLE),
        link=absolute(url, _s(doc.get("home_page_url"))),
        entries=dedupe(_json_entry(items[i], doc, url) for i in keep),
        version="json" + version[len(_JSONFEED_PREFIX):].replace(".", ""),
        dropped=len(items) - len(keep),
        hub=_websub_hub(doc, url),
        self_url=absolute(url, _s(doc.get("feed_url"))) if _s(doc.get("feed_url")) else "",
    )


def _websub_hub(doc: dict[str, Any], url: str) -> str:
    """The first hub of type WebSub in ``hubs`` (JSON Feed 1.1), absolute; else ""."""
    hubs = doc.get("hubs")
    for hub in hubs if isinstance(hubs, list) else ():
        if isinstance(hub, dict) and _s(hub.get("type")).lower() == "websub" and _s(hub.get("url")):
            return absolute(url, _s(hub.get("url")))
    return ""
