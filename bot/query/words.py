"""The one definition of a word, its inflection class, and what may stand between two words.

A *word* is a maximal run of Unicode letters, digits and combining marks (so ``ve`` is not a
word inside ``naïve`` even when the diaeresis is a separate combining character). Underscore
is not a word character. An apostrophe (``'`` or ``’``) splits words, except a possessive
``'s`` at the end of a word, which belongs to the word and is ignored when comparing:
``tariff's`` is the word ``tariff``; ``O'Brien`` is the two words ``O`` ``Brien``.

Inflection is a small symmetric rule set, not a dictionary stemmer: two words are the same
word (``same_word``) when their stems are equal (``stem``) or one is the other's ``-es``
plural in the two cases a stem cannot express (``bias``/``biases``, ``crisis``/``crises``).
``forms`` lists exactly the words a word is the same as, so a matcher can look up the handful
of surface forms instead of stemming every word of every item.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

from bot.query.segment import has_unspaced, split_run

__all__ = [
    "APOSTROPHES",
    "DASHES",
    "MARKS",
    "Token",
    "forms",
    "gap_allows",
    "is_word_char",
    "same_word",
    "stem",
    "tokenize",
    "word_list",
    "word_offsets",
]

# U+02BC (modifier letter apostrophe) is a letter to Unicode but an apostrophe to writers.
APOSTROPHES = "'\u2019\u02bc"


def _scan_categories() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Combining marks (BMP and above) and dash punctuation, from this Python's Unicode data."""
    bmp_marks: set[str] = set()
    high_marks: set[str] = set()
    dashes: set[str] = {"\u2212"}  # MINUS SIGN is Sm, but people type it as a hyphen
    category = unicodedata.category
    for code in (*range(0x20000), *range(0xE0100, 0xE01F0)):
        char = chr(code)
        cat = category(char)
        if cat[0] == "M":
            (bmp_marks if code < 0x10000 else high_marks).add(char)
        elif cat == "Pd":
            dashes.add(char)
    return frozenset(bmp_marks), frozenset(high_marks), frozenset(dashes)


_BMP_MARKS, _HIGH_MARKS, DASHES = _scan_categories()
MARKS = _BMP_MARKS | _HIGH_MARKS


def _char_class(chars: frozenset[str]) -> str:
    return "".join(re.escape(c) for c in sorted(chars))


# sre turns a class of single BMP characters into a bitmap (fast); ranges above the BMP make
# it a linear list, ~5x slower. Supplementary-plane marks are rare, so the full class is only
# used for text that contains a supplementary-plane character at all.
_WORD_BMP = rf"[\w{_char_class(_BMP_MARKS)}]"
_WORD_ALL = rf"(?:[\w{_char_class(_BMP_MARKS)}]|[{_char_class(_HIGH_MARKS)}])"
_POSSESSIVE = rf"(?:[{APOSTROPHES}][sS](?!{{w}}))?"
# Group 1 is the word without its possessive; the match spans both.
_TOKEN_BMP = re.compile(rf"({_WORD_BMP}+)" + _POSSESSIVE.format(w=_WORD_BMP))
_TOKEN_ALL = re.compile(rf"({_WORD_ALL}+)" + _POSSESSIVE.format(w=_WORD_ALL))
_ABOVE_BMP = re.compile("[\U00010000-\U0010ffff]")
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


class Token(NamedTuple):
    """One word of a text: character span (including a possessive ``'s``) and its word."""

    start: int
    end: int
    word: str  # the word without its possessive suffix, case preserved


def is_word_char(char: str) -> bool:
    """True for letters, digits and combining marks (the characters words are made of)."""
    return (char.isalnum() or char in MARKS) and char not in "_\u02bc"


def _prepare(text: str) -> tuple[str, re.Pattern[str]]:
    if "_" in text:
        # \w includes "_": blank it out (same length, so offsets stay valid).
        text = text.replace("_", " ")
    if text.isascii():
        return text, _TOKEN_BMP
    if "\u02bc" in text:
        text = text.replace("\u02bc", "\u2019")  # an apostrophe, not a letter (Xiʼs)
    pattern = _TOKEN_ALL if _ABOVE_BMP.search(text) else _TOKEN_BMP
    return text, pattern


