"""Snippets: sentence around the first match, word boundaries, bold ranges, lead fallback."""

from __future__ import annotations

import unicodedata

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.model import Snippet
from bot.pipeline.match import compile_query, document_from_mapping
from bot.pipeline.snippet import make_snippet

_FILLER = "The long sentence keeps going with many more words"
# Plain article text, one paragraph per line, as the page extractor gives it.
# The neighbouring paragraphs are too long to join a short sentence in a 300-character window.
_ARTICLE = "\n".join([
    "The two leaders spoke for an hour on Tuesday, their first call this year.",
    "They covered trade, shipping lanes and a long list of export rules for the coming months"
    " that both sides had argued about through the spring and most of the summer, and that"
    " officials on each side had called the main obstacle to any wider agreement on tariffs.",
    "Finance minister Ann Bessent, who sat in on the call, said talks would resume.",
    "Shares in the region rose after the news, with the main index up almost one percent by"
    " the close of trading on Wednesday as investors bet on a lasting truce in the dispute,"
    " although analysts warned that earlier rounds of talks had produced very little at all.",
])  # fmt: skip


def snip(query: str, item: dict[str, object], max_chars: int = 300) -> Snippet:
    doc = document_from_mapping(item)
    return make_snippet(doc, compile_query(query).explain(doc).spans, max_chars)


def bolded(snippet: Snippet) -> list[str]:
    return [snippet.text[a:b] for a, b in snippet.bold]


@pytest.mark.parametrize(
    ("query", "item", "text", "bold"),
    [
        (
            "tariffs",
            {"summary": "Markets slid. The U.S. tariffs on <b>steel</b> hurt. Analysts worry."},
            "The U.S. tariffs on steel hurt. Analysts worry.",  # the sentence plus the next
            ["tariffs"],
        ),
        (
            '"rare earths"',
            {"content": "<p>Intro line.</p><p>China curbs rare-earth exports and rare earths.</p>"},
            "Intro line. China curbs rare-earth exports and rare earths.",
            ["rare-earth", "rare earths"],
        ),
        (
            "copper",
            {"title": "Copper hits record", "summary": "Prices rose on Monday. Traders cheered."},
            "Prices rose on Monday. Traders cheered.",  # title-only: the lead of the summary
            [],
        ),
        (
            "copper",
            {"title": "Copper", "content": "Lead of the content. More."},
            "Lead of the content. More.",  # no summary: lead of the content
            [],
        ),
        ("copper", {"title": "Copper"}, "", []),
        (
            "Smith",
            {"summary": "Mr. Smith met Dr. Jones. They talked."},
            "Mr. Smith met Dr. Jones. They talked.",  # abbreviations do not end sentences
            ["Smith"],
        ),
        (
            "tin OR copper",
            {"summary": "tin news. copper news", "content": "copper first"},
            "tin news. copper news",  # the summary comes before the content
            ["tin", "copper"],
        ),
        (
            "Bessent",
            {"summary": "Two leaders spoke by phone.", "body": _ARTICLE},
            "Finance minister Ann Bessent, who sat in on the call, said talks would resume.",
            ["Bessent"],  # only the article names her: the snippet is her sentence
        ),
        (
            "phone OR Bessent",
            {"summary": "Two leaders spoke by phone.", "body": _ARTICLE},
            "Two leaders spoke by phone.",  # the feed's own text comes before the article
            ["phone"],
        ),
        (
            "title:Leaders",
            {"title": "Leaders talk", "body": _ARTICLE},
            "The two leaders spoke for an hour on Tuesday, their first call this year.",
            ["leaders"],  # title-only match, no feed text: the lead of the article, the
        ),  # word the title matched in bold where the lead has it too
        (
            "title:TSLA",
            {"title": "Tesla falls <TSLA.O>", "summary": "Shares of Tesla &lt;TSLA.O&gt; fell 5%."},
            "Shares of Tesla <TSLA.O> fell 5%.",
            ["TSLA"],
        ),
    ],
)
def test_snippets(query: str, item: dict[str, object], text: str, bold: list[str]) -> None:
    snippet = snip(query, item)
    assert snippet.text == text
    assert bolded(snippet) == bold


def test_sentence_two_is_added_only_if_it_fits() -> None:
    first = "Copper rallied today. "
    second = " ".join([_FILLER] * 6) + "."
    snippet = snip("copper", {"summary": first + second}, max_chars=120)
    assert snippet.text == "Copper rallied today."


