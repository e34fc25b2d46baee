"""Words, inflection classes and phrase gaps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.query.fold import fold
from bot.query.words import forms, gap_allows, is_word_char, same_word, tokenize


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("China's rare-earth exports", ["China", "rare", "earth", "exports"]),
        ("Xi’s", ["Xi"]),
        ("tariffs'", ["tariffs"]),
        ("O'Brien", ["O", "Brien"]),
        ("naïve nai\u0308ve", ["naïve", "nai\u0308ve"]),  # a combining mark stays in the word
        ("snake_case", ["snake", "case"]),
        ("1,000.5", ["1", "000", "5"]),
        ("日本語 text", ["日本語", "text"]),
        ("हिन्दी", ["हिन्दी"]),  # Devanagari vowel signs are marks
        ("𑀅𑀸", ["𑀅𑀸"]),  # Brahmi: a mark above the BMP
        ("it's'", ["it"]),
    ],
)
def test_tokenize(text: str, words: list[str]) -> None:
    assert [t.word for t in tokenize(text)] == words


def test_token_span_includes_possessive() -> None:
    (token,) = tokenize("Xi's")
    assert (token.start, token.end, token.word) == (0, 4, "Xi")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("tariff", "tariffs", True),
        ("tax", "taxes", True),
        ("earth", "earths", True),
        ("economy", "economies", True),
        ("church", "churches", True),
        ("glass", "glasses", True),
        ("horse", "horses", True),
        ("cache", "caches", True),
        ("movie", "movies", True),
        ("bus", "buses", True),
        ("price", "prices", True),
        ("change", "changes", True),
        ("status", "statuses", True),
        ("xi", "xis", False),  # words under 4 letters do not inflect
        ("us", "uses", False),
        ("new", "news", False),
        ("series", "sery", False),
        ("virus", "viru", False),
        ("paris", "pari", False),
        # -s words take -es; -sis words take -ses (issue 11)
        ("bias", "biases", True),
        ("lens", "lenses", True),
        ("atlas", "atlases", True),
        ("alias", "aliases", True),
        ("gas", "gases", True),
        ("crisis", "crises", True),
        ("analysis", "analyses", True),
        ("thesis", "theses", True),
        ("diagnosis", "diagnoses", True),
        ("ideas", "idea", True),  # the single -s of a plural still drops
        ("bias", "bia", False),  # words under four letters do not inflect (issue 19) ...
        ("mars", "mar", False),  # ... so Mars is not the plural of Mar (Mar-a-Lago)
        ("cars", "car", False),
        ("CEOs", "CEO", True),  # an acronym takes a bare -s at any length
        ("biases", "bia", False),  # but the relation does not chain
        ("these", "the", False),  # (a chain would join these, theses, thes and the)
        ("theses", "the", False),
        ("tense", "ten", False),
        ("tenses", "tense", True),
        ("sense", "sen", False),  # "Sen." in US politics news
        ("paris", "pares", False),  # only -sis words take -is -> -es
        ("davis", "daves", False),
        ("tunis", "tunes", False),
        ("axis", "axes", False),  # 4 letters: not a -sis word
        ("news", "new", False),
        ("Lens", "Lenses", True),
        ("LENS", "LENSES", False),  # lower-case suffixes only
        ("CEO", "CEOs", True),  # lower-case suffixes inflect case-sensitive words
        ("TARIFF", "TARIFFS", False),
    ],
)
def test_same_word(a: str, b: str, same: bool) -> None:
    assert same_word(a, b) is same
    assert same_word(b, a) is same  # symmetric
    assert (b in forms(a)) is same
    assert (a in forms(b)) is same


_WORDS = st.text(alphabet="abceihsxyzuoCS", min_size=1, max_size=9)


@settings(max_examples=300, deadline=None)
@given(_WORDS)
def test_forms_are_exactly_the_same_words(word: str) -> None:
    family = forms(word)
    assert word in family
    assert all(same_word(word, f) and same_word(f, word) for f in family)


@settings(max_examples=300, deadline=None)
@given(_WORDS, _WORDS)
def test_forms_membership_is_same_word(a: str, b: str) -> None:
    assert (b in forms(a)) is same_word(a, b) is same_word(b, a)


@settings(max_examples=300, deadline=None)
@given(_WORDS, st.sampled_from(["", "s", "es", "is", "e", "ies", "y", "ses", "sis", "ss"]))
def test_forms_of_inflected_words(word: str, suffix: str) -> None:
    # Random pairs rarely inflect each other; these do, so both directions get exercised.
    other = word + suffix
    assert (other in forms(word)) is same_word(word, other) is same_word(other, word)
    assert (word in forms(other)) is same_word(other, word)


@pytest.mark.parametrize(
    ("gap", "previous", "verbatim", "allowed"),
    [
        (" ", "rare", None, True),
        ("-", "rare", None, True),
        ("\u2010", "rare", None, True),
        (" \u2013 ", "rare", None, True),
        ("’", "o", None, True),
        ("\n", "rare", None, False),
        (". ", "rare", None, False),
        (", ", "rare", None, False),
        ("; ", "rare", None, False),
        (": ", "rare", None, False),
        ("! ", "rare", None, False),
        ("? ", "rare", None, False),
        ('"', "rare", None, False),
        (". ", "S", None, True),  # U.S. tariffs
        (",", "1", ",", True),  # the query wrote 1,000
        (";", "1", ",", False),
    ],
)
def test_gap_allows(gap: str, previous: str, verbatim: str | None, allowed: bool) -> None:
    assert gap_allows(gap, previous, verbatim) is allowed


def test_fold_never_removes_a_word_boundary() -> None:
    # The prefilter looks for words in folded text (casefold, accents and marks removed);
    # that is only sound if every boundary survives: a non-word character folds to non-word
    # characters only. (A word character may fold to nothing, a removed mark, or, for ŉ,
    # to ʼn: one boundary more, which only makes the prefilter look at more rules.)
    for code in range(0x30000):
        char = chr(code)
        if not is_word_char(char):
            assert not any(is_word_char(c) for c in fold(char)), hex(code)


def test_is_word_char_agrees_with_tokenize() -> None:
    for code in range(0x20000):
        char = chr(code)
        assert is_word_char(char) == bool(list(tokenize(char))), hex(code)
