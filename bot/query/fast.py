"""Many rules against one document: an Aho-Corasick prefilter, then exact evaluation.

Each word of a term has a *probe* (``Term.probes``) that names exactly the search finding
it: for a whole word, its casefolded surface forms (``tariff|tariffs``) must stand between
word boundaries; for a prefix (``tariff*``), the prefix must start a word. One Aho-Corasick
automaton holds the search strings of all rules; one pass over the document's casefolded
text, with a Unicode-aware boundary check (RE2's and Hyperscan's ``\\b`` are ASCII-only:
``ve`` would be found in ``naïve``), yields the probes found.

Why probes and not the strings searched: a rule's decision must be a function of that rule
and the document alone. Two terms share a probe only when they need the very same search,
so whatever other rules are loaded, "probe searched and not found" proves the word absent;
keyed by string, ``market`` (whole word) told ``market*`` that ``marketplace`` lacked it.

A rule's *required probes* come from its tree: a term needs its anchor (``Term.probe``, an
uncommon word preferred); an AND needs the requirement of any one child (the most selective
is chosen); an OR needs one from every branch; a NOT, or an OR with a branch that needs
nothing, needs nothing, and the rule goes to the "always check" list. Only rules whose
requirement was found, plus the always-check rules, are evaluated, and evaluation itself
skips every term with a probe searched and not found.

Regex leaves are prefiltered together: one RE2 set per field (a DFA, linear time) tells which
patterns match somewhere in it. A matching pattern counts as a found pseudo-probe
(``REGEX_MARK + key``), so a regex is a requirement like any probe and pure-regex rules are
not evaluated on items their pattern cannot match. Each set also holds an always-matching
sentinel: when RE2's DFA runs out of memory a set answers nothing, and the sentinel's
absence sends that set's patterns to one-by-one searches, so a crowded set never drops a
match.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import ahocorasick
import re2

from bot.query.ast import FIELDS, About, And, Near, Node, Or, Regex, Term, iter_terms
from bot.query.common_words import is_common, probe_length
from bot.query.evaluate import DocView, evaluate
from bot.query.fold import fold
from bot.query.segment import is_unspaced_char
from bot.query.semantic import Meaning
from bot.query.words import MARKS

__all__ = ["REGEX_MARK", "MultiMatcher", "required_probes"]

log = logging.getLogger(__name__)

_SET_CHUNK = 200  # patterns per RE2 set: keeps each set's DFA comfortably inside max_mem
_SET_MAX_MEM = 64 << 20
REGEX_MARK = "\x00re:"  # pseudo-probe prefix; never part of a word probe
_NOT_WORD = frozenset("_\u02bc")  # word characters to Unicode, not to the tokenizer


def _segmented(left: str, right: str) -> bool:
    """Whether ICU may put a word boundary between two word characters (unspaced scripts).

    A superset of the boundaries ``bot.query.segment`` finds: a probe hit there may be a
    word, and evaluation decides.
    """
    return is_unspaced_char(left) or is_unspaced_char(right)


def required_probes(node: Node) -> frozenset[str] | None:
    """Probes of which at least one is found whenever ``node`` matches; None: unknown.

    An ``about:`` term has no probe (its text need not contain any word of the topic): it
    requires nothing, so a rule that can match through it alone is always verified.
    """
    if isinstance(node, About):
        return None
    if isinstance(node, Term):
        return frozenset({node.probe})
    if isinstance(node, Regex):
        return frozenset({REGEX_MARK + node.key})
    if isinstance(node, Near):
        return _best([required_probes(node.left), required_probes(node.right)])
    if isinstance(node, And):
        return _best([required_probes(child) for child in node.children])
    if isinstance(node, Or):
        union: set[str] = set()
        for child in node.children:
            needed = required_probes(child)
            if needed is None:
                return None
            union |= needed
        return frozenset(union)
    return None  # Not


def _common(probe: str) -> bool:
    return not probe.startswith(REGEX_MARK) and is_common(probe)


def _best(options: list[frozenset[str] | None]) -> frozenset[str] | None:
    """The most selective requirement: no common words, words over regexes, fewest, longest."""
    known = [o for o in options if o is not None]
    if not known:
        return None
    return max(
        known,
        key=lambda probes: (
            not any(_common(p) for p in probes),
            not any(p.startswith(REGEX_MARK) for p in probes),
            -len(probes),
            min(len(p) if p.startswith(REGEX_MARK) else probe_length(p) for p in probes),
        ),
    )


class _RegexSets:
    """One RE2 set per field over every regex leaf that searches that field."""

    def __init__(self, leaves: Sequence[Regex]) -> None:
        self._compiled = {leaf.key: leaf.compiled for leaf in leaves}
        self._sets: list[tuple[str, Any, list[str], frozenset[str]]] = []
        for field in FIELDS:
            keys = sorted({leaf.key for leaf in leaves if field in leaf.fields})
            for i in range(0, len(keys), _SET_CHUNK):
                chunk = keys[i : i + _SET_CHUNK]
                regex_set = self._build(chunk)
                # Empty fields are common (no content, no tags): answer them from a table.
                on_empty = frozenset(self._match(regex_set, chunk, ""))
                self._sets.append((field, regex_set, chunk, on_empty))

    @staticmethod
    def _build(keys: list[str]) -> Any:
        options = re2.Options()
        options.max_mem = _SET_MAX_MEM
        options.log_errors = False
        regex_set = re2.Set.SearchSet(options)
        for key in keys:
            regex_set.Add(key)
        regex_set.Add("")  # the sentinel, index len(keys): matches every text
        regex_set.Compile()
        return regex_set

    def _match(self, regex_set: Any, keys: list[str], text: str) -> list[str]:
        """Keys of the set's patterns that match ``text``, one by one if the set failed."""
        indices = regex_set.Match(text) or ()
        sentinel = len(keys)
        if sentinel in indices:
            return [keys[i] for i in indices if i != sentinel]
        log.warning("RE2 set failed on a %d-character text; searching one by one", len(text))
        return [key for key in keys if self._compiled[key].search(text) is not None]

    def hits(self, fields: Mapping[str, str]) -> dict[str, frozenset[str]]:
        """Per field, the keys of the regexes that match in it (per tag for ``tag``)."""
        out: dict[str, set[str]] = {}
        for field, regex_set, keys, on_empty in self._sets:
            text = fields.get(field, "")
            if not text:
                if on_empty:
                    out.setdefault(field, set()).update(on_empty)
                continue
            for part in text.split("\n") if field == "tag" else (text,):
                indices = regex_set.Match(part)
                if indices is not None and len(indices) == 1 and indices[0] == len(keys):
                    continue  # only the sentinel matched: the common case, no more work
                found = self._match(regex_set, keys, part)  # rare: repeats the set search
                if found:
                    out.setdefault(field, set()).update(found)
        return {field: frozenset(keys) for field, keys in out.items()}


