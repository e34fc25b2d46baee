"""URLs as other people may see them: without credentials or query strings. Pure.

A feed URL can carry an API key in its query string or a password in its userinfo. Every
message a user sees and every log line shows :func:`safe_url` (or only :func:`host_of`);
the full URL is kept only where the bot itself needs it (fetching) and shown in full only
to the guild that added the feed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "…"
# Any http(s) URL inside free text (an error message, a log line).
_URL_IN_TEXT = re.compile(r"\b(https?://[^\s\"'<>]+)", re.IGNORECASE)


def safe_url(url: str) -> str:
    """``url`` without userinfo, with any query string (and fragment) replaced by ``?…``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return _fallback(url)
    if not parts.scheme or host is None:
        return _fallback(url)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    query = REDACTED if parts.query or parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def host_of(url: str) -> str:
    """The host name of ``url`` (what other guilds may see of a config-file feed)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return host or "?"


def redact_urls(text: str, *, host_only: bool = False) -> str:
    """Every http(s) URL inside ``text`` passed through :func:`safe_url` (or cut to its host)."""
    if host_only:
        return _URL_IN_TEXT.sub(lambda found: host_of(found.group(1)), text)
    return _URL_IN_TEXT.sub(lambda found: safe_url(found.group(1)), text)


def _fallback(url: str) -> str:
    # Unparseable: keep what is before any "?" or "@"-credentials, never the rest.
    head = url.split("?", 1)[0].split("#", 1)[0]
    if "@" in head:
        scheme, _, rest = head.rpartition("//")
        head = (scheme + "//" if scheme else "") + rest.rsplit("@", 1)[1]
    return head + (f"?{REDACTED}" if "?" in url or "#" in url else "")
