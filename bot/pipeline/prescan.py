"""Cheap pre-scan: the item keys of an RSS/Atom/RDF body in about a millisecond, no feedparser.

When every key of a fetched body is already stored, the poller can skip the 50-80 ms
feedparser parse. That is only safe if the keys are *exactly* those ``parse_feed`` would
compute, so this scanner mirrors feedparser's strict (expat) path for the few fields that
make a key (guid/id, rdf:about, link) and returns ``None`` whenever the body strays from the
plain shapes it fully understands:

* not well-formed XML, a DOCTYPE, an ``<!ENTITY`` before the root, JSON, unknown roots;
* ``xml:base`` anywhere (feedparser resolves against it, and leaks it to later siblings);
* an item without guid and link (its key hashes feedparser's rendering of the title);
* nested items, ``<source>``/``<image>`` with children, ``<textinput>`` in an item, a
  guid/link with child elements or not at the top level of its item;
* elements inside text constructs (title, description, content, ...) whose names have
  feedparser end-handlers: feedparser would call them and corrupt its state;
* non-ASCII key text (its decoding depends on the HTTP charset this scan may not see).

feedparser's namespace table is read from feedparser itself so the two cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from xml.parsers import expat

import feedparser.mixin

from bot.pipeline.identity import item_key

_NAMESPACES: dict[str, str] = {
    uri.lower(): prefix for uri, prefix in feedparser.mixin._FeedParserMixin.namespaces.items()
}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML = "http://www.w3.org/XML/1998/namespace"
_RSS_VERSION_NS = ("http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/")

# Mapped names (feedparser's "prefix_local") whose handlers touch entry identity or state.
_SENSITIVE = frozenset({"item", "entry", "guid", "id", "link", "source", "image", "textinput",
                        "channel", "feed", "rss"})
# Text constructs: feedparser's push_content/pop_content handlers (checked by test_prescan).
_CONTENTISH = frozenset({
    "abstract", "body", "content", "content_encoded", "copyright", "dc_description",
    "dc_title", "description", "feedburner_browserfriendly", "fullitem", "info",
    "itunes_summary", "media_description", "media_title", "rights", "subtitle", "summary",
    "tagline", "title", "xhtml_body",
})
# Inside a text construct feedparser swallows start tags but still calls *end* handlers;
# any element with one (e.g. a nested </title>) corrupts its state, so such bodies are refused.
_END_HANDLERS = frozenset(
    name[len("_end_"):].lower()
    for name in dir(feedparser.mixin._FeedParserMixin) if name.startswith("_end_"))
_ROOTS = frozenset({"rss", "feed", "rdf_rdf"})
_ITEMS = frozenset({"item", "entry"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SAFE_CHARSETS = frozenset({"", "utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1",
                            "latin1", "windows-1252", "cp1252", "iso-8859-15"})

# feedparser.urls._urifixer, applied by its resolve_uri even without a base URL.
_URIFIXER = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_LINK_REF = re.compile(r"&([A-Za-z0-9_]+);")
_FIRST_ELEMENT = re.compile(rb"<\w")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\"';\s]*)", re.IGNORECASE)


class _Unsure(Exception):
    """The body leaves the shapes this scanner mirrors exactly: fall back to a full parse."""


_UNKNOWN = "\x00unknown"  # a value we could not reproduce; fatal only if the key needs it


@dataclass
class _Item:
    depth: int
    id: str | None = None
    link: str | None = None
    guid_is_link: bool = False


def _canonical_ns(uri: str) -> str:
    """feedparser folds every backend.userland.com/rss namespace into one."""
    lower = uri.lower()
    return "http://backend.userland.com/rss" if "backend.userland.com/rss" in lower else lower


def _ascii_or_unknown(value: str) -> str:
    return value if value.isascii() else _UNKNOWN


def _resolve(value: str) -> str:
    """feedparser's resolve_uri with no base: only the scheme-slash fix-up applies."""
    return _URIFIXER.sub(r"\1\3", value) if ":///" in value else value


