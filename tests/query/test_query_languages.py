"""Words in every script, folding, watch languages, and the bulk matcher agreeing on them."""

from __future__ import annotations

import time

import pytest

from bot.pipeline.match import WatchMatcher, compile_query, document_from_mapping
from bot.query.fold import fold
from bot.query.lang import detect_language
from bot.query.words import tokenize


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("中国限制稀土出口", ["中国", "限制", "稀土", "出口"]),
        ("美国总统Trump表示", ["美国", "总统", "Trump", "表示"]),
        ("米国が関税を引き上げ", ["米国", "が", "関税", "を", "引き上げ"]),
        ("สหรัฐขึ้นภาษี", ["สหรัฐ", "ขึ้น", "ภาษี"]),
        ("2025年稀土", ["2025", "年", "稀土"]),
        ("𠀀中国", ["𠀀", "中国"]),  # ICU counts UTF-16 units; offsets are code points
        ("中国's", ["中国"]),  # a possessive stays with the run's last word
        ("を동결했고es", ["を", "동결했고es"]),  # only boundaries next to an unspaced script
        ("관세를 부과했다", ["관세를", "부과했다"]),  # Korean is spaced: particles via lang
        ("Xiʼs taxi", ["Xi", "taxi"]),  # U+02BC is an apostrophe
    ],
)
def test_words_in_every_script(text: str, words: list[str]) -> None:
    assert [t.word for t in tokenize(text)] == words
    for token in tokenize(text):
        assert text[token.start : token.end].startswith(token.word)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Élysée", "ELYSEE"),
        ("Αθήνα", "ΑΘΗΝΑ"),
        ("ΟΔΟΣ", "οδός"),  # final sigma
        ("İstanbul", "istanbul"),
        ("ıstanbul", "ISTANBUL"),
        ("Đà Nẵng", "da nang"),
        ("ёлка", "елка"),
        ("السعـودية", "السعودية"),  # tatweel
        ("مُحَمَّد", "محمد"),  # vowel marks
        ("أحمد", "احمد"),  # hamza on alef
        ("שָׁלוֹם", "שלום"),  # niqqud
        ("Straße", "STRASSE"),
    ],
)
def test_fold_equates(a: str, b: str) -> None:
    assert fold(a) == fold(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("й", "и"),  # a letter of its own in Russian
        ("が", "か"),  # dakuten is part of the kana
        ("मंत्री", "मत्री"),  # Devanagari signs are letters
        ("ก่า", "กา"),  # Thai tone marks
    ],
)
def test_fold_keeps_letters_of_other_scripts(a: str, b: str) -> None:
    assert fold(a) != fold(b)


@pytest.mark.parametrize(
    ("words", "lang"),
    [
        (["稀土"], "zh"),
        (["関税を"], "ja"),
        (["東京", "トランプ"], "ja"),
        (["관세"], "ko"),
        (["пошлины"], "ru"),
        (["Αθήνα"], "el"),
        (["السعودية"], "ar"),
        (["ישראל"], "he"),
        (["भारत"], "hi"),
        (["ภาษี"], "th"),
        (["Zölle"], "de"),
        (["exportación"], "es"),
        (["ihracatı"], "tr"),
        (["Việt", "Nam"], "vi"),
        (["grève"], "fr"),
        (["tariffs", "Xi"], "en"),
        (["Zoll"], "en"),  # plain Latin letters: English unless lang: says otherwise
    ],
)
def test_detect_language(words: list[str], lang: str) -> None:
    assert detect_language(words) == lang


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("rare\u00adearth", "rare\u00adearth", True),  # a soft hyphen vanishes in both
        ("rare\u00adearth", "rareearth", True),
        ("rare\u200bearths", "rare earths", False),  # zero-width: one word, as in text
        ("/ﬁnance/", "finance minister", True),  # NFKC in regexes too
        ("ｔａｒｉｆｆｓ", "tariffs", True),  # full-width letters
        ("=Élysée", "Élysée", True),
        ("=Élysée", "ELYSEE", False),  # '=' keeps accents and case
        ('"Seltene Erden" lang:de', "Export Seltener Erden", True),  # every word inflects
        ('"rare earths"', "rarer earths", False),  # English: only the last word inflects
        ("Zoll lang:de", "Hohe Zollgebühren", False),  # never a compound's part
        ("пошлины", "пошлый", False),
    ],
)
def test_query_normalisation_and_language(query: str, text: str, expected: bool) -> None:
    assert compile_query(query).matches(document_from_mapping({"title": text})) is expected


_RULES = [
    "稀土", "Trump", "동결했고", "관세", "пошлины", "Zoll lang:de", "Élysée", "Istanbul",
    "السعودية", "Xi", "Mars", "ภาษี", "中国 出口", "稀*", '"Seltene Erden" lang:de',
]  # fmt: skip
_TEXTS = [
    "中国限制稀土出口", "美国总统Trump表示", "を동결했고es", "を동결했고 es", "관세를 부과했다",
    "введение пошлин", "Neue Zölle; Export Seltener Erden", "L'ELYSEE", "İstanbul'da",
    "السعـودية", "Xiʼs taxi", "Mar-a-Lago", "สหรัฐขึ้นภาษีนำเข้าจีน", "发展中国家",
]  # fmt: skip


def test_bulk_matcher_agrees_with_each_rule_alone() -> None:
    rules = [(i, compile_query(q)) for i, q in enumerate(_RULES)]
    bulk = WatchMatcher(rules)
    for text in _TEXTS:
        doc = document_from_mapping({"title": text})
        expected = [i for i, q in rules if q.matches(doc)]
        assert bulk.match(doc) == expected, text


@pytest.mark.parametrize("run", ["中国限制稀土出口" * 12_500, "a中" * 50_000, "สหรัฐขึ้นภาษี" * 7_500])
def test_a_hostile_unspaced_run_is_matched_and_explained_quickly(run: str) -> None:
    # One 100,000-character run without punctuation: segmented once per text, not once
    # per word list, offsets and watch (it was 0.5 s per explanation).
    queries = [compile_query(q) for q in ("稀土", "ภาษี", "Trump", '"稀土 出口"', "稀*")]
    bulk = WatchMatcher(list(enumerate(queries)))
    doc = document_from_mapping({"summary": run})
    started = time.process_time()
    for key in bulk.match(doc):
        queries[key].explain(doc)
    elapsed = time.process_time() - started
    assert elapsed < 3.0, f"{elapsed:.2f}s of CPU for one item"  # sanity bound only
