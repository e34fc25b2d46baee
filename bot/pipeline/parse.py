"""Parse step: bytes + response headers → ParsedFeed. Pure: no I/O, no clock.

feedparser reads a ``BytesIO`` (given a string it would open files and URLs), after we refuse
what it cannot survive:

* an ``<!ENTITY`` declared in the prolog: feedparser's loose parser expands entities without
  limit (a 26 KB body became a 40 MB string; 260 KB took 121 s and 11.5 GB);
* anything that is not a feed (empty body, HTML page, sitemap): feedparser calls those a
  success with an empty ``version``.

JSON Feed is parsed here with ``json``; feedparser 6.0 does not know it. Text fields are
capped, at most ``MAX_ITEMS`` items are taken from one body (the newest by date, else the first),
and every failure surfaces as ``ParseError``. CPU and memory limits are enforced one
level up, by ``bot.pipeline.isolation``.
"""

from __future__ import annotations

import functools
import io
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser
import feedparser.mixin

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
    one_line,
    scrubbed,
    tags,
    web_url,
)
from bot.pipeline.identity import item_key
from bot.pipeline.jsonfeed import looks_like_json, parse_json

log = logging.getLogger(__name__)

# feedparser's author e-mail regex is quadratic (issue #562): 32 KB of "a." cost 3.5-7.8 s.
# On 1,000 characters it costs about a millisecond, and no real author line is longer.
MAX_AUTHOR_FOR_REGEX = 1_000

_FIRST_ELEMENT = re.compile(rb"<\w")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_PAGE = re.compile(rb"<(?:!doctype\s+html|html[\s>])", re.IGNORECASE)
_SITEMAP = re.compile(rb"<(?:\w+:)?(?:urlset|sitemapindex)[\s>]", re.IGNORECASE)
_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")


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
    resolved = (web_url(absolute(base, url)) for url in candidates)
    return next((url for url in resolved if url), None)


def _plain(value: object, limit: int) -> str:
    """Text that should be plain but is sometimes HTML in the wild (authors, tags)."""
    return one_line(value if isinstance(value, str) else "", limit)




def _entry(raw: Mapping[str, Any], base: str) -> Entry:
    guid = raw.get("id") if isinstance(raw.get("id"), str) else None
    link = raw.get("link") if isinstance(raw.get("link"), str) else ""
    title = _text(raw.get("title_detail"), raw.get("title"), MAX_TITLE)
    content = raw.get("content") or [{}]
    return Entry(
        key=item_key(guid, link, title),
        title=title,
        link=absolute(base, link),
        summary=cap(str(raw.get("summary") or ""), MAX_TEXT),
        content=cap(str(content[0].get("value") or ""), MAX_TEXT),
        author=_plain(raw.get("author"), MAX_AUTHOR),
        tags=tags(tag.get("term") or tag.get("label") for tag in raw.get("tags") or []),
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
    raws = result.get("entries", [])
    keep = newest([_published(raw) for raw in raws])
    return ParsedFeed(
        title=_text(feed.get("title_detail"), feed.get("title"), MAX_TITLE),
        link=absolute(url, feed.get("link")),
        entries=dedupe(_entry(raws[i], url) for i in keep),
        version=str(result["version"]),
        dropped=len(raws) - len(keep),
        ttl_s=_ttl(feed.get("ttl")),
        hub=_link(feed, "hub", url),
        self_url=_link(feed, "self", url),
    )


MAX_TTL_S = 7 * 86400.0


def _ttl(value: object) -> float | None:
    """RSS ``<ttl>`` (minutes) in seconds; None when absent or not a sane number."""
    try:
        minutes = float(str(value).strip())
    except ValueError:
        return None
    return min(minutes * 60, MAX_TTL_S) if minutes > 0 else None


def _link(feed: Mapping[str, Any], rel: str, url: str) -> str:
    """The first ``<link rel=…>`` (Atom, or atom:link inside RSS) of the feed, absolute."""
    for link in feed.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel") == rel and link.get("href"):
            return cap(absolute(url, str(link["href"])), MAX_URL)
    return ""


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
    if looks_like_json(body, content_type):
        return scrubbed(_guarded(lambda: parse_json(body, url)))
    return scrubbed(_guarded(lambda: _parse_xml(body, headers, url)))
