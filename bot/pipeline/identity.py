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

from bot.core.urls import WEB_SCHEMES, normalise_link

MAX_KEY_CHARS = 512


def _without_scheme(url: str) -> str:
    """``https://host/path`` → ``//host/path``, so an http→https switch keeps the key."""
    normal = normalise_link(url)
    scheme, sep, rest = normal.partition("://")
    if sep and scheme in WEB_SCHEMES:
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