class MultiMatcher:
    """Match many query trees against documents; ``match`` returns rule indices in order."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = list(nodes)
        self._always: list[int] = []
        self._by_probe: dict[str, list[int]] = {}
        keys: dict[str, set[tuple[int, bool, str]]] = {}
        regexes: list[Regex] = []
        for i, node in enumerate(self.nodes):
            needed = required_probes(node)
            if needed is None:
                self._always.append(i)
            else:
                for probe in needed:
                    self._by_probe.setdefault(probe, []).append(i)
            _add_search_keys(node, needed, keys)
            # Every leaf, not one per pattern: the same pattern may search other fields.
            regexes += [leaf for leaf, _ in iter_terms(node) if isinstance(leaf, Regex)]
        self._known = frozenset(probe for entries in keys.values() for _, _, probe in entries)
        self._automaton: Any = None
        if keys:
            self._automaton = ahocorasick.Automaton()
            for key, entries in keys.items():
                self._automaton.add_word(key, tuple(entries))
            self._automaton.make_automaton()
        self._regex_sets = _RegexSets(regexes) if regexes else None
        log.debug(
            "multi-matcher: %d rules, %d probes, %d search keys, %d regexes, %d always-check",
            len(self.nodes),
            len(self._known),
            len(keys),
            len({leaf.key for leaf in regexes}),
            len(self._always),
        )

    def found_probes(self, fields: Mapping[str, str]) -> frozenset[str]:
        """Probes whose search succeeds anywhere in the document (all fields).

        A whole-word key counts only between two word boundaries, a prefix key only at a
        word start (the same word characters as the tokenizer, so ``Xi`` is not in ``taxi``
        nor, as a whole word, in ``Xinjiang``). Next to a character of a script written
        without spaces any position may be a boundary (ICU decides), so a hit there counts.
        The text is folded (``bot.query.fold``) as the probes are.
        """
        if self._automaton is None:
            return frozenset()
        # Every field in one text; a line break keeps words of two fields apart.
        text = fold("\n".join(fields.values()))
        last = len(text) - 1
        found: set[str] = set()
        marks, not_word, segmented = MARKS, _NOT_WORD, _segmented
        for end, entries in self._automaton.iter(text):
            for size, whole_word, probe in entries:
                if probe in found:
                    continue
                before = end - size  # the character before the hit, if any
                if before >= 0:
                    char = text[before]
                    if (
                        (char.isalnum() or char in marks)
                        and char not in not_word
                        and not segmented(char, text[before + 1])
                    ):
                        continue
                if whole_word and end < last:
                    char = text[end + 1]
                    if (
                        (char.isalnum() or char in marks)
                        and char not in not_word
                        and not segmented(text[end], char)
                    ):
                        continue
                found.add(probe)
        return frozenset(found)

    def match(self, fields: Mapping[str, str], meaning: Meaning | None = None) -> list[int]:
        """Indices of the rules that match the document, in ascending order.

        ``meaning`` scores the ``about:`` terms (None: the item has no vector; they fail).
        """
        return self.match_view(fields, meaning)[0]

    def match_view(self, fields: Mapping[str, str], meaning: Meaning | None = None
                   ) -> tuple[list[int], DocView]:
        """``match``, and the view it decided on: what the prefilter searched and found, so
        evaluating another of these rules on it (why it failed, issue 21) skips the text for
        every probe known absent."""
        found = self.found_probes(fields)
        regex_hits = None
        if self._regex_sets is not None:
            regex_hits = self._regex_sets.hits(fields)
            keys = {REGEX_MARK + key for field_keys in regex_hits.values() for key in field_keys}
            found = found | keys
        candidates = set(self._always)
        by_probe = self._by_probe
        for probe in found:
            rules = by_probe.get(probe)
            if rules:
                candidates.update(rules)
        view = DocView(fields, self._known, found, regex_hits, meaning)
        if not candidates:
            return [], view
        nodes = self.nodes
        return [i for i in sorted(candidates) if evaluate(nodes[i], view)], view


def _add_search_keys(
    node: Node, needed: frozenset[str] | None, keys: dict[str, set[tuple[int, bool, str]]]
) -> None:
    """Add the automaton keys of one rule: (length, whole word?, probe) per key string.

    A rule's words are searched when they anchor it (``needed``) or are uncommon. Common
    words would hit in nearly every item; they are searched only as anchors or to let an
    always-checked rule (``-sports``) skip evaluation. A probe is searched completely or
    not at all, so "searched and not found" always means absent.
    """
    for leaf, _negated in iter_terms(node):
        if isinstance(leaf, Regex | About):
            continue
        for term in (leaf.left, leaf.right) if isinstance(leaf, Near) else (leaf,):
            for probe, words in zip(term.probes, term.searches, strict=True):
                if needed is not None and probe not in needed and is_common(probe):
                    continue
                for key in words or (probe.removesuffix("*"),):
                    keys.setdefault(key, set()).add((len(key), bool(words), probe))
