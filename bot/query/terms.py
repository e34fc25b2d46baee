"""A word chunk or phrase of a query as a ``Term``: words, gaps, per-language rules, probes."""

from __future__ import annotations

from itertools import pairwise

from bot.core.errors import QueryError
from bot.query.ast import DEFAULT_SCOPE, About, Term
from bot.query.common_words import is_common, probe_length
from bot.query.fold import fold
from bot.query.lang import WordRule, word_rule
from bot.query.lexer import Kind, Tok
from bot.query.semantic import DEFAULT_SENSITIVITY, SENSITIVITIES
from bot.query.symbols import check_symbols, normalize_query
from bot.query.words import APOSTROPHES, DASHES, forms, tokenize

__all__ = ["build_about", "build_term", "probe_preference", "scoped"]

_SOFT_GAP = frozenset(DASHES) | frozenset(APOSTROPHES)


def build_term(tok: Tok, scope: tuple[str, ...], lang: str = "en") -> Term:
    """Turn a word chunk or phrase body into a ``Term`` (words, gaps, forms, probes).

    The query text gets exactly the normalisation documents get (NFKC, soft hyphens and
    zero-width characters removed); symbols at a word's edge are refused (``check_symbols``).
    """
    text = normalize_query(tok.text)
    prefix = text.endswith("*")
    if prefix:
        text = text[:-1]
    if "*" in text:
        raise QueryError("'*' is only allowed at the end of a word (prefix search)", tok.position)
    label = ("=" if tok.case_sensitive else "") + (
        f'"{tok.text}"' if tok.kind is Kind.PHRASE else tok.text
    )
    tokens = list(tokenize(text))
    if not tokens:
        what = "phrase" if tok.kind is Kind.PHRASE else repr(tok.text)
        raise QueryError(f"{what} has no letters or digits to match", tok.position)
    if prefix and (tokens[-1].end != len(text) or tokens[-1].word != text[tokens[-1].start :]):
        raise QueryError("'*' must directly follow a letter or digit", tok.position)
    check_symbols(text, tokens, tok)
    gaps = tuple(_verbatim_gap(text[a.end : b.start]) for a, b in pairwise(tokens))
    raw = [t.word for t in tokens]
    folded = [fold(w) for w in raw]
    if not all(folded):
        raise QueryError(f"{tok.text!r} has no letters or digits to match", tok.position)
    words = tuple(raw if tok.case_sensitive else folded)
    last_forms = frozenset() if prefix else forms(words[-1])
    rules = tuple(
        word_rule(w, f, lang, forms(f), k == 0, k == len(raw) - 1)
        for k, (w, f) in enumerate(zip(raw, folded, strict=True))
    )
    probes, searches = _probes(words, rules, prefix, tok.case_sensitive, last_forms)
    return Term(
        words=words,
        gaps=gaps,
        prefix=prefix,
        case_sensitive=tok.case_sensitive,
        fields=scope,
        label=scoped(label, scope),
        position=tok.position,
        last_forms=last_forms,
        probe=max(probes, key=probe_preference),
        probes=probes,
        searches=searches,
        lang=lang,
        rules=rules,
    )


def _probes(
    words: tuple[str, ...],
    rules: tuple[WordRule, ...],
    prefix: bool,
    case_sensitive: bool,
    last_forms: frozenset[str],
) -> tuple[tuple[str, ...], tuple[frozenset[str], ...]]:
    """Each word's prefilter probe and whole-word searches (see ``Term``), all folded.

    A word matched by its stem is searched as a prefix (its ``anchor``): every word with
    that stem starts with it.
    """
    probes: list[str] = []
    searches: list[frozenset[str]] = []
    last = len(words) - 1
    for k, (word, rule) in enumerate(zip(words, rules, strict=True)):
        if k == last and prefix:
            probes.append(fold(word) + "*")
            searches.append(frozenset())
        elif case_sensitive:
            found = frozenset(fold(f) for f in (last_forms if k == last else {word}))
            probes.append("|".join(sorted(found)))
            searches.append(found)
        elif rule.stem:
            probes.append(rule.anchor + "*")
            searches.append(frozenset())
        else:
            probes.append("|".join(sorted(rule.forms)))
            searches.append(rule.forms)
    return tuple(probes), tuple(searches)


def build_about(tok: Tok) -> About:
    """An ``about:`` term: its topic, and the score threshold its sensitivity names.

    The topic gets the normalisation every query text gets; it is not folded or split into
    words: the meaning model reads it whole, in any language.
    """
    topic = " ".join(normalize_query(tok.text).split())
    option = tok.option.lower() or DEFAULT_SENSITIVITY
    if option in SENSITIVITIES:
        level = SENSITIVITIES[option]
    else:
        try:
            level = float(option)
        except ValueError:
            raise QueryError(
                f"unknown sensitivity {tok.option!r}: use strict, normal, broad or a number",
                tok.position) from None
        if not 0.0 <= level <= 1.0:
            raise QueryError("an about: sensitivity number must be between 0 and 1", tok.position)
    suffix = f"~{tok.option}" if tok.option else ""
    return About(topic, option, level, f'about:"{topic}"{suffix}', tok.position)


def probe_preference(probe: str) -> tuple[bool, int]:
    """Prefilter preference: a probe that is not a common word, then a longer one."""
    return (not is_common(probe), probe_length(probe))


def scoped(label: str, scope: tuple[str, ...]) -> str:
    """Labels name their field when it is not the default scope (``title:tariff``)."""
    return label if scope == DEFAULT_SCOPE else f"{scope[0]}:{label}"



def _verbatim_gap(gap: str) -> str | None:
    """The query's own punctuation between two words, or None when it is a plain separator."""
    if all(c in _SOFT_GAP or c.isspace() for c in gap):
        return None
    return gap
