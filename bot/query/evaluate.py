"""Evaluate a query tree against one document's normalised fields (the production path).

A ``DocView`` indexes each field on first use (its set of words; positions when needed), so
a term is a handful of lookups of its surface forms (``bot.query.words.forms``) rather than a
scan of the text, and stemming happens once per query, never per document word. When
a prefilter has already searched the document (``bot.query.fast``), the view carries the
probes it searched and found and the regexes that may match; a term with a probe searched
and not found is known absent without touching the text. ``bot.query.reference`` is the
slow, independent implementation the tests and the benchmark compare this with.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping

from bot.core.model import Span
from bot.query.ast import FIELDS, About, And, Leaf, Near, Node, Not, Or, Regex, Term, iter_terms
from bot.query.fold import fold
from bot.query.lang import WordRule
from bot.query.semantic import Meaning
from bot.query.words import gap_allows, word_list, word_offsets

__all__ = ["MAX_SPANS_PER_LEAF", "DocView", "FieldIndex", "collect", "evaluate", "find_term"]

MAX_SPANS_PER_LEAF = 50
RegexHits = Mapping[str, frozenset[str]]


class FieldIndex:
    """The words of one field, built in C where possible; offsets and positions on demand.

    Deciding whether a one-word term occurs needs only the set of casefolded words; phrases,
    NEAR and spans need positions and offsets, which are computed the first time they are
    asked for.
    """

    __slots__ = ("_by_folded", "_by_word", "_offsets", "folded", "folded_set", "text", "words")

    def __init__(self, text: str) -> None:
        self.text = text
        self.words = word_list(text)
        # fold works character by character, so one call over the joined words equals
        # folding each word ("\x00" is never part of a word nor produced by fold).
        self.folded = fold("\x00".join(self.words)).split("\x00") if self.words else []
        self.folded_set = frozenset(self.folded)
        self._offsets: tuple[list[int], list[int]] | None = None
        self._by_folded: dict[str, list[int]] | None = None
        self._by_word: dict[str, list[int]] | None = None

    @property
    def starts(self) -> list[int]:
        """Start offset of each word."""
        return self._spans()[0]

    @property
    def ends(self) -> list[int]:
        """End offset of each word (after a possessive ``'s``)."""
        return self._spans()[1]

    def _spans(self) -> tuple[list[int], list[int]]:
        if self._offsets is None:
            self._offsets = word_offsets(self.text)
        return self._offsets

    def positions(self, case_sensitive: bool) -> dict[str, list[int]]:
        """Word → positions, casefolded or case-preserving (each built once)."""
        if case_sensitive:
            if self._by_word is None:
                self._by_word = _positions(self.words)
            return self._by_word
        if self._by_folded is None:
            self._by_folded = _positions(self.folded)
        return self._by_folded


def _positions(words: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        out.setdefault(word, []).append(i)
    return out


class DocView:
    """Lazily indexed fields of one document plus what a prefilter already knows."""

    __slots__ = ("_indexes", "fields", "found", "known", "meaning", "regex_hits")

    def __init__(
        self,
        fields: Mapping[str, str],
        known: frozenset[str] = frozenset(),
        found: frozenset[str] = frozenset(),
        regex_hits: RegexHits | None = None,
        meaning: Meaning | None = None,
    ) -> None:
        self.fields = fields
        # The item's vector and scores (``about:``); None: not embedded, so no about: matches.
        self.meaning = meaning
        self.known = known  # probes a prefilter searched for ...
        self.found = found  # ... and those it found
        self.regex_hits = regex_hits  # field -> keys of the regexes that match in it
        self._indexes: dict[str, FieldIndex] = {}

    def index(self, field: str) -> FieldIndex:
        """The word index of ``field`` (built once per view)."""
        index = self._indexes.get(field)
        if index is None:
            index = self._indexes[field] = FieldIndex(self.fields.get(field, ""))
        return index


def find_term(term: Term, index: FieldIndex) -> list[tuple[int, int]]:
    """(first word, last word) positions of every occurrence of ``term`` in one field."""
    if not term.case_sensitive and _missing_word(term, index.folded_set):
        return []
    words = index.words if term.case_sensitive else index.folded
    lookup = index.positions(term.case_sensitive)
    last = term.words[-1]
    if term.prefix:
        hits = [i for word, pos in lookup.items() if word.startswith(last) for i in pos]
    elif term.case_sensitive:
        hits = [i for form in term.last_forms for i in lookup.get(form, ())]
    else:
        hits = _hits(term.rules[-1], index, lookup)
    if len(term.words) == 1:
        return [(i, i) for i in sorted(hits)]
    out: list[tuple[int, int]] = []
    span = len(term.words) - 1
    for end in sorted(hits):
        first = end - span
        if first >= 0 and _phrase_at(term, index, words, first):
            out.append((first, end))
    return out


def _hits(rule: WordRule, index: FieldIndex, lookup: dict[str, list[int]]) -> list[int]:
    """Positions of the folded words ``rule`` accepts (stems checked on the words as written)."""
    hits = [i for form in rule.forms for i in lookup.get(form, ())]
    if rule.stem:
        raw = index.words
        hits += [
            i
            for word, pos in lookup.items()
            if word not in rule.forms and word.startswith(rule.anchor)
            for i in pos
            if rule.accepts(word, raw[i])
        ]
    return hits


def _missing_word(term: Term, present: frozenset[str]) -> bool:
    """The common case, decided without positions: some word of the term is not there."""
    last = len(term.words) - 1
    for k, rule in enumerate(term.rules):
        if k == last and term.prefix:
            word = term.words[-1]
            if not any(w.startswith(word) for w in present):
                return True
        elif rule.stem:
            if rule.forms.isdisjoint(present) and not any(
                w.startswith(rule.anchor) for w in present
            ):
                return True
        elif rule.forms.isdisjoint(present):
            return True
    return False


def _phrase_at(term: Term, index: FieldIndex, words: list[str], first: int) -> bool:
    """Whether the phrase's leading words and the gaps between them match at ``first``."""
    text, starts, ends = index.text, index.starts, index.ends
    for k, expected in enumerate(term.words[:-1]):
        i = first + k
        if term.case_sensitive:
            if words[i] != expected:
                return False
        elif not term.rules[k].accepts(words[i], index.words[i]):
            return False
        gap = text[ends[i] : starts[i + 1]]
        if not gap_allows(gap, index.words[i], term.gaps[k]):
            return False
    return True


def near_hits(
    node: Near, index: FieldIndex, first_only: bool = False
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Occurrences of the left and of the right operand that have a partner within reach.

    Two occurrences are within reach when at most ``distance`` words lie between them (or
    they overlap). Each occurrence looks up its nearest partners by binary search, so the
    cost is O((L + R) log R), not L × R: one summary of 98,000 characters that repeats both
    words took 10 s with the pairwise loop. ``first_only`` stops at the first left hit.
    """
    lefts = find_term(node.left, index)
    rights = find_term(node.right, index) if lefts else []
    if not rights:
        return [], []
    good_lefts = _within_reach(lefts, rights, node.distance, first_only)
    if first_only or not good_lefts:
        return good_lefts, []
    return good_lefts, _within_reach(rights, lefts, node.distance, False)


def _within_reach(
    occurrences: list[tuple[int, int]],
    partners: list[tuple[int, int]],
    distance: int,
    first_only: bool,
) -> list[tuple[int, int]]:
    """The ``occurrences`` that have a partner with at most ``distance`` words between them.

    ``partners`` are sorted by first word. A partner (p0, p1) is in reach of (a0, a1) when
    p0 <= a1 + distance + 1 and p1 >= a0 - distance - 1. Among the partners that start early
    enough (a prefix of the list), the one reaching furthest right decides.
    """
    starts = [p0 for p0, _ in partners]
    furthest: list[int] = []  # furthest[i]: the largest p1 among partners[: i + 1]
    reach = -1
    for _, p1 in partners:
        reach = max(reach, p1)
        furthest.append(reach)
    out = []
    for a0, a1 in occurrences:
        i = bisect_right(starts, a1 + distance + 1) - 1
        if i >= 0 and furthest[i] >= a0 - distance - 1:
            out.append((a0, a1))
            if first_only:
                break
    return out


def regex_spans(node: Regex, view: DocView, field: str, limit: int) -> list[tuple[int, int]]:
    """Up to ``limit`` match spans of a regex in ``field`` (per tag for the tag field)."""
    if view.regex_hits is not None and node.key not in view.regex_hits.get(field, ()):
        return []
    text = view.fields.get(field, "")
    parts = _split_tags(text) if field == "tag" else [(0, text)]
    out: list[tuple[int, int]] = []
    for offset, part in parts:
        if limit == 1:  # a yes/no question: one search, no iterator
            match = node.compiled.search(part)
            if match is not None:
                return [(offset + match.start(), offset + match.end())]
            continue
        for match in node.compiled.finditer(part):
            out.append((offset + match.start(), offset + match.end()))
            if len(out) >= limit:
                return out
    return out


def _split_tags(text: str) -> list[tuple[int, str]]:
    out, offset = [], 0
    for tag in text.split("\n"):
        out.append((offset, tag))
        offset += len(tag) + 1
    return out


def _absent(term: Term, view: DocView) -> bool:
    """True when the prefilter proved a word of ``term`` missing from the whole document."""
    known, found = view.known, view.found
    return bool(known) and any(p in known and p not in found for p in term.probes)


def about_score(node: About, view: DocView) -> float | None:
    """The item's score for an ``about:`` topic; None when the item or topic has no vector."""
    return None if view.meaning is None else view.meaning.score(node.topic)


def leaf_matches(node: Leaf, view: DocView) -> bool:
    """Whether one leaf occurs anywhere in its scope (for about:, scores at its threshold)."""
    if isinstance(node, About):
        score = about_score(node, view)
        return score is not None and score >= node.level
    if isinstance(node, Term):
        return not _absent(node, view) and any(find_term(node, view.index(f)) for f in node.fields)
    if isinstance(node, Regex):
        return any(regex_spans(node, view, f, 1) for f in node.fields)
    if _absent(node.left, view) or _absent(node.right, view):
        return False
    return any(near_hits(node, view.index(f), first_only=True)[0] for f in node.fields)


def evaluate(node: Node, view: DocView) -> bool:
    """Boolean value of ``node`` for the document behind ``view`` (short-circuiting)."""
    if isinstance(node, And):
        return all(evaluate(child, view) for child in node.children)
    if isinstance(node, Or):
        return any(evaluate(child, view) for child in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, view)
    return leaf_matches(node, view)


def leaf_spans(node: Leaf, view: DocView) -> list[Span]:
    """Spans of every occurrence of one leaf in its scope (capped per leaf; none for about:)."""
    spans: list[Span] = []
    if isinstance(node, About):
        return spans
    for field in node.fields:
        if isinstance(node, Regex):
            found = regex_spans(node, view, field, MAX_SPANS_PER_LEAF)
            spans.extend(Span(field, a, b, node.label) for a, b in found)
            continue
        index = view.index(field)
        if isinstance(node, Term):
            occurrences: list[tuple[Term, tuple[int, int]]] = [
                (node, occ) for occ in find_term(node, index)
            ]
        else:
            lefts, rights = near_hits(node, index)
            occurrences = [(node.left, occ) for occ in lefts]
            occurrences += [(node.right, occ) for occ in rights]
        for term, (first, last) in occurrences:
            spans.append(Span(field, index.starts[first], index.ends[last], term.label))
    return sorted(set(spans), key=span_order)[:MAX_SPANS_PER_LEAF]


def span_order(span: Span) -> tuple[int, int, int]:
    """Sort key: field order (title first), then position."""
    rank = FIELDS.index(span.field) if span.field in FIELDS else len(FIELDS)
    return (rank, span.start, span.end)


def collect(node: Node, view: DocView) -> tuple[list[Span], list[str]]:
    """Spans of the positive leaves present, and labels of the negated leaves present."""
    spans: list[Span] = []
    excluded: list[str] = []
    for leaf, negated in iter_terms(node):
        if negated:
            if leaf_matches(leaf, view) and leaf.label not in excluded:
                excluded.append(leaf.label)
        else:
            spans.extend(leaf_spans(leaf, view))
    return sorted(set(spans), key=span_order), excluded