def tokenize(text: str) -> Iterator[Token]:
    """Yield the words of ``text`` in order (see the module docstring for what a word is).

    A run of word characters that contains a script written without spaces (Chinese,
    Japanese, Thai, Lao, Khmer, Myanmar) is split into words by ``bot.query.segment``; a
    possessive ``'s`` stays with the run's last word.
    """
    text, pattern = _prepare(text)
    if has_unspaced(text):
        yield from _segmented_tokens(text, pattern)
        return
    for match in pattern.finditer(text):
        yield Token(match.start(), match.end(), match.group(1))


@lru_cache(maxsize=4)
def _segmented_tokens(text: str, pattern: re.Pattern[str]) -> tuple[Token, ...]:
    """The tokens of a text with unspaced scripts (cached: the word list, its offsets and
    each watch's explanation of one item ask for the same text in a row)."""
    out: list[Token] = []
    for match in pattern.finditer(text):
        word = match.group(1)
        if not has_unspaced(word):
            out.append(Token(match.start(), match.end(), word))
            continue
        base = match.start()
        pieces = split_run(word)
        for a, b in pieces[:-1]:
            out.append(Token(base + a, base + b, word[a:b]))
        a, b = pieces[-1]
        out.append(Token(base + a, match.end(), word[a:b]))
    return tuple(out)


def word_list(text: str) -> list[str]:
    """The words of ``text`` (as ``Token.word``), without offsets: the fast path."""
    prepared, pattern = _prepare(text)
    if has_unspaced(prepared):
        return [token.word for token in _segmented_tokens(prepared, pattern)]
    return pattern.findall(prepared)


def word_offsets(text: str) -> tuple[list[int], list[int]]:
    """Start and end offsets of the words of ``text`` (as ``Token.start``/``Token.end``)."""
    prepared, pattern = _prepare(text)
    if has_unspaced(prepared):
        tokens = _segmented_tokens(prepared, pattern)
        return [t.start for t in tokens], [t.end for t in tokens]
    spans = [match.span() for match in pattern.finditer(prepared)]
    return [s for s, _ in spans], [e for _, e in spans]