def test_previous_sentence_when_the_next_does_not_fit() -> None:
    text = "Metals rose. Copper rallied today. " + " ".join([_FILLER] * 6) + "."
    assert (
        snip("copper", {"summary": text}, max_chars=120).text
        == "Metals rose. Copper rallied today."
    )


def test_long_sentence_is_cut_on_word_boundaries_around_the_match() -> None:
    words = " ".join([_FILLER] * 8)
    text = f"{words} and rare earths appear here {words}."
    snippet = snip('"rare earths"', {"content": text})
    assert len(snippet.text) <= 300
    assert snippet.text.startswith("…") and snippet.text.endswith("…")
    assert bolded(snippet) == ["rare earths"]
    inner = snippet.text[1:-1]
    assert inner in text  # whole words only: no word was split at either end
    start = text.index(inner)
    assert text[start - 1] == " " and text[start + len(inner)] == " "
    # about a third of the room is context before the match
    assert 60 <= snippet.bold[0][0] <= 140


def test_match_at_the_end_of_a_long_sentence_uses_the_room_before_it() -> None:
    text = " ".join([_FILLER] * 10) + " and finally copper."
    snippet = snip("copper", {"content": text})
    assert snippet.text.startswith("…") and snippet.text.endswith("copper.")
    assert len(snippet.text) >= 250


def test_long_lead_is_cut_with_an_ellipsis() -> None:
    text = " ".join([_FILLER] * 10)
    snippet = snip("copper", {"title": "copper", "summary": text}, max_chars=100)
    assert snippet.text.endswith("…") and not snippet.text.startswith("…")
    assert len(snippet.text) <= 100
    assert text.startswith(snippet.text[:-1].rstrip())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(["copper", "tin", "word", "x", ". ", " ", "\n", "<p>", "U.S."]),
        max_size=120,
    ),
    st.integers(20, 300),
)
def test_snippet_invariants(parts: list[str], max_chars: int) -> None:
    doc = document_from_mapping({"summary": " ".join(parts)})
    spans = compile_query("copper OR tin").explain(doc).spans
    snippet = make_snippet(doc, spans, max_chars)
    assert len(snippet.text) <= max_chars
    assert "  " not in snippet.text and "\n" not in snippet.text
    assert snippet.text == snippet.text.strip()
    previous_end = -1
    for start, end in snippet.bold:
        assert previous_end < start < end <= len(snippet.text)
        assert snippet.text[start:end].casefold() in ("copper", "tin")
        previous_end = end
    if spans:
        assert snippet.bold  # the first match is always visible


# --- text that is never mangled (issue 19) -------------------------------------------------

_FLAGS = "🇨🇳🇺🇸" * 150  # regional-indicator pairs: a cut between two halves makes other flags
_THUMBS = "👍🏽" * 150  # an emoji with its skin tone
_ELLIPSIS_CHARS = "…"


@pytest.mark.parametrize("pad", range(4))
@pytest.mark.parametrize("filler", [_FLAGS, _THUMBS, "e\u0301" * 300])
def test_cuts_fall_between_graphemes(pad: int, filler: str) -> None:
    text = "x" * pad + filler + " tariffs " + filler
    snippet = snip("tariffs", {"summary": text})
    assert bolded(snippet) == ["tariffs"]
    inner = snippet.text.strip(_ELLIPSIS_CHARS)
    assert inner in text
    whole = set(regex.findall(r"\X", text))
    assert set(regex.findall(r"\X", inner)) <= whole  # no half flag, no lone skin tone


@pytest.mark.parametrize(
    ("summary", "query"),
    [
        ("稀土" * 2_500, "/稀土/"),  # one unspaced run; the match in its middle
        ("短句。" + "中国限制稀土出口" * 400 + "稀土", "/稀土$/"),
        ("Intro. " + "ก" * 3_000 + "tariffs" + "ข" * 3_000, "/tariffs/"),
    ],
)
def test_a_match_inside_a_long_unspaced_run_is_shown(summary: str, query: str) -> None:
    snippet = snip(query, {"summary": summary})
    assert snippet.text.strip(_ELLIPSIS_CHARS)
    assert len(snippet.bold) >= 1
    assert len(snippet.text) <= 300


