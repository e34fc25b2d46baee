"""Grapheme cluster boundaries near one position, in time that does not grow with the text.

A cut between two code points of one grapheme (a flag's two regional indicators, an emoji
and its skin tone, a letter and its marks) shows the reader something else: another flag, a
lone colour swatch, a stray accent. ``regex``'s ``\\X`` finds the clusters, but it must
start at a boundary, and scanning a 100,000-character sentence from its start costs about
a second. So the scan starts at a nearby *anchor*: a position that is a boundary whatever
comes before it (an ASCII character, a space, a Han or Kana character, none of which joins
the character before it, unless that one is a Prepend character). Without an anchor within
``LOOKBACK`` characters (a hostile run of marks, emoji or flags) the scan starts
``LOOKBACK`` back, moved to a pair boundary in a run of flags; a single cluster longer than
that (thousands of marks on one letter) may then be cut.
"""

from __future__ import annotations

import regex

__all__ = ["LOOKBACK", "ceil", "floor"]

LOOKBACK = 1024
_CLUSTER = regex.compile(r"\X")
_ANCHORS = regex.compile(r"(?r)[\s\x21-\x7e\p{Han}\p{Hiragana}\p{Katakana}]")  # searched backwards
_PREPEND = regex.compile(r"\p{GCB=Prepend}")
_RI = regex.compile(r"\p{Regional_Indicator}")
_NOT_RI = regex.compile(r"(?r)\P{Regional_Indicator}")


def _start(text: str, pos: int, lo: int) -> int:
    """A boundary at or before ``pos`` (not before ``lo``) to start the scan from."""
    bottom = max(lo, pos - LOOKBACK)
    end = pos + 1
    while end > bottom:
        found = _ANCHORS.search(text, bottom, end)
        if found is None:
            break
        q: int = found.start()
        joined = q > lo and (_PREPEND.match(text, q - 1) or text[q - 1 : q + 1] == "\r\n")
        if not joined:
            return q
        end = q
    # No anchor near: a hostile run. Flags pair up from the start of their run; inside a
    # cluster longer than LOOKBACK (thousands of marks on one letter) the cut may split it.
    if bottom > lo and _RI.match(text, bottom):
        other = _NOT_RI.search(text, lo, bottom)
        run: int = other.end() if other is not None else lo
        bottom -= (bottom - run) % 2
    return bottom


def _boundaries(text: str, pos: int, lo: int, hi: int) -> list[int]:
    start = _start(text, pos, lo)
    stop = min(hi, pos + LOOKBACK)
    marks = [m.start() for m in _CLUSTER.finditer(text, start, stop)]
    marks.append(stop)
    return marks


def floor(text: str, pos: int, lo: int = 0, hi: int | None = None) -> int:
    """The last grapheme boundary at or before ``pos`` within ``text[lo:hi]``."""
    hi = len(text) if hi is None else hi
    if pos <= lo or pos >= hi:
        return min(max(pos, lo), hi)
    return max(b for b in _boundaries(text, pos, lo, hi) if b <= pos)


def ceil(text: str, pos: int, lo: int = 0, hi: int | None = None) -> int:
    """The first grapheme boundary at or after ``pos`` within ``text[lo:hi]``."""
    hi = len(text) if hi is None else hi
    if pos <= lo or pos >= hi:
        return min(max(pos, lo), hi)
    return min(b for b in _boundaries(text, pos, lo, hi) if b >= pos)
