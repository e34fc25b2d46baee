"""Item identity: the stable key that says "this item was seen before".

Real feeds churn: guids switch from http to https, links grow tracking parameters, some
items have no guid at all. The key is therefore

* the guid, with URL-like guids normalised and stripped of their scheme;
* else the normalised link, also without scheme;
* else ``"h:"`` + a hash of title and link.

``prescan`` recomputes keys without feedparser and must agree with this module exactly,
so every rule here is a pure function of its arguments.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

MAX_KEY_CHARS = 512

# Parameters that identify a click, not a document. Matched case-insensitively.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
    "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "vero_id", "rb_clickid", "s_cid", "ncid", "cmpid", "ocid", "at_medium", "at_campaign",
})
TRACKING_PREFIXES = ("utm_",)
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def _without_scheme(url: str) -> str:
    """``https://host/path`` → ``//host/path``, so an http→https switch keeps the key."""
    normal = normalise_link(url)
    scheme, sep, rest = normal.partition("://")
    if sep and scheme in _DEFAULT_PORTS:
        return "//" + rest
    return normal


def _looks_like_web_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def _bounded(key: str) -> str:
    """Keep keys storable: hash the rare ones longer than MAX_KEY_CHARS."""
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "h:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def item_key(guid: str | None, link: str | None, title: str | None) -> str:
    """The stable identity of an item: guid, else normalised link, else a title+link hash."""
    guid_text = (guid or "").strip()
    if guid_text:
        return _bounded(_without_scheme(guid_text) if _looks_like_web_url(guid_text) else guid_text)
    link_text = (link or "").strip()
    if link_text:
        return _bounded(_without_scheme(link_text))
    material = (title or "").strip() + "\n" + link_text
    return "h:" + hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]
