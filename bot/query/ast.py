"""The syntax tree of a watch query: plain frozen dataclasses, built by ``bot.query.parser``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.query.lang import WordRule

__all__ = [
    "DEFAULT_SCOPE",
    "FIELDS",
    "About",
    "And",
    "Leaf",
    "Near",
    "Node",
    "Not",
    "Or",
    "Regex",
    "Term",
    "abouts",
    "iter_terms",
]

# Every field a query can address, in the order spans are reported. ``body`` is the article
# page's main text (fetched for teaser items, issue 13), after the feed's own text.
FIELDS: tuple[str, ...] = (
    "title", "summary", "content", "body", "author", "tag", "feed", "link",
)  # fmt: skip
DEFAULT_SCOPE: tuple[str, ...] = ("title", "summary", "content", "body")


@dataclass(frozen=True, slots=True)
class Term:
    """A word, prefix or phrase: consecutive words, the last one inflecting (or a prefix).

    ``words`` are casefolded unless ``case_sensitive``. ``gaps[i]`` is the punctuation the
    query itself wrote between ``words[i]`` and ``words[i + 1]`` (``None`` for a space);
    text with exactly that punctuation there also matches. ``last_forms`` are the surface
    forms the last word matches (empty for a prefix).

    For the prefilter, each word has a *probe* (``probes[k]``): a string that names exactly
    the search that finds the word in a document's casefolded text, so two words share a
    probe only when they need the same search. A whole word's probe is its casefolded forms
    joined by ``|`` (``tariff|tariffs``), searched between word boundaries; a prefix word's
    is the casefolded prefix plus ``*`` (``tariff*``), searched at a word start.
    ``searches[k]`` are those whole words (empty for a prefix). ``probe`` is the one the
    prefilter anchors the term on (uncommon and long preferred).

    ``lang`` is the watch's language (``bot.query.lang``) and ``rules[k]`` says which folded
    text words ``words[k]`` matches in it (unused for a prefix and for ``case_sensitive``
    terms, which compare the words as written with the English plural rules).
    """

    words: tuple[str, ...]
    gaps: tuple[str | None, ...]
    prefix: bool
    case_sensitive: bool
    fields: tuple[str, ...]
    label: str
    position: int
    last_forms: frozenset[str]
    probe: str
    probes: tuple[str, ...] = ()
    searches: tuple[frozenset[str], ...] = ()
    lang: str = "en"
    rules: tuple[WordRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Regex:
    """An RE2 pattern searched in each field's normalised text.

    ``key`` is the effective pattern handed to RE2 (``(?i)`` prepended for ``/…/i``);
    ``compiled`` is the compiled ``re2`` object (untyped: the library ships no stubs).
    """

    key: str
    fields: tuple[str, ...]
    label: str
    position: int
    compiled: Any = field(compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Near:
    """Both terms in one field, at most ``distance`` words between them, either order."""

    left: Term
    right: Term
    distance: int
    fields: tuple[str, ...]
    label: str
    position: int


@dataclass(frozen=True, slots=True)
class About:
    """``about:"topic"``: the item's meaning is near the topic's (a sentence-embedding model).

    ``sensitivity`` is ``strict``, ``normal`` or ``broad``; ``level`` is the score threshold on
    the model-independent scale of ``bot.query.semantic`` (0..1, ``normal`` = 0.5). No
    prefilter probe can prove it absent, so a rule that needs it is always verified.
    """

    topic: str
    sensitivity: str
    level: float
    label: str
    position: int


@dataclass(frozen=True, slots=True)
class And:
    """All children match."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not match."""

    child: Node


Leaf = Term | Regex | Near | About
Node = Term | Regex | Near | About | And | Or | Not


def iter_terms(node: Node, negated: bool = False) -> list[tuple[Leaf, bool]]:
    """Every leaf of ``node`` with whether it sits under an odd number of NOTs (iterative)."""
    out: list[tuple[Leaf, bool]] = []
    stack: list[tuple[Node, bool]] = [(node, negated)]
    while stack:
        current, neg = stack.pop()
        if isinstance(current, And | Or):
            stack.extend((child, neg) for child in reversed(current.children))
        elif isinstance(current, Not):
            stack.append((current.child, not neg))
        else:
            out.append((current, neg))
    return out


def abouts(node: Node) -> tuple[About, ...]:
    """The ``about:`` leaves of ``node``, in query order (empty for a keyword-only query)."""
    return tuple(leaf for leaf, _ in iter_terms(node) if isinstance(leaf, About))
