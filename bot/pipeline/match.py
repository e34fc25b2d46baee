"""Match step: watch queries → compiled matchers → decisions, spans and explanations (pure).

What a query sees of an item is a ``Document`` (``bot.pipeline.document``, re-exported here).

Per new item the poller does ``doc = document_from_entry(entry, feed_name)``, then
``keys = matcher.match(doc)`` with one ``WatchMatcher`` over all watches, then for each key
``compiled[key].explain(doc)`` for the spans and terms of the alert. The query language is
documented in ``bot.query.parser``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from bot.core.errors import QueryError
from bot.core.model import Entry, Span
from bot.pipeline.document import Document, document_from_entry, document_from_mapping
from bot.query.ast import About, Node, abouts, iter_terms
from bot.query.evaluate import DocView, about_score, collect, evaluate
from bot.query.fast import MultiMatcher
from bot.query.lang import language_name
from bot.query.parser import parse_with_language
from bot.query.semantic import EXTRA_MESSAGE, Meaning, semantic_available

__all__ = [
    "AboutScore",
    "CompiledQuery",
    "Document",
    "Explanation",
    "WatchMatcher",
    "compile_query",
    "document_from_entry",
    "document_from_mapping",
]

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class AboutScore:
    """One ``about:`` term's score for an item and its threshold (score None: no vector)."""

    topic: str
    label: str
    score: float | None
    threshold: float
    negated: bool = False

    @property
    def passed(self) -> bool:
        """Whether the score reaches the threshold."""
        return self.score is not None and self.score >= self.threshold

    def describe(self) -> str:
        """``about: rare earths, score 0.83 (threshold 0.50)`` for explanations."""
        score = "no vector" if self.score is None else f"score {self.score:.2f}"
        return f"about: {self.topic}, {score} (threshold {self.threshold:.2f})"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a query did or did not match one document.

    ``spans`` are the occurrences of the query's positive terms (not under a NOT), in field
    order (title, summary, content, body, author, tag, feed, link) then position; ``terms`` the
    distinct labels of those terms in order of first span; ``excluded`` the labels of negated
    terms that are present (what blocked a match).
    """

    matched: bool
    spans: tuple[Span, ...]
    terms: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    scores: tuple[AboutScore, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A parsed, validated query. Immutable and safe to share between threads."""

    source: str
    node: Node
    lang: str = "en"  # the watch's language (bot.query.lang): lang:xx or detected
    lang_detected: bool = True

    @property
    def language(self) -> str:
        """``German (de), detected`` or ``German (de), from lang:``: for lists and explain."""
        how = "detected from the query's words" if self.lang_detected else "from lang:"
        return f"{language_name(self.lang)}, {how}"

    @property
    def topics(self) -> tuple[str, ...]:
        """The distinct ``about:`` topics (empty for a keyword-only query)."""
        return tuple(dict.fromkeys(node.topic for node in abouts(self.node)))

    def matches(self, doc: Document) -> bool:
        """Whether the query matches ``doc``."""
        return evaluate(self.node, DocView(doc.fields, meaning=doc.meaning))

    def explain(self, doc: Document) -> Explanation:
        """The decision plus the spans, terms and about: scores behind it.

        A positive about: term that passed is listed in ``terms`` as
        ``about: topic, score 0.83`` (what an alert shows).
        """
        view = DocView(doc.fields, meaning=doc.meaning)
        matched = evaluate(self.node, view)
        spans, excluded = collect(self.node, view)
        terms: list[str] = []
        for span in spans:
            if span.term not in terms:
                terms.append(span.term)
        scores = tuple(
            AboutScore(leaf.topic, leaf.label, about_score(leaf, view), leaf.level, negated)
            for leaf, negated in iter_terms(self.node) if isinstance(leaf, About))
        for score in scores:
            if score.passed and not score.negated and score.score is not None:
                terms.append(f"about: {score.topic}, score {score.score:.2f}")
        return Explanation(matched, tuple(spans), tuple(terms), tuple(excluded), scores)


def compile_query(text: str, *, semantic: bool | None = None) -> CompiledQuery:
    """Parse and compile a watch query; raises ``QueryError`` (message, position).

    A query with an ``about:`` term is refused, naming the extra to install, when no
    meaning model is installed (``semantic`` overrides the check, for tests and tools).
    """
    node, lang, detected = parse_with_language(text)
    available = semantic_available() if semantic is None else semantic
    if not available:
        found = abouts(node)
        if found:
            raise QueryError(EXTRA_MESSAGE, found[0].position)
    return CompiledQuery(text, node, lang, detected)


