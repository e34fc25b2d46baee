"""Grapheme boundaries near a position agree with a scan of the whole text."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import graphemes

_PARTS = ["a", " ", "中", "🇨", "🇳", "👍", "🏽", "\u200d", "👩", "e\u0301", "\u0301", "क", "्",
          "ष", "\u0600", "\r\n", "가", "\u1100", "\u1161"]  # fmt: skip


def _all_boundaries(text: str) -> set[int]:
    return {m.start() for m in regex.finditer(r"\X", text)} | {len(text)}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PARTS), max_size=60), st.data())
def test_floor_and_ceil_agree_with_a_full_scan(parts: list[str], data: st.DataObject) -> None:
    text = "".join(parts)
    pos = data.draw(st.integers(0, len(text)))
    truth = _all_boundaries(text)
    assert graphemes.floor(text, pos) == max(b for b in truth if b <= pos)
    assert graphemes.ceil(text, pos) == min(b for b in truth if b >= pos)


def test_long_runs_without_anchors() -> None:
    flags = "🇨🇳" * 5_000  # 10,000 regional indicators: pairs counted from the run's start
    text = "x" + flags
    for pos in (9_001, 9_002, 9_003):
        assert (graphemes.floor(text, pos) - 1) % 2 == 0
        assert (graphemes.ceil(text, pos) - 1) % 2 == 0
    marks = "e" + "\u0301" * 900 + " tariffs"  # one cluster, shorter than LOOKBACK
    assert graphemes.floor(marks, 800) == 0
    assert graphemes.ceil(marks, 800) == 901
