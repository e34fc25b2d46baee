"""Parse step: bytes + response headers → ParsedFeed. Pure: no I/O, no clock.

feedparser reads a ``BytesIO`` (given a string it would open files and URLs), after we refuse
what it cannot survive:

* an ``<!ENTITY`` declared in the prolog: feedparser's loose parser expands entities without
  limit (a 26 KB body became a 40 MB string; 260 KB took 121 s and 11.5 GB);
* anything that is not a feed (empty body, HTML page, sitemap): feedparser calls those a
  success with an empty ``version``.

JSON Feed is parsed here with ``json``; feedparser 6.0 does not know it. Text fields are
capped, and every failure surfaces as ``ParseError``. CPU and memory limits are enforced one
level up, by ``bot.pipeline.isolation``.
"""

from __future__ import annotations

import functools
import html
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.mixin

from bot.errors import ParseError
from bot.model import Entry, ParsedFeed
from bot.pipeline.identity import item_key
from bot.text import html_to_text

log = logging.getLogger(__name__)

MAX_TITLE = 1_000
MAX_TEXT = 100_000  # summary and content
MAX_AUTHOR = 500
MAX_URL = 4_096
MAX_TAGS = 50
MAX_TAG = 200
# feedparser's author e-mail regex is quadratic (issue #562): 32 KB of "a." cost 3.5-7.8 s.
# On 1,000 characters it costs about a millisecond, and no real author line is longer.
MAX_AUTHOR_FOR_REGEX = 1_000

_FIRST_ELEMENT = re.compile(rb"<\w")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_PAGE = re.compile(rb"<(?:!doctype\s+html|html[\s>])", re.IGNORECASE)
_SITEMAP = re.compile(rb"<(?:\w+:)?(?:urlset|sitemapindex)[\s>]", re.IGNORECASE)
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
_JSONFEED_PREFIX = "https://jsonfeed.org/version/"


def _cap_author_before_email_regex() -> None:
    """Wrap feedparser's author sync so its e-mail regex never sees a long string.

    Patching feedparser is a last resort; the alternative was burning seconds of CPU per
    hostile poll until the isolation timeout. test_parse checks the wrap still takes effect.
    """
    mixin = getattr(feedparser.mixin, "_FeedParserMixin", None)
    original = getattr(mixin, "_sync_author_detail", None)
    if original is None or hasattr(original, "__wrapped__"):
        if original is None:
            log.warning("feedparser internals changed; author ReDoS guard not installed")
        return

    @functools.wraps(original)
    def capped(self: Any, key: str = "author") -> Any:
        context = self._get_context()
        value = context.get(key)
        if isinstance(value, str) and len(value) > MAX_AUTHOR_FOR_REGEX:
            context[key] = value[:MAX_AUTHOR_FOR_REGEX]
        return original(self, key)

    mixin._sync_author_detail = capped  # type: ignore[union-attr]


_cap_author_before_email_regex()


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


def dedupe(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """Drop entries whose key was already seen in this document; the first one wins."""
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.key, entry)
    return tuple(seen.values())


# --- XML feeds (feedparser) ----------------------------------------------------------------


def declares_entity(body: bytes, headers: Mapping[str, str]) -> bool:
    """True when the prolog declares an entity, judged on the bytes feedparser will see.

    feedparser first re-encodes the body to UTF-8 (honouring BOMs, the HTTP charset and the
    XML declaration), then reads declarations before the first element. Doing the same
    conversion here means a UTF-16 or EBCDIC body cannot hide its declarations.
    """
    try:
        data = feedparser.encodings.convert_to_utf8(_feedparser_headers(headers), body, {})
    except Exception:  # internal API: if it moved, search every encoding, whole body
        log.warning("feedparser.encodings.convert_to_utf8 failed; scanning the raw body")
        codecs = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037")
        return any("<!ENTITY".encode(codec) in body for codec in codecs)
    first = _FIRST_ELEMENT.search(data)
    return _ENTITY.search(data if first is None else data[: first.start()]) is not None


def _feedparser_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased headers for feedparser: only those that change how it reads the body.

    Without a Content-Type feedparser assumes ISO-8859-1 and garbles UTF-8: default to XML.
    No base URL (Content-Location) is given on purpose: feedparser would resolve relative
    guids against it, making item keys depend on where the feed was fetched from (and
    prescan would need the URL). Links are resolved by ``_absolute`` instead.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    out = {"content-type": lower.get("content-type") or "application/xml"}
    if "content-language" in lower:
        out["content-language"] = lower["content-language"]
    return out


def _absolute(base: str, link: object) -> str:
    """``link`` resolved against the feed URL (feedparser got none), capped; "" if unusable."""
    if not isinstance(link, str) or not link.strip():
        return ""
    try:
        resolved = urljoin(base, link.strip()) if base else link.strip()
    except ValueError:
        resolved = link.strip()
    return cap(resolved, MAX_URL)


def _not_a_feed(body: bytes, result: Mapping[str, Any]) -> ParseError:
    head = body[:4096]
    if _HTML_PAGE.search(head):
        return ParseError("not a feed: the server sent an HTML page")
    if _SITEMAP.search(head):
        return ParseError("not a feed: the document is a sitemap")
    detail = f" ({result.get('bozo_exception')})" if result.get("bozo") else ""
    return ParseError(f"not a feed: no RSS, Atom, RDF or JSON Feed document found{detail}")


def _text(detail: Mapping[str, Any] | None, value: object, limit: int) -> str:
    """Plain text of a feedparser text construct; markup is stripped only when it is HTML."""
    if not isinstance(value, str):
        return ""
    kind = str((detail or {}).get("type", "")).lower()
    return one_line(value, limit) if kind in _HTML_TYPES else cap(" ".join(value.split()), limit)