class WatchMatcher(Generic[K]):
    """Matches one document against many compiled queries at once (prefilter + verification).

    Decisions are exactly those of ``CompiledQuery.matches``; building is linear in the
    rules (about 0.1 ms per rule), matching costs a few microseconds per document plus the
    verification of the rules whose probes are found.
    """

    def __init__(self, rules: Iterable[tuple[K, CompiledQuery]]) -> None:
        pairs = list(rules)
        self._keys = [key for key, _ in pairs]
        self._matcher = MultiMatcher([query.node for _, query in pairs])

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, doc: Document) -> list[K]:
        """Keys of the rules that match ``doc``, in input order."""
        return self.match_view(doc)[0]

    def match_view(self, doc: Document) -> tuple[list[K], DocView]:
        """``match``, and the prefilter's view of ``doc`` (see ``MultiMatcher.match_view``)."""
        keys = self._keys
        found, view = self._matcher.match_view(doc.fields, doc.meaning)
        return [keys[i] for i in found], view

class Watchlike(Protocol):
    """What matching needs of a watch (a store row, or a preview's copy in a worker)."""

    @property
    def id(self) -> int: ...
    @property
    def query(self) -> str: ...


W = TypeVar("W", bound=Watchlike)
Compiled = tuple[WatchMatcher[int], dict[int, CompiledQuery]]
_NEVER = datetime.max.replace(tzinfo=UTC)


class MatcherCache:
    """Compiled matchers keyed by the watch set, so unchanged watches are not recompiled.

    Planning and previews run on worker threads, so one cache serves them all under a lock.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._matchers: OrderedDict[tuple[tuple[int, str], ...], Compiled] = OrderedDict()
        self._lock = threading.Lock()
        self._topics: dict[str, tuple[str, ...]] = {}

    def topics(self, watches: Iterable[Watchlike]) -> set[str]:
        """The ``about:`` topics of these watches (each query parsed once per process)."""
        out: set[str] = set()
        with self._lock:
            for watch in watches:
                found = self._topics.get(watch.query)
                if found is None:
                    if len(self._topics) > 4096:  # bounded: watches change rarely
                        self._topics.clear()
                    found = self._topics[watch.query] = compile_query(watch.query,
                                                                      semantic=True).topics
                out.update(found)
        return out

    def get(self, watches: Sequence[Watchlike]) -> Compiled:
        """The matcher for exactly these watches (their ids and queries)."""
        key = tuple((watch.id, watch.query) for watch in watches)
        with self._lock:
            found = self._matchers.get(key)
            if found is not None:
                self._matchers.move_to_end(key)
                return found
            # Stored watches compile even without the model (it may have been uninstalled
            # since): their about: terms then never match; /watch add and the config refuse
            # new ones.
            compiled = {watch.id: compile_query(watch.query, semantic=True) for watch in watches}
            built = (WatchMatcher(compiled.items()), compiled)
            self._matchers[key] = built
            if len(self._matchers) > self._size:
                self._matchers.popitem(last=False)
            return built


def publication_order(entries: Sequence[Entry]) -> list[Entry]:
    """Oldest first; undated entries keep feed order after dated ones (feeds list newest first)."""
    dated = sorted((e for e in entries if e.published), key=lambda e: e.published or _NEVER)
    undated = [e for e in entries if not e.published]
    return dated + list(reversed(undated))


# Called once per (entry, group of watches) after matching: the decision trail (issue 21)
# asks each watch that did not match which term failed.
EntryObserver = Callable[
    [Entry, DocView, list[W], dict[int, tuple[str, ...]], dict[int, CompiledQuery]], None]


def matches(entries: Sequence[Entry], watches: Sequence[tuple[W, str]], matchers: MatcherCache,
            observe: EntryObserver[W] | None = None,
            meanings: Mapping[str, Meaning] | None = None
            ) -> Iterator[tuple[int, W, str, Entry, Document, Explanation]]:
    """(position, watch, feed name, entry, document, explanation) of each match, entries
    in publication order. Watches are grouped by the feed's name in their guild, because
    ``feed:`` terms see it. Alerts (``render``) and first-poll previews (``preview``, in
    the parser workers) are both made of this, so they cannot disagree. ``observe``, if
    given, sees each entry's prefilter view and matched terms per group of watches.
    ``meanings`` (item key → scores) serve ``about:`` terms; an item without one never
    matches them.
    """
    groups: dict[str, list[W]] = {}
    for watch, feed_name in watches:
        groups.setdefault(feed_name, []).append(watch)
    ordered = publication_order(entries)
    for feed_name, group in groups.items():
        matcher, compiled = matchers.get(group)
        by_id = {watch.id: watch for watch in group}
        for position, entry in enumerate(ordered):
            doc = document_from_entry(entry, feed_name)
            if meanings and entry.key in meanings:
                doc = replace(doc, meaning=meanings[entry.key])
            terms: dict[int, tuple[str, ...]] = {}
            hits, view = matcher.match_view(doc)
            for watch_id in hits:
                explanation = compiled[watch_id].explain(doc)
                if explanation.matched:
                    terms[watch_id] = explanation.terms
                    yield position, by_id[watch_id], feed_name, entry, doc, explanation
            if observe is not None:
                observe(entry, view, group, terms, compiled)
