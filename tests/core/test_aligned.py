"""The map from normalised text back to the text as published (for snippets)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.aligned import align
from bot.core.text import finish

# Characters that change under NFKC, compose with their neighbours, vanish or are spaces.
_ALPHABET = [
    *"aeAE e\n\t.,", "\u0301", "\u0308", "\u0338", "™", "Ｔ", "！", "。", "ｶ", "ﾞ", "\u1100",
    "\u1161", "\u11a8", "가", "\u00a0", "¨", "\u200b", "\u00ad", "₂", "⁶", "ﬁ", "①", "㍱",
    "\u3000", "🇫", "🇷", "👍", "🏽", "\u0915", "\u093f", "\u0bc6", "\u0bbe", "\U00011099",
    "\U000110ba", "\u212b", "\u0387", "\u1f71", "\u0345", "\u0313", "\u2028", "\x85", "\ufeff",
]  # fmt: skip


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=30))
def test_normal_form_and_map(chars: list[str]) -> None:
    published = "".join(chars)
    alignment = align(published)
    assert alignment.text == finish(published)
    previous = 0
    for i, char in enumerate(alignment.text):
        start, end = alignment.source(i, i + 1)
        assert previous <= start < end <= len(published)
        # the published characters it came from normalise to text that holds it
        assert char in f" \n{finish(published[start:end])}"
        previous = start


@pytest.mark.parametrize(
    ("published", "word", "shown"),
    [
        ("CO₂ rose 10⁶ fold", "CO2", "CO₂"),
        ("CO₂ rose 10⁶ fold", "106", "10⁶"),
        ("ＴＡＲＩＦＦＳ，ok", "TARIFFS", "ＴＡＲＩＦＦＳ"),
        ("Brand™ sales", "TM", "™"),
        ("a\u200b \u00a0 tar\u00adiffs", "tariffs", "tar\u00adiffs"),
        ("Cafe\u0301 ﬁne", "Café", "Cafe\u0301"),
        ("Cafe\u0301 ﬁne", "fine", "ﬁne"),
        ("  leading  space", "space", "space"),
    ],
)
def test_words_map_back_to_their_published_form(published: str, word: str, shown: str) -> None:
    alignment = align(published)
    start = alignment.text.index(word)
    a, b = alignment.source(start, start + len(word))
    assert published[a:b] == shown


def test_linear_on_long_text() -> None:
    # 100,000 characters that all change: the map holds one change per character.
    alignment = align("ＡＢ™₂" * 25_000)
    assert alignment.text == "ABTM2" * 25_000
    assert alignment.source(len(alignment.text) - 1, len(alignment.text)) == (99_999, 100_000)