class _Scanner:
    def __init__(self) -> None:
        self.stack: list[tuple[str, bool]] = []  # (mapped name, is text construct)
        self.in_content = 0
        self.item: _Item | None = None
        self.leaf_depth: int | None = None  # inside a source/image that must stay childless
        self.text: list[str] | None = None
        self.text_kind = ""
        self.keys: dict[str, None] = {}
        self.nsmap: dict[str | None, str] = {}  # document prefix -> feedparser prefix
        self.in_use: dict[str, str] = {}  # feedparser's namespaces_in_use
        self.rss_ns = False
        self.names: dict[str, str] = {}  # memo for mapped(); reset by namespace declarations

    # -- names ------------------------------------------------------------------------------

    def start_ns(self, prefix: str | None, uri: str | None) -> None:
        """Mirror feedparser's track_namespace."""
        if not uri:
            return
        self.names.clear()
        lower = _canonical_ns(uri)
        uri = "http://backend.userland.com/rss" if "backend.userland.com/rss" in lower else uri
        if lower in _NAMESPACES:
            self.nsmap[prefix] = _NAMESPACES[lower]
            self.in_use[_NAMESPACES[lower]] = uri
        else:
            self.in_use[prefix or ""] = uri
        # feedparser's version (empty = "not a feed") for RDF comes from these declarations.
        self.rss_ns = self.rss_ns or lower == _RSS_VERSION_NS[0] or (
            prefix is None and lower == _RSS_VERSION_NS[1])

    def mapped(self, name: str) -> str:
        """feedparser's handler name for an expat "uri local prefix" name.

        A known namespace gets feedparser's standard prefix; an unknown one the first
        document prefix bound to it, or none (then it reads as a plain RSS element).
        """
        known = self.names.get(name)
        if known is not None:
            return known
        parts = name.split(" ")
        uri, local = (parts[0], parts[1].lower()) if len(parts) > 1 else ("", parts[0].lower())
        lower = _canonical_ns(uri)
        if lower in _NAMESPACES:
            prefix: str | None = _NAMESPACES[lower]
        else:
            prefix = next((p for p, u in self.in_use.items() if p and u == uri), None)
        if prefix:
            prefix = self.nsmap.get(prefix, prefix)
        self.names[name] = mapped = f"{prefix}_{local}" if prefix else local
        return mapped

    def attributes(self, attrs: Mapping[str, str]) -> dict[str, str]:
        """Attributes keyed as feedparser keys them (rel/type values lower-cased)."""
        out: dict[str, str] = {}
        if not attrs:
            return out
        for name, value in attrs.items():
            parts = name.split(" ")
            uri, local = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
            std = _NAMESPACES.get(uri.lower(), "")
            key = f"{std}:{local}".lower() if std else local.lower()
            if key in out:
                raise _Unsure  # two attributes collapse into one key
            out[key] = value.lower() if key in ("rel", "type") else value
        if "xml:base" in out or "base" in out:
            raise _Unsure
        return out

    # -- events -----------------------------------------------------------------------------

    def start(self, name: str, raw_attrs: dict[str, str]) -> None:
        mapped = self.mapped(name)
        attrs = self.attributes(raw_attrs)
        depth = len(self.stack)
        if self.text is not None or self.leaf_depth is not None:
            raise _Unsure  # children inside guid/link/source/image
        if self.in_content and (mapped in _SENSITIVE or mapped in _END_HANDLERS):
            raise _Unsure
        if depth == 0 and (mapped not in _ROOTS or (mapped == "rdf_rdf" and not self.rss_ns)):
            raise _Unsure
        if self.item is not None:
            self.item_child(mapped, attrs, depth - self.item.depth)
        elif mapped in _ITEMS and not self.in_content:
            parent = self.stack[-1][0] if self.stack else ""
            if not (depth == 1 or (depth == 2 and parent == "channel")):
                raise _Unsure
            self.start_item(attrs, depth)
        contentish = mapped in _CONTENTISH
        self.in_content += contentish
        self.stack.append((mapped, contentish))

    def start_item(self, attrs: dict[str, str], depth: int) -> None:
        if set(attrs) - {"rdf:about", "xml:lang"}:
            raise _Unsure  # e.g. feedparser's CDF "href"/"lastmod" item attributes
        self.item = _Item(depth=depth)
        about = attrs.get("rdf:about")
        if about:
            self.item.id = _ascii_or_unknown(about)

    def item_child(self, mapped: str, attrs: dict[str, str], level: int) -> None:
        if self.item is None:
            raise _Unsure
        if level > 1:
            if mapped in _SENSITIVE:
                raise _Unsure
            return
        if mapped in ("guid", "id"):
            if set(attrs) - {"ispermalink", "xml:lang"}:
                raise _Unsure
            self.item.guid_is_link = attrs.get("ispermalink", "true") == "true"
            self.text, self.text_kind = [], "id"
        elif mapped == "link":
            self.link_start(attrs)
        elif mapped in ("source", "image"):
            self.leaf_depth = len(self.stack)
        elif mapped in _SENSITIVE:
            raise _Unsure

    def link_start(self, attrs: dict[str, str]) -> None:
        if self.item is None:
            raise _Unsure
        refs = [attrs[k] for k in ("url", "uri", "href") if k in attrs]
        if not refs:
            self.text, self.text_kind = [], "link"
            return
        if not all(ref.strip() for ref in refs):
            raise _Unsure
        rel = attrs.get("rel", "alternate")
        kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
        kind = {"text": "text/plain", "plain": "text/plain", "html": "text/html",
                "xhtml": "application/xhtml+xml"}.get(kind, kind)
        if rel == "alternate" and kind in _HTML_TYPES:
            self.item.link = _ascii_or_unknown(_resolve(refs[0]))

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def end(self, name: str) -> None:
        _mapped, contentish = self.stack.pop()
        self.in_content -= contentish
        depth = len(self.stack)
        if self.leaf_depth == depth:
            self.leaf_depth = None
        if self.text is not None:
            self.finish_text()
        elif self.item is not None and depth == self.item.depth:
            self.finish_item(self.item)
            self.item = None

    def finish_text(self) -> None:
        if self.item is None or self.text is None:
            raise _Unsure
        value = "".join(self.text).strip()
        self.text = None
        if self.text_kind == "id":
            if value and self.item.guid_is_link:
                value = _resolve(value)
            self.item.id = _ascii_or_unknown(value)
            if self.item.guid_is_link and self.item.link is None:
                self.item.link = self.item.id  # feedparser's guid-as-link (setdefault)
        else:
            value = _resolve(value) if value else value
            value = _LINK_REF.sub(r"&\g<1>", value.replace("&amp;", "&"))
            self.item.link = _ascii_or_unknown(value)

    def finish_item(self, item: _Item) -> None:
        if item.id == _UNKNOWN:
            raise _Unsure
        if item.id and item.id.strip():
            self.keys.setdefault(item_key(item.id, None, None))
            return
        if item.link == _UNKNOWN or not (item.link or "").strip():
            raise _Unsure  # the key would hash the title as feedparser renders it
        self.keys.setdefault(item_key(None, item.link, None))