def _published(entry: Mapping[str, Any]) -> datetime | None:
    """The item date as aware UTC (feedparser's tuples are UTC); None if absent or absurd."""
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: FeedParserDict.get maps updated→published with a DeprecationWarning.
        value = dict.get(entry, name) if isinstance(entry, dict) else entry.get(name)
        if value:
            try:
                year, month, day, hour, minute, second = value[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def _thumbnail(entry: Mapping[str, Any], base: str) -> str | None:
    """First http(s) image of media:thumbnail, media:content images, image enclosures."""
    candidates = [m.get("url") for m in entry.get("media_thumbnail") or []]
    candidates += [m.get("url") for m in entry.get("media_content") or []
                   if "image" in f"{m.get('type', '')} {m.get('medium', '')}"]
    candidates += [link.get("href") for link in entry.get("links") or []
                   if link.get("rel") == "enclosure"
                   and str(link.get("type", "")).startswith("image/")]
    absolute = (web_url(_absolute(base, url)) for url in candidates)
    return next((url for url in absolute if url), None)


def _plain(value: object, limit: int) -> str:
    """Text that should be plain but is sometimes HTML in the wild (authors, tags)."""
    return one_line(value if isinstance(value, str) else "", limit)


def _tags(terms: Iterable[object]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for term in terms:
        text = " ".join(str(term or "").split())
        if text:
            seen.setdefault(cap(text, MAX_TAG))
    return tuple(seen)[:MAX_TAGS]


def _entry(raw: Mapping[str, Any], base: str) -> Entry:
    guid = raw.get("id") if isinstance(raw.get("id"), str) else None
    link = raw.get("link") if isinstance(raw.get("link"), str) else ""
    title = _text(raw.get("title_detail"), raw.get("title"), MAX_TITLE)
    content = raw.get("content") or [{}]
    return Entry(
        key=item_key(guid, link, title),
        title=title,
        link=_absolute(base, link),
        summary=cap(str(raw.get("summary") or ""), MAX_TEXT),
        content=cap(str(content[0].get("value") or ""), MAX_TEXT),
        author=_plain(raw.get("author"), MAX_AUTHOR),
        tags=_tags(tag.get("term") or tag.get("label") for tag in raw.get("tags") or []),
        published=_published(raw),
        thumbnail=_thumbnail(raw, base),
        guid=cap(guid.strip(), MAX_URL) if guid and guid.strip() else None,
    )


def _parse_xml(body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    if declares_entity(body, headers):
        raise ParseError("refused: the document declares XML entities (<!ENTITY), "
                         "which can expand without limit")
    result = feedparser.parse(io.BytesIO(body), response_headers=_feedparser_headers(headers),
                              sanitize_html=True, resolve_relative_uris=True)
    if not result.get("version"):
        raise _not_a_feed(body, result)
    feed = result.get("feed", {})
    return ParsedFeed(
        title=_text(feed.get("title_detail"), feed.get("title"), MAX_TITLE),
        link=_absolute(url, feed.get("link")),
        entries=dedupe(_entry(raw, url) for raw in result.get("entries", [])),
        version=str(result["version"]),
    )


# --- JSON Feed -----------------------------------------------------------------------------


def _looks_like_json(body: bytes, content_type: str) -> bool:
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
    try:
        parsed = datetime.fromisoformat(_s(value))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


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
        link=_absolute(base, link),
        summary=cap(html.escape(_s(item.get("summary"))), MAX_TEXT),
        content=cap(content, MAX_TEXT),
        author=_json_author(item, feed),
        tags=_tags(t for t in _list(item.get("tags")) if isinstance(t, str)),
        published=_iso_date(item.get("date_published")) or _iso_date(item.get("date_modified")),
        thumbnail=next((u for u in (web_url(_absolute(base, i)) for i in images) if u), None),
        guid=cap(guid, MAX_URL) if guid else None,
    )


def _parse_json(body: bytes, url: str) -> ParsedFeed:
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
    return ParsedFeed(
        title=cap(" ".join(_s(doc.get("title")).split()), MAX_TITLE),
        link=_absolute(url, _s(doc.get("home_page_url"))),
        entries=dedupe(_json_entry(i, doc, url) for i in items if isinstance(i, dict)),
        version="json" + version[len(_JSONFEED_PREFIX):].replace(".", ""),
    )


# --- entry point ---------------------------------------------------------------------------


class ParserCrashed(ParseError):
    """feedparser (or our code) failed in an unexpected way; the process may be unhealthy."""


def _guarded(step: Callable[[], ParsedFeed]) -> ParsedFeed:
    """Run a parse so that only ParseError (or MemoryError, for the isolation layer) escapes."""
    try:
        return step()
    except (ParseError, MemoryError):
        raise
    except RecursionError as exc:
        raise ParseError("not a feed: nested too deeply to parse") from exc
    except Exception as exc:
        log.exception("feed parser crashed")
        raise ParserCrashed(f"parser crashed: {type(exc).__name__}: {exc}") from exc


def parse_feed(body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Parse one feed body (RSS, Atom, RDF or JSON Feed); raise ParseError if it is unusable."""
    if not body.strip():
        raise ParseError(f"empty body ({len(body)} bytes): nothing to parse")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if _looks_like_json(body, content_type):
        return _scrubbed(_guarded(lambda: _parse_json(body, url)))
    return _scrubbed(_guarded(lambda: _parse_xml(body, headers, url)))


def _valid_text(text: str) -> str:
    # JSON escapes can smuggle lone surrogates in ("\ud800"); no database can store them.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _scrubbed(feed: ParsedFeed) -> ParsedFeed:
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
                   entries=dedupe(entries))
