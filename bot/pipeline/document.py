"""What a query sees of an item: its fields normalised for matching, and as published. Pure.

``document_from_entry`` (a feed item) and ``document_from_mapping`` (``wirewatch match``
input) build a ``Document``: every text field in the matcher's normalisation (NFKC, soft
hyphens and zero-width characters removed) next to the text as the feed wrote it, which
snippets show (issue 19).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.core.model import Entry
from bot.core.text import (
    INVISIBLE,
    finish,
    html_to_published,
    normalize_text,
    published_text,
)
from bot.query.semantic import Meaning

_INVISIBLE = re.compile(f"[{INVISIBLE}]")


@dataclass(frozen=True, slots=True)
class Document:
    """Normalised text per field (title, summary, content, body, author, tag, feed, link).

    ``fields["tag"]`` is the normalised tags joined by ``"\\n"`` (a phrase never spans two
    tags); ``tags`` keeps them as a tuple. ``fields["body"]`` is the article's plain text,
    one paragraph per line (a phrase never spans two paragraphs). ``published`` holds the
    title, summary, content and body as a reader sees them (``bot.core.text``: not NFKC), for
    snippets; ``fields[f] == finish(published[f])``. Build with ``document_from_entry`` or
    ``document_from_mapping`` so all stay consistent.
    """

    fields: Mapping[str, str]
    tags: tuple[str, ...] = ()
    published: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The item's vector and scores for about: terms (bot.pipeline.semantic); None: none.
    meaning: Meaning | None = None


def _document(
    *,
    title: str,
    summary: str,
    content: str,
    body: str,
    author: str,
    tags: Iterable[str],
    feed: str,
    link: str,
) -> Document:
    clean_tags = tuple(t for t in (normalize_text(tag) for tag in tags) if t)
    published = {
        # A title is plain text by now (the parser decoded it once): decoding it again
        # would read "<TSLA.O>" as a tag and hide it from title: queries.
        "title": published_text(title),
        "summary": html_to_published(summary),
        "content": html_to_published(content),
        "body": _plain_paragraphs(body),
    }
    fields = {name: _normal(text) for name, text in published.items()}
    fields.update({
        "author": normalize_text(author),
        "tag": "\n".join(clean_tags),
        "feed": normalize_text(feed),
        "link": normalize_text(link),
    })
    return Document(MappingProxyType(fields), clean_tags, MappingProxyType(published))


def _normal(published: str) -> str:
    """``finish(published)`` for published text, which is collapsed already: when NFKC and
    the invisible characters change nothing (all ASCII text) it is its own normal form."""
    if published.isascii():
        return published
    if unicodedata.is_normalized("NFKC", published) and not _INVISIBLE.search(published):
        return published
    return finish(published)


def _plain_paragraphs(text: str) -> str:
    """Plain text line by line, as published: its line breaks stay, as block breaks."""
    if not text:
        return ""
    lines = (published_text(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def document_from_entry(entry: Entry, feed_name: str) -> Document:
    """The matchable text of a parsed feed entry (HTML stripped, NFKC, whitespace collapsed).

    ``entry.title`` is plain text, as the parser produced it (and as the alert shows it).
    """
    return _document(
        title=entry.title,
        summary=entry.summary,
        content=entry.content,
        body=entry.body,
        author=entry.author,
        tags=entry.tags,
        feed=feed_name,
        link=entry.link,
    )


def document_from_mapping(data: Mapping[str, object]) -> Document:
    """A document from the CLI's JSON item shape: optional string fields and a ``tags`` list.

    ``title`` is plain text, as a parsed feed entry's title (what the alert shows); ``body``
    (the article's main text) is plain text; ``summary`` and ``content`` may carry HTML as in
    feeds.

    Raises ``TypeError`` naming the field when a value has the wrong type (``null`` counts
    as empty).
    """

    def text(name: str) -> str:
        value = data.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise TypeError(f"field {name!r} must be a string")
        return value

    tags = data.get("tags")
    if tags is None:
        tags = []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TypeError("field 'tags' must be a list of strings")
    return _document(
        title=text("title"),
        summary=text("summary"),
        content=text("content"),
        body=text("body"),
        author=text("author"),
        tags=tags,
        feed=text("feed"),
        link=text("link"),
    )
