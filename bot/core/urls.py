"""URLs as other people may see them, and as the bot compares them. Pure.

``normalise_link`` is the canonical form of a link (tracking parameters stripped): item
identity, story grouping and ``/why`` compare links in that form.

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


# Parameters that identify a click, not a document. Matched case-insensitively.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
    "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "vero_id", "rb_clickid", "s_cid", "ncid", "cmpid", "ocid", "at_medium", "at_campaign",
})
TRACKING_PREFIXES = ("utm_",)
_DEFAULT_PORTS = {"http": 80, "https": 443}
WEB_SCHEMES = frozenset(_DEFAULT_PORTS)


def _is_tracking(pair: str) -> bool:
    name = pair.split("=", 1)[0].lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def normalise_link(url: str) -> str:
    """Canonical form of an http(s) URL for comparison; other strings come back stripped.

    Lower-cases scheme and host, drops the fragment, default ports, user info and tracking
    parameters, and gives an empty path as ``/``. The remaining query keeps its order and
    its exact encoding, because servers may treat ``a=1&b=2`` and ``b=2&a=1`` differently.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return text
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((scheme, host, parts.path or "/", query, ""))