@pytest.mark.parametrize(
    ("summary", "query", "text", "bold"),
    [
        ("CO₂ rose to 10⁶ tonnes™ as tariffs bit.", "tariffs OR co2",
         "CO₂ rose to 10⁶ tonnes™ as tariffs bit.", ["CO₂", "tariffs"]),
        ("<p>ＴＡＲＩＦＦＳ　ｒｉｓｅ！　Ｍａｒｋｅｔｓ ｆａｌｌ。</p>", "tariffs",
         "ＴＡＲＩＦＦＳ ｒｉｓｅ！ Ｍａｒｋｅｔｓ ｆａｌｌ。", ["ＴＡＲＩＦＦＳ"]),
        ("ﬁnance: the 1st ½ of tariffs", "finance OR tariffs",
         "ﬁnance: the 1st ½ of tariffs", ["ﬁnance", "tariffs"]),
        ("soft\u00adhyphen tar\u00adiffs", "tariffs", "soft\u00adhyphen tar\u00adiffs",
         ["tar\u00adiffs"]),
    ],
)
def test_text_is_shown_as_published(summary: str, query: str, text: str, bold: list[str]) -> None:
    snippet = snip(query, {"summary": summary})
    assert snippet.text == text
    assert bolded(snippet) == bold


_LONG_ZH = "甲" * 290 + "。"
_TAIL_ZH = "丁" * 300 + "！"


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (_LONG_ZH + "乙乙 tariffs 丙丙。" + _TAIL_ZH, "乙乙 tariffs 丙丙。"),
        (_LONG_ZH + "乙乙 tariffs 丙丙！" + _TAIL_ZH, "乙乙 tariffs 丙丙！"),
        (_LONG_ZH + "乙乙 tariffs 丙丙？" + _TAIL_ZH, "乙乙 tariffs 丙丙？"),
        (_LONG_ZH + "「乙乙 tariffs 丙丙。」" + _TAIL_ZH, "「乙乙 tariffs 丙丙。」"),
        (" ".join(["पहला वाक्य"] * 40) + "। दूसरा tariffs वाक्य। " + " ".join(["तीसरा"] * 80),
         "दूसरा tariffs वाक्य।"),
    ],
)
def test_sentences_end_at_cjk_and_devanagari_stops(summary: str, expected: str) -> None:
    snippet = snip("tariffs", {"summary": summary})
    assert snippet.text == expected
    assert bolded(snippet) == ["tariffs"]


_LONG_EN = " ".join([_FILLER] * 6)


@pytest.mark.parametrize(
    "item",
    [
        {"body": f"{_LONG_EN} in the U.S.\nTariffs rise next week.\n{_LONG_EN}."},
        {"body": f"{_LONG_EN} said Mr.\nTariffs rise next week.\n{_LONG_EN}."},
        {"summary": f"<p>{_LONG_EN} in the U.S.</p><p>Tariffs rise next week.</p><p>{_LONG_EN}."},
    ],
)
def test_a_paragraph_break_ends_a_sentence_even_after_an_abbreviation(
    item: dict[str, object],
) -> None:
    snippet = snip("tariffs", item)
    assert snippet.text == "Tariffs rise next week."


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["copper", "ＣＯＰＰＥＲ", "tin", "稀土出口", "🇨🇳", "👍🏽", "e\u0301",
                         "。", "！", "। ", ". ", " ", "\n", "<p>", "U.S.", "CO₂", "\u200b"]),
        max_size=150,
    ),
    st.integers(20, 300),
)
def test_snippet_invariants_in_any_script(parts: list[str], max_chars: int) -> None:
    doc = document_from_mapping({"summary": "".join(parts)})
    spans = compile_query("copper OR tin").explain(doc).spans
    snippet = make_snippet(doc, spans, max_chars)
    assert len(snippet.text) <= max_chars
    assert "\n" not in snippet.text and snippet.text == snippet.text.strip()
    published = doc.published["summary"]
    inner = snippet.text.strip("…")
    assert set(regex.findall(r"\X", inner)) <= set(regex.findall(r"\X", published)) | {" "}
    for start, end in snippet.bold:
        assert unicodedata.normalize("NFKC", snippet.text[start:end]).casefold() in (
            "copper", "tin")
    if spans:
        assert snippet.bold
