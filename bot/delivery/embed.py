"""Alert → the JSON body of a Discord create-message / execute-webhook request (pure).

The body always fits Discord's limits (which discord.py does not check; Discord answers 400),
pings nobody but the watch's configured role, and links only http(s) URLs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from bot.core.model import Alert, Snippet, Source
from bot.delivery.markdown import cut_index, escape_markdown, truncate_words

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
NONCE_MAX = 25
URL_MAX = 2048
COLOR_MAX = 0xFFFFFF
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
ALSO_SHOWN = 10  # sources listed by name; the rest are counted ("and N more")
UPDATED_MARK = "Updated: "
ELLIPSIS = "…"
MARKER_LEN = 12
_MARKER = re.compile(rf"(?:^| · )ref ([0-9a-f]{{{MARKER_LEN}}})$")
UNTITLED = "Untitled"
_WEB_SCHEMES = frozenset({"http", "https"})


def alert_to_message(alert: Alert, *, nonce: str | None = None,
                     marker: str | None = None) -> dict[str, object]:
    """Render one alert as a message body with a single embed.

    ``nonce`` (1-25 chars, else ValueError) makes Discord return the existing message when the
    same body is sent again, e.g. after a crash between sending and recording the delivery.
    ``marker`` (see :func:`delivery_marker`) ends the footer as ``ref <marker>``, so the message
    can be recognised in the channel's history, which never returns the nonce.
    """
    if nonce is not None and not 0 < len(nonce) <= NONCE_MAX:
        raise ValueError(f"nonce must be 1 to {NONCE_MAX} characters, got {len(nonce)}")
    title_raw = _one_line(alert.title) or UNTITLED
    if alert.updated:
        title_raw = UPDATED_MARK + title_raw
    title = _fit(lambda n: escape_markdown(truncate_words(title_raw, n)), len(title_raw),
                 TITLE_MAX)
    # Author names and footers show no markdown: escaping them would show the backslashes.
    author = truncate_words(_one_line(alert.feed_name), AUTHOR_MAX)
    suffix = f"ref {marker}" if marker else ""
    footer = " · ".join(part for part in (
        truncate_words(_footer_text(alert), FOOTER_MAX - len(suffix) - 3), suffix) if part)
    also = also_reported_field(alert.also_reported)
    also_size = len(also[0]) + len(also[1]) if also else 0
    room = min(DESCRIPTION_MAX,
               EMBED_TOTAL_MAX - len(title) - len(author) - len(footer) - also_size)
    description = render_snippet(alert.snippet, room)

    embed: dict[str, object] = {"title": title, "color": _color(alert)}
    link = web_url(alert.link)
    if link is not None:
        embed["url"] = link
    if description:
        embed["description"] = description
    if also:
        embed["fields"] = [{"name": also[0], "value": also[1], "inline": False}]
    if author:
        embed["author"] = {"name": author}
    if footer:
        embed["footer"] = {"text": footer}
    stamp = alert.published or alert.first_seen
    if stamp is not None:
        # A naive datetime is taken as UTC, the pipeline's convention.
        aware = stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
        embed["timestamp"] = aware.astimezone(UTC).isoformat()
    thumbnail = web_url(alert.thumbnail)
    if thumbnail is not None:
        embed["thumbnail"] = {"url": thumbnail}

    message: dict[str, object] = {"embeds": [embed], "allowed_mentions": _allowed(alert)}
    if pinged_roles(alert):
        message["content"] = " ".join(f"<@&{role}>" for role in pinged_roles(alert))
    if nonce is not None:
        message["nonce"] = nonce
        message["enforce_nonce"] = True
    return message


def also_reported_field(sources: tuple[Source, ...]) -> tuple[str, str] | None:
    """(name, value) of the "Also reported by (N)" field: 10 sources linked, then "and N more".

    Sources are listed in the order given (the order they reported). The value always fits
    Discord's 1,024 characters: sources that do not fit join the "and N more" count.
    """
    if not sources:
        return None
    shown: list[str] = []
    for source in sources[:ALSO_SHOWN]:
        entry = _source_entry(source)
        hidden = len(sources) - len(shown) - 1
        tail = f" and {hidden} more" if hidden else ""
        if len(" · ".join([*shown, entry])) + len(tail) > FIELD_VALUE_MAX:
            break
        shown.append(entry)
    rest = len(sources) - len(shown)
    value = " · ".join(shown) + (f" and {rest} more" if rest else "")
    return f"Also reported by ({len(sources)})", value


def _source_entry(source: Source) -> str:
    """``[Name](link)``; the bare name when the link is unusable or too long to list."""
    name = escape_markdown(truncate_words(_one_line(source.name) or "source", 80))
    link = web_url(source.link)
    if link is None or ")" in link or len(link) > 300:
        return name
    return f"[{name}]({link})"


def delivery_marker(nonce: str) -> str:
    """A short reference derived from a delivery's nonce, unique to that delivery.

    48 bits of a hash: among the 50 messages the history look-up reads, a collision between
    two deliveries has odds of about 1 in 10^11, and a match also needs the same article URL.
    """
    return hashlib.sha256(nonce.encode()).hexdigest()[:MARKER_LEN]


def footer_marker(embed: Mapping[str, Any]) -> str | None:
    """The marker at the end of an embed's footer (as returned by message history), if any."""
    footer = embed.get("footer")
    text = footer.get("text") if isinstance(footer, Mapping) else None
    found = _MARKER.search(text) if isinstance(text, str) else None
    return found.group(1) if found else None


