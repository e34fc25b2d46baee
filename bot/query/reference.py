"""A deliberately simple second implementation of query evaluation, for cross-checking.

It shares only the definitions (``tokenize``, ``fold``, ``same_word``, ``gap_allows``, a
language's ``WordRule``) with the production
evaluator and none of its shortcuts: no word index, no inverse stemming (``forms``), no
probes, no prefilter. Every field is tokenised in full and every position is tried. The
tests and ``bench/match_bench.py`` require both to agree exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.query.ast import About, And, Near, Node, Not, Or, Regex, Term
from bot.query.fold import fold
from bot.query.semantic import Meaning
from bot.query.words import Token, gap_allows, same_word, tokenize

__all__ = ["reference_matches", "reference_occurrences"]


def _key(word: str, case_sensitive: bool) -> str:
    return word if case_sensitive else fold(word)


def _word_matches(term: Term, k: int, token: Token) -> bool:
    word = _key(token.word, term.case_sensitive)
    expected = term.words[k]
    last = k == len(term.words) - 1
    if last and term.prefix:
        return word.startswith(expected)
    rule = term.rules[k]
    if term.case_sensitive or rule.kind == "english":
        return same_word(expected, word) if last else word == expected
    if rule.kind == "exact":
        return word == expected
    return rule.accepts(word, token.word)  # a stem or an affix list of the language


def reference_occurrences(term: Term, text: str) -> list[tuple[int, int]]:
    """(first, last) word positions of ``term`` in ``text``, trying every position."""
    tokens = list(tokenize(text))
    size = len(term.words)
    out = []
    for first in range(len(tokens) - size + 1):
        ok = True
        for k in range(size):
            token = tokens[first + k]
            if not _word_matches(term, k, token):
                ok = False
                break
            if k < size - 1:
                gap = text[token.end : tokens[first + k + 1].start]
                if not gap_allows(gap, token.word, term.gaps[k]):
                    ok = False
                    break
        if ok:
            out.append((first, first + size - 1))
    return out


def _near(node: Near, text: str) -> bool:
    for a0, a1 in reference_occurrences(node.left, text):
        for b0, b1 in reference_occurrences(node.right, text):
            if b0 > a1:
                between = b0 - a1 - 1
            elif a0 > b1:
                between = a0 - b1 - 1
            else:
                between = 0  # overlapping occurrences
            if between <= node.distance:
                return True
    return False


def _regex(node: Regex, field: str, text: str) -> bool:
    parts = text.split("\n") if field == "tag" else [text]
    return any(node.compiled.search(part) is not None for part in parts)


def reference_matches(node: Node, fields: Mapping[str, str],
                      meaning: Meaning | None = None) -> bool:
    """Whether ``node`` matches the document whose normalised fields are ``fields``.

    ``about:`` terms take the score ``meaning`` gives (no vector: no match), as in production.
    """
    if isinstance(node, And):
        return all([reference_matches(child, fields, meaning) for child in node.children])
    if isinstance(node, Or):
        return any([reference_matches(child, fields, meaning) for child in node.children])
    if isinstance(node, Not):
        return not reference_matches(node.child, fields, meaning)
    if isinstance(node, About):
        score = None if meaning is None else meaning.score(node.topic)
        return score is not None and score >= node.level
    if isinstance(node, Term):
        return any(reference_occurrences(node, fields.get(f, "")) for f in node.fields)
    if isinstance(node, Regex):
        return any(_regex(node, f, fields.get(f, "")) for f in node.fields)
    return any(_near(node, fields.get(f, "")) for f in node.fields)
