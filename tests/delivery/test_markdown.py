"""escape_markdown and truncate_words: literal rendering, linear time, limits that hold."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.markdown import ZERO_WIDTH_SPACE, cut_index, escape_markdown, truncate_words

ZWSP = ZERO_WIDTH_SPACE
SPECIALS = "\\*_~`|>#-[]()<"
# Discord un-escapes "\" + any ASCII punctuation; this undoes our escaping the same way.
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def rendered(escaped: str) -> str:
    """What a reader sees once Discord has consumed the escapes (and the zero-width space)."""
    return _UNESCAPE.sub(r"\1", escaped).replace(ZWSP, "")


@pytest.mark.parametrize("char", list(SPECIALS))
def test_every_special_char_is_escaped(char: str) -> None:
    assert escape_markdown(f"a{char}b") == f"a\\{char}b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text, 100% fine.", "plain text, 100% fine."),
        ("**bold** and __underline__", r"\*\*bold\*\* and \_\_underline\_\_"),
        ("~~gone~~ ||spoiler|| `code`", r"\~\~gone\~\~ \|\|spoiler\|\| \`code\`"),
        ("[click](https://evil.example)", r"\[click\]\(https://evil.example\)"),
        ("# Header\n> quote\n- item", "\\# Header\n\\> quote\n\\- item"),
        ("-# subtext", r"\-\# subtext"),
        ("1. first\n  22. second", "1\\. first\n  22\\. second"),
        ("version 1.5 and 3. place", "version 1.5 and 3. place"),  # not at a line start
        ("C:\\path\\*", r"C:\\path\\\*"),
        ("@everyone and @here", f"@{ZWSP}everyone and @{ZWSP}here"),
        ("<@&123> <@456> <#789>", r"\<@&123\> \<@456\> \<\#789\>"),
        ("mail me@example.com", "mail me@example.com"),
        ("", ""),
    ],
)
def test_escape_table(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected


@given(st.text())
def test_escaped_text_renders_back_to_the_original(text: str) -> None:
    assert rendered(escape_markdown(text)) == text.replace(ZWSP, "")


def test_masked_link_flood_is_linear() -> None:
    text = "[a](" * 8000
    started = time.perf_counter()
    escaped = escape_markdown(text)
    elapsed = time.perf_counter() - started
    assert escaped == r"\[a\]\(" * 8000
    assert elapsed < 0.5, f"{elapsed:.3f}s: escaping must stay linear"  # sanity bound only


def test_many_blank_lines_before_digits_stay_fast() -> None:
    # A ``\s*`` in the list pattern would rescan all following blank lines from every line.
    text = "\n" * 50_000 + "1"
    started = time.perf_counter()
    assert escape_markdown(text) == text
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly ten", 11, "exactly ten"),
        ("hello world foo bar", 12, "hello world…"),
        ("hello world foo bar", 11, "hello…"),
        ("hello    world", 9, "hello…"),  # trailing spaces before the cut are dropped
        ("a supercalifragilistic", 10, "a superca…"),  # a boundary this early loses too much
        ("unbreakableword", 8, "unbreak…"),
        ("line one\nline two", 12, "line one…"),
        ("abc", 0, ""),
        ("abc", 2, "a…"),
    ],
)
def test_truncate_words_table(text: str, limit: int, expected: str) -> None:
    assert truncate_words(text, limit) == expected


def test_custom_ellipsis_counts_towards_the_limit() -> None:
    assert truncate_words("one two three four", 13, ellipsis=" [...]") == "one two [...]"


@given(st.text(), st.integers(min_value=0, max_value=300))
def test_truncate_never_exceeds_the_limit(text: str, limit: int) -> None:
    out = truncate_words(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
    else:
        assert text.startswith(out.removesuffix("…"))


def test_cut_index_is_where_truncate_cuts() -> None:
    text = "alpha beta gamma delta"
    assert cut_index(text, 14) == len("alpha beta")
    assert truncate_words(text, 14) == text[: cut_index(text, 14)] + "…"
    assert cut_index(text, 100) == len(text)
