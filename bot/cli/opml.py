"""Feed lists as OPML 2.0: parse (refusing DTDs before ElementTree sees them), export, import."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from xml.parsers import expat

from pydantic import ValidationError

from bot.config.file import FeedConfig, describe_validation_error
from bot.core.durations import format_feed_interval
from bot.core.errors import ConfigError
from bot.core.quotas import quota_error
from bot.store.base import Store
from bot.store.rows import Subscription


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One outline with an ``xmlUrl``."""

    name: str
    url: str


def parse_opml(data: bytes, source: str = "OPML") -> list[OpmlFeed]:
    """The feeds (outlines with ``xmlUrl``, at any depth) of an OPML document.

    ElementTree expands entities, so a "billion laughs" document would eat the memory: any
    document with a DTD is refused before ElementTree sees it.
    """
    _refuse_dtd(data, source)
    try:
        root = ET.fromstring(data)  # noqa: S314 - DTDs refused above; no entity can expand
    except ET.ParseError as exc:
        raise ConfigError(f"{source}: not well-formed XML: {exc}") from None
    if root.tag != "opml":
        raise ConfigError(f"{source}: not OPML (the root element is <{root.tag}>)")
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            name = " ".join((outline.get("title") or outline.get("text") or "").split())
            feeds.append(OpmlFeed(name or url, url))
    return feeds


def _refuse_dtd(data: bytes, source: str) -> None:
    refusal = f"{source}: refusing a document with a DOCTYPE or ENTITY declaration"
    upper = data.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise ConfigError(refusal)

    # The byte check misses other encodings (UTF-16...): expat, which decodes exactly as
    # ElementTree will, reports the DOCTYPE before it reads any entity, and stops there.
    def refuse(*_args: object) -> None:
        raise ConfigError(refusal)

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ConfigError(f"{source}: not well-formed XML: {exc}") from None


def export_opml(subscriptions: Sequence[Subscription], title: str = "Wirewatch feeds") -> str:
    """An OPML 2.0 document with one outline per feed URL (first name wins)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(time.time(), usegmt=True)
    body = ET.SubElement(root, "body")
    seen: set[str] = set()
    for sub in subscriptions:
        if sub.feed.url in seen:
            continue
        seen.add(sub.feed.url)
        ET.SubElement(body, "outline", type="rss", text=sub.name, title=sub.name,
                      xmlUrl=sub.feed.url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


async def import_feeds(store: Store, feeds: Sequence[OpmlFeed], guild_id: int,
                       interval_s: float, now: float, *,
                       limit: int | None = None) -> tuple[list[str], list[str]]:
    """Subscribe ``guild_id`` to each feed; returns (added names, skipped with reasons).

    A URL the guild already has is skipped; a name already taken gets " (2)", " (3)"...,
    so an import never re-points or takes over an existing subscription. Past ``limit``
    feeds in the guild (the quota), the rest are skipped with the quota's message.
    """
    existing = await store.subscriptions(guild_id)
    urls = {sub.feed.url for sub in existing}
    names = {sub.name.casefold() for sub in existing}
    added: list[str] = []
    skipped: list[str] = []
    for feed in feeds:
        refused = quota_error("feed", len(existing) + len(added), limit) \
            if limit is not None else None
        if refused is not None and feed.url not in urls:
            skipped.append(f"{feed.name}: skipped: {refused}")
            continue
        if feed.url in urls:
            skipped.append(f"{feed.name}: already subscribed ({feed.url})")
            continue
        name = _free_name(feed.name[:90], names)
        try:
            FeedConfig.model_validate({"name": name, "url": feed.url,
                                       "interval": format_feed_interval(interval_s)})
        except ValidationError as exc:
            skipped.append(f"{feed.name}: {describe_validation_error(exc)}")
            continue
        await store.subscribe(guild_id, feed.url, name, interval_s, now)
        urls.add(feed.url)
        names.add(name.casefold())
        added.append(name)
    return added, skipped


def _free_name(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{name} ({number})"
    return candidate