def render_snippet(snippet: Snippet, limit: int) -> str:
    """The snippet as markdown, bold ranges in ``**…**``, escaped, at most ``limit`` chars."""
    bold = _merge_ranges(snippet.bold, len(snippet.text))
    return _fit(lambda n: _render(snippet.text, bold, n), len(snippet.text), limit)


def web_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL Discord accepts, else None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > URL_MAX or any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    return url if parts.scheme.lower() in _WEB_SCHEMES and parts.netloc else None


def stable_color(name: str) -> int:
    """A 24-bit colour derived from ``name``, the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:3], "big")


def _color(alert: Alert) -> int:
    # An out-of-range colour would make Discord refuse the whole alert; fall back instead.
    if alert.color is not None and 0 <= alert.color <= COLOR_MAX:
        return alert.color
    return stable_color(alert.watch_name)


def pinged_roles(alert: Alert) -> list[int]:
    """The roles an alert pings: the watch's role, then its followers' role (issue 22)."""
    return list(dict.fromkeys(role for role in (alert.role_id, alert.follow_role_id)
                              if role is not None))


def _allowed(alert: Alert) -> dict[str, object]:
    allowed: dict[str, object] = {"parse": []}
    if pinged_roles(alert):
        allowed["roles"] = [str(role) for role in pinged_roles(alert)]
    return allowed


def _footer_text(alert: Alert) -> str:
    watch = _one_line(alert.watch_name)
    terms = ", ".join(_one_line(t) for t in alert.matched_terms if t.strip())
    return f"{watch} · {terms}" if terms else watch


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fit(render: Callable[[int], str], size: int, limit: int) -> str:
    """``render(n)`` for the largest raw length ``n`` ≤ ``size`` whose result fits ``limit``.

    Escaping happens after cutting the raw text, so a cut never splits an escape or a ``**``;
    binary search keeps it O(n log n) however many characters need escaping.
    """
    full = render(size)
    if len(full) <= limit:
        return full
    fits, too_long = 0, size  # render(0) is "", which always fits
    while too_long - fits > 1:
        mid = (fits + too_long) // 2
        if len(render(mid)) <= limit:
            fits = mid
        else:
            too_long = mid
    return render(fits)


def _merge_ranges(ranges: tuple[tuple[int, int], ...], size: int) -> list[tuple[int, int]]:
    """Clip to the text, drop empty ranges, merge overlapping or touching ones.

    Touching ranges must merge: ``**a****b**`` does not render as two bold words.
    """
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(0, s), min(size, e)) for s, e in ranges):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _render(text: str, bold: list[tuple[int, int]], limit: int) -> str:
    """Cut ``text`` to ``limit`` raw chars on a word boundary, then escape and embolden."""
    if len(text) <= limit:
        cut, tail = len(text), ""
    elif limit < len(ELLIPSIS):
        cut, tail = max(0, limit), ""
    else:
        cut, tail = cut_index(text, limit, ELLIPSIS), ELLIPSIS
    parts: list[str] = []
    pos = 0
    for start, end in bold:
        if start >= cut:
            break
        end = min(end, cut)
        parts.append(escape_markdown(text[pos:start]))
        parts.append(f"**{escape_markdown(text[start:end])}**")
        pos = end
    parts.append(escape_markdown(text[pos:cut]))
    return "".join(parts) + tail
