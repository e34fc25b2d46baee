"""Snippets: sentence around the first match, word boundaries, bold ranges, lead fallback."""

from __future__ import annotations

import pytest
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
            [],  # title-only match, no feed text: the lead of the article
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