_EXCEPTIONS = frozenset({"news", "series", "species"})
_SIBILANT = ("s", "x", "z", "ch", "sh")
_KEEPS_S = ("ss", "us", "is")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Return the inflection class of ``word`` (already casefolded unless case-sensitive).

    Rules, tried in order on words of 4+ characters (shorter words, and ``news``, ``series``,
    ``species``, are their own stem); no rule leaves fewer than 3 characters:

    1. ``-ies`` → ``-y`` (economies → economy);
    2. ``-es`` after s, x, z, ch, sh is dropped (taxes → tax, churches → church);
    3. a final ``-s`` is dropped unless the word ends in ss, us or is (tariffs → tariff;
       glass, virus, Paris stay), and only when 4+ letters remain or they are an acronym
       (words under four letters do not inflect: Mars is not Mar's plural; CEOs → CEO);
    4. then, singular spelling: ``-ie`` → ``-y`` (movie → movy, like movies) and a final
       ``-e`` after s, x, z, ch, sh is dropped (horse → hors, like horses → hors).

    Suffixes are matched in lower case only, so case-sensitive acronyms inflect as
    ``CEOs`` → ``CEO`` but ``USES`` stays ``USES``. Two plurals a stem cannot express are
    added by ``same_word``: ``bias``/``biases`` and ``crisis``/``crises``. Other irregular
    plurals (children, heroes, mice) are not handled.
    """
    if len(word) < 4 or word in _EXCEPTIONS:
        return word
    if word.endswith("ies") and len(word) >= 6:
        return word[:-3] + "y"
    if word.endswith("es") and len(word) >= 5 and word[:-2].endswith(_SIBILANT):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_KEEPS_S) and _bare_s_plural(word[:-1]):
        word = word[:-1]
    if len(word) >= 4 and word.endswith("ie"):
        return word[:-2] + "y"
    if len(word) >= 4 and word.endswith("e") and word[:-1].endswith(_SIBILANT):
        return word[:-1]
    return word


def _bare_s_plural(singular: str) -> bool:
    """Whether ``singular`` + ``s`` may be its plural: 4+ letters, or an acronym (CEOs).

    Words under four letters do not inflect, so *Mars* is not the plural of *Mar*
    (Mar-a-Lago, "Mar 3 (Reuters)") nor *bias* that of *bia*.
    """
    return len(singular) >= 4 or (len(singular) >= 2 and singular.isupper())


def _takes_es(word: str) -> bool:
    """A word of 4+ letters ending in a single ``-s`` (bias, lens, atlas): plural in ``-es``.

    ``stem`` may read such a word as a plural (``lenses`` → ``lens``, but ``atlas`` →
    ``atla`` like ``ideas`` → ``idea``), so its own ``-es`` plural can land in another
    class; ``same_word`` joins the two directly. Words ending in ss, us, is are singular
    for ``stem`` already (glass/glasses, virus/viruses work through it).
    """
    return (
        len(word) >= 4
        and word.endswith("s")
        and not word.endswith(_KEEPS_S)
        and word not in _EXCEPTIONS
    )


def _es_partners(word: str) -> set[str]:
    """The words ``word`` is the same as by the two ``-es`` rules (a symmetric relation).

    ``bias`` ↔ ``biases`` (a single-``s`` word of 4+ letters and the word plus ``es``) and
    ``crisis`` ↔ ``crises`` (``-sis`` ↔ ``-ses``, 5+ letters: analysis, thesis, basis).
    Only ``-sis`` takes the ``-is`` → ``-es`` rule, so ``Paris``, ``Davis`` and ``Tunis``
    never match ``Pares``, ``Daves`` or ``tunes``.
    """
    out = set()
    if _takes_es(word):
        out.add(word + "es")
    if word.endswith("es") and _takes_es(word[:-2]):
        out.add(word[:-2])
    if len(word) >= 5 and word.endswith(("sis", "ses")):
        out.add(word[:-2] + ("es" if word.endswith("is") else "is"))
    return out


def same_word(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are the same word up to inflection (symmetric).

    Equal stems (``stem``), or one of the two ``-es`` plurals a stem cannot express:
    ``bias``/``biases``, ``lens``/``lenses``, ``crisis``/``crises``. Not transitive on
    purpose: ``theses`` matches ``thesis`` and ``thesis`` would match ``thesi`` if that were
    a plural, but a chain would join ``these`` to ``the``.
    """
    return stem(a) == stem(b) or b in _es_partners(a)


@lru_cache(maxsize=65536)
def forms(word: str) -> frozenset[str]:
    """Every word ``same_word`` accepts for ``word``: exactly, no more and no fewer.

    Each ``stem`` rule either strips a suffix or replaces ``ie``/``ies`` by ``y``, so every
    word of the class is the stem, the stem plus ``s``/``es``/``e``, or the stem with its
    final ``y`` turned into ``ie``/``ies``; the candidates are filtered through ``stem``
    itself. The ``-es`` partners are added as they are.
    """
    base = stem(word)
    candidates = {base, base + "s", base + "es", base + "e"}
    if base.endswith("y"):
        candidates.update((base[:-1] + "ies", base[:-1] + "ie"))
    same = {c for c in candidates if stem(c) == base}
    return frozenset(same | _es_partners(word))


def gap_allows(gap: str, previous_word: str, verbatim: str | None = None) -> bool:
    """Whether ``gap`` (the text between two words) keeps them in one phrase.

    Allowed: spaces, hyphens and Unicode dashes, apostrophes; a full stop right after a
    one-character word (``U.S. tariffs``, ``J. Smith``); or exactly ``verbatim``, the
    punctuation the query itself put between those words (``1,000``, ``AT&T``). A newline
    (block break) or other punctuation (``. , ; : ! ?``, brackets, quotes) breaks the phrase.
    """
    if verbatim is not None and gap == verbatim:
        return True
    if len(previous_word) == 1 and gap.startswith("."):
        gap = gap[1:]
    for char in gap:
        if char in DASHES or char in APOSTROPHES:
            continue
        if not char.isspace() or char in _LINE_BREAKS:
            return False
    return True