def _plausible(body: bytes, headers: Mapping[str, str] | None) -> bool:
    start = body[3:4] if body.startswith(b"\xef\xbb\xbf") else body[:1]
    if start != b"<":
        return False
    first = _FIRST_ELEMENT.search(body)
    if _ENTITY.search(body if first is None else body[: first.start()]):
        return False  # parse_feed refuses these
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            match = _CHARSET.search(value)
            if "json" in value.lower() or (match and match.group(1).lower() not in _SAFE_CHARSETS):
                return False
    return True


def prescan_keys(body: bytes, headers: Mapping[str, str] | None = None) -> list[str] | None:
    """The item keys ``parse_feed`` would produce for ``body`` (deduplicated, in order),
    or None whenever that cannot be known for sure without a full parse.

    ``headers`` (the response headers) are optional; given, a charset that is not
    ASCII-compatible makes the scan give up.
    """
    if not _plausible(body, headers):
        return None
    scanner = _Scanner()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.StartNamespaceDeclHandler = scanner.start_ns
    parser.StartElementHandler = scanner.start
    parser.EndElementHandler = scanner.end
    parser.CharacterDataHandler = scanner.chars

    def refuse_doctype(*_args: object) -> None:
        raise _Unsure

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    try:
        parser.Parse(body, True)
    except (_Unsure, expat.ExpatError, ValueError, RecursionError):
        return None
    return list(scanner.keys)
