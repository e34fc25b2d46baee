"""Where each character of normalised text came from in the text as published.

The matcher reads a field's *normal* form (``bot.core.text.finish``: NFKC, soft hyphens and
zero-width characters out, whitespace collapsed); alerts show the *published* form
(``html_to_published``: the same without NFKC and without dropping invisible characters).
``align(published)`` computes the normal form together with a map from its offsets back to
the published text, so a snippet can show ``10⁶``, ``CO₂`` and ``™`` as written and still
bold exactly the words the matcher found.

NFKC is applied segment by segment: a segment starts at each character that neither changes
under NFKC nor can combine with what precedes it (combining class 0, NFKC quick check Yes),
and such characters are left as they are; UAX #15 guarantees that normalising the segments
one by one gives the same text as normalising the whole. The other steps only delete or
collapse characters. Each step records its changed regions (output range → input range),
so the map costs memory per change, not per character, and a lookup is a binary search.
Everything is linear in the text.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

import regex

from bot.core.text import INVISIBLE

__all__ = ["Alignment", "align"]

_DROP = dict.fromkeys(map(ord, INVISIBLE))
# Characters that are not a segment start: they change under NFKC or may join the one before.
_UNSTABLE = r"\P{ccc=0}\p{NFKC_QC=N}\p{NFKC_QC=M}"
_SEGMENT = regex.compile(rf"[^{_UNSTABLE}]?[{_UNSTABLE}]+")
# Whitespace and invisible characters that the normal form rewrites: runs of two or more,
# and single ones other than " " and "\n" (those stay as they are).
_GAP = rf"[\s{INVISIBLE}]"
_EDIT = re.compile(rf"{_GAP}{{2,}}|[^\S \n]|[{INVISIBLE}]")


class _Step:
    """One rewrite: its changed regions (output range → input range); identity in between."""

    __slots__ = ("_changes", "_outs")

    def __init__(self) -> None:
        self._outs: list[int] = []
        self._changes: list[tuple[int, int, int, int, bool]] = []

    def add(self, out0: int, out1: int, in0: int, in1: int, exact: bool = False) -> None:
        """Output [out0, out1) came from input [in0, in1); ``exact``: character by character."""
        self._outs.append(out0)
        self._changes.append((out0, out1, in0, in1, exact))

    def source(self, pos: int) -> tuple[int, int]:
        """The input range that output character ``pos`` came from."""
        i = bisect_right(self._outs, pos) - 1
        if i < 0:
            return pos, pos + 1
        out0, out1, in0, in1, exact = self._changes[i]
        if pos < out1:
            return (in0 + pos - out0, in0 + pos - out0 + 1) if exact else (in0, in1)
        shifted = pos - out1 + in1
        return shifted, shifted + 1


@dataclass(frozen=True, slots=True)
class Alignment:
    """The normal form of ``published`` and the map back (see the module docstring)."""

    text: str
    published: str
    steps: tuple[_Step, ...]

    def source(self, start: int, end: int) -> tuple[int, int]:
        """The range of ``published`` that ``text[start:end]`` came from (``(0, 0)`` if empty)."""
        if not self.text:
            return 0, 0
        if end <= start:
            point = self.source(start, start + 1)[0]
            return point, point
        first = min(max(start, 0), len(self.text) - 1)
        last = min(max(end - 1, first), len(self.text) - 1)
        for step in reversed(self.steps):
            first = step.source(first)[0]
            last = step.source(last)[1] - 1
        return first, last + 1


def _nfkc(text: str) -> tuple[str, _Step]:
    step = _Step()
    out: list[str] = []
    pos = length = 0
    for match in _SEGMENT.finditer(text):
        start, end = match.span()
        out.append(text[pos:start])
        length += start - pos
        segment = match.group()
        normal = unicodedata.normalize("NFKC", segment)
        out.append(normal)
        pos = end
        if normal == segment:
            length += len(normal)
            continue
        pieces = [unicodedata.normalize("NFKC", char) for char in segment]
        if "".join(pieces) != normal:  # composed: the whole segment maps to the whole
            step.add(length, length + len(normal), start, end)
        else:
            _add_pieces(step, pieces, length, start)
        length += len(normal)
    out.append(text[pos:])
    return "".join(out), step


def _add_pieces(step: _Step, pieces: list[str], out: int, start: int) -> None:
    """Changes for a segment normalised character by character (``pieces``).

    Runs of characters that stay one character (full-width text) become one exact change;
    each expansion (``™`` → ``TM``) is a change of its own.
    """
    run_out, run_in = out, start
    for i in [i for i, piece in enumerate(pieces) if len(piece) != 1]:
        at = run_out + start + i - run_in  # output position of piece i
        if start + i > run_in:
            step.add(run_out, at, run_in, start + i, exact=True)
        step.add(at, at + len(pieces[i]), start + i, start + i + 1)
        run_out, run_in = at + len(pieces[i]), start + i + 1
    end = start + len(pieces)
    if end > run_in:
        step.add(run_out, run_out + end - run_in, run_in, end, exact=True)


def _gaps(text: str) -> tuple[str, _Step]:
    step = _Step()
    out: list[str] = []
    pos = length = 0
    for match in _EDIT.finditer(text):
        start, end = match.span()
        out.append(text[pos:start])
        length += start - pos
        rest = match.group().translate(_DROP)
        new = "\n" if "\n" in rest else " " if rest else ""
        step.add(length, length + len(new), start, end)
        out.append(new)
        length += len(new)
        pos = end
    out.append(text[pos:])
    return "".join(out), step


def align(published: str) -> Alignment:
    """The normal form of ``published`` (equal to ``bot.core.text.finish``) and its map."""
    text, nfkc = (published, _Step()) if published.isascii() else _nfkc(published)
    text, gaps = _gaps(text)
    stripped = text.lstrip(" \n")
    strip = _Step()
    if len(stripped) < len(text):
        strip.add(0, 0, 0, len(text) - len(stripped))
    return Alignment(stripped.rstrip(" \n"), published, (nfkc, gaps, strip))
