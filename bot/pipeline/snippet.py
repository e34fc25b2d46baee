"""Alert snippets: the sentence (or two) around the first match, matched terms in bold.

The snippet is neutral data (``bot.core.model.Snippet``): plain text plus bold ranges into it.
Escaping for Discord happens later, on this already-short text.

- The first span in the summary (else the content, else the article body) anchors the
  snippet, so a name only the article's fourth paragraph holds gives that paragraph's
  sentence; spans only in the title, author, tags, feed name or link give the lead of the
  summary (else the content, else the body), with the words they matched in bold where
  the lead has them too (``title:TSLA`` bolds ``TSLA`` in the lead).
- The text shown is the field as published (HTML stripped, whitespace collapsed), not the
  NFKC form the matcher reads: ``10⁶``, ``CO₂``, ``™`` and full-width punctuation stay as
  written. Match spans are mapped back to it through ``bot.core.aligned``.
- The window is the anchor's sentence, plus the next (or else the previous) sentence when
  both fit in ``max_chars``. A longer sentence is cut on word boundaries around the match,
  with ``…`` marking each cut; the ellipses count towards ``max_chars``. A word too long to
  keep whole (a run of an unspaced script such as Chinese) is cut between graphemes, never
  inside a flag, an emoji with its skin tone, or a letter with its marks.
- Sentences end at ``. ! ? …`` followed by a space, at ``。 ！ ？ । ॥`` (no space needed), or
  at a block break; not after a one-letter word (``U.S.``) or a few common abbreviations
  (``Mr.``, ``Dr.``, ``Inc.``) unless a paragraph break follows.
- Every step is linear in the text: one hostile item cannot stall a poll.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core import graphemes
from bot.core.aligned import align
from bot.core.model import Snippet, Span
from bot.pipeline.match import Document
from bot.query.words import is_word_char, tokenize, word_list

__all__ = ["make_snippet"]

_BODY_FIELDS = ("summary", "content", "body")
_ELLIPSIS = "…"
# Possessive quantifiers and the look-behind make each run of punctuation one attempt: a
# run of 40,000 dots costs one pass, not one pass per dot (which was quadratic).
_SENTENCE_END = re.compile(
    r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+\s++"
    r"|(?<![。！？｡।॥])[。！？｡।॥]++[\"'”’)\]」』）》]*+\s*+"
    r"|\n"
)
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "no", "gen", "gov", "sen", "rep",
    "inc", "corp", "co", "ltd", "jan", "feb", "aug", "sept", "oct", "nov", "dec",
})  # fmt: skip
_LONGEST_ABBREVIATION = 5
# A word longer than this is cut between graphemes rather than dropped whole from the window.
_MAX_WORD_SHIFT = 24


def make_snippet(doc: Document, spans: Sequence[Span], max_chars: int = 300) -> Snippet:
    """Build the alert snippet for ``doc`` from the match ``spans`` (see the module docstring)."""
    max_chars = max(max_chars, 20)
    body = sorted(
        (s for s in spans if s.field in _BODY_FIELDS),
        key=lambda s: (_BODY_FIELDS.index(s.field), s.start),
    )
    if body:
        field = body[0].field
    else:
        field = next((f for f in _BODY_FIELDS if doc.fields.get(f)), "summary")
    normal = doc.fields.get(field, "")
    if not normal.strip():
        return Snippet("")
    published = doc.published.get(field, "")
    alignment = align(published) if published else None
    if alignment is None or alignment.text != normal:
        text, source = normal, _identity
    else:
        text, source = published, alignment.source
    anchor = source(body[0].start, max(body[0].end, body[0].start)) if body else (0, 0)
    start, end, cut_left, cut_right = _window(text, anchor, max_chars)
    shown = [s for s in spans if s.field == field] if body else _echoes(doc, spans, field)
    bold = [source(s.start, s.end) for s in shown if s.end > s.start]
    bold = [(a, b) for a, b in bold if b > start and a < end]
    return _render(text, start, end, cut_left, cut_right, bold)


def _echoes(doc: Document, spans: Sequence[Span], field: str) -> list[Span]:
    """For a match outside the text fields (``title:TSLA``): the same words in the lead.

    Whole words, compared casefolded, so the reader sees in bold why the item matched.
    """
    wanted = {
        word.casefold()
        for s in spans
        for word in word_list(doc.fields.get(s.field, "")[s.start : s.end])
    }
    if not wanted:
        return []
    return [Span(field, token.start, token.end, "")
            for token in tokenize(doc.fields.get(field, "")) if token.word.casefold() in wanted]


def _identity(start: int, end: int) -> tuple[int, int]:
    return start, end


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; ``end`` includes the closing punctuation."""
    out: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        found = match.group()
        if "\n" not in found and _is_abbreviation(text, match.start()):
            continue
        end = match.start() + len(found.rstrip())
        if end > start:
            out.append((start, end))
        start = match.end()
    if start < len(text):
        out.append((start, len(text)))
    return out or [(0, len(text))]


def _is_abbreviation(text: str, dot: int) -> bool:
    """A full stop after a one-letter word or a known abbreviation does not end a sentence."""
    if text[dot] != ".":
        return False
    begin = dot
    floor = max(0, dot - _LONGEST_ABBREVIATION - 1)  # longer words are no abbreviation
    while begin > floor and is_word_char(text[begin - 1]):
        begin -= 1
    if begin > 0 and is_word_char(text[begin - 1]):
        return False
    word = text[begin:dot]
    return len(word) == 1 or word.casefold() in _ABBREVIATIONS


def _window(text: str, anchor: tuple[int, int], max_chars: int) -> tuple[int, int, bool, bool]:
    """Pick [start, end) of ``text`` around ``anchor``; flags say where a sentence was cut."""
    sentences = _sentences(text)
    index = next((i for i, (a, b) in enumerate(sentences) if anchor[0] < b), len(sentences) - 1)
    start, end = sentences[index]
    if end - start > max_chars:
        return _cut(text, (start, end), anchor, max_chars)
    for neighbour in (index + 1, index - 1):
        if 0 <= neighbour < len(sentences):
            a, b = sentences[neighbour]
            if max(end, b) - min(start, a) <= max_chars:
                start, end = min(start, a), max(end, b)
                break
    return start, end, False, False


def _cut(
    text: str, sentence: tuple[int, int], anchor: tuple[int, int], max_chars: int
) -> tuple[int, int, bool, bool]:
    """Cut a window of at most ``max_chars`` (ellipses included) out of a long sentence."""
    s_start, s_end = sentence
    budget = max_chars - 2  # room for an ellipsis on each side
    focus_end = min(anchor[1], anchor[0] + budget)
    # About a third of the room goes to context before the match, more if the sentence
    # ends soon after it; the match itself must fit.
    start = min(anchor[0] - budget // 3, s_end - budget)
    start = max(start, s_start, focus_end - budget)
    start = _word_start(text, graphemes.ceil(text, start, s_start, s_end), min(anchor[0], s_end))
    end = min(s_end, start + budget)
    end = graphemes.floor(text, end, start, s_end)
    end = _word_end(text, end, max(start, min(focus_end, end)))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end, start > s_start, end < s_end


def _word_start(text: str, pos: int, limit: int) -> int:
    """Move ``pos`` forward out of a word it splits, unless the word is long (see above)."""
    if pos <= 0 or pos >= len(text) or not is_word_char(text[pos - 1]):
        return pos
    end = pos
    stop = min(limit, pos + _MAX_WORD_SHIFT)
    while end < stop and is_word_char(text[end]):
        end += 1
    if end < len(text) and is_word_char(text[end]):
        return pos  # too long to keep whole: cut between graphemes
    return graphemes.ceil(text, end, pos)


def _word_end(text: str, pos: int, floor: int) -> int:
    """Move ``pos`` back out of a word it splits, unless the word is long (see above)."""
    if pos >= len(text) or not is_word_char(text[pos]) or not is_word_char(text[pos - 1]):
        return pos
    back = pos
    stop = max(floor, pos - _MAX_WORD_SHIFT)
    while back > stop and is_word_char(text[back - 1]):
        back -= 1
    if back > floor and not is_word_char(text[back - 1]):
        return graphemes.floor(text, back, floor)
    return pos  # the word is too long, or starts before the match: cut between graphemes


def _render(
    text: str, start: int, end: int, cut_left: bool, cut_right: bool, bold: list[tuple[int, int]]
) -> Snippet:
    """Collapse whitespace in text[start:end], add ellipses, map bold ranges into the result."""
    out: list[str] = [_ELLIPSIS] if cut_left else []
    length = len(out[0]) if out else 0
    mapping: dict[int, int] = {}
    pending_space = False
    for pos in range(start, end):
        char = text[pos]
        if char.isspace():
            pending_space = length > (1 if cut_left else 0)
            continue
        if pending_space:
            out.append(" ")
            length += 1
            pending_space = False
        mapping[pos] = length
        out.append(char)
        length += 1
    if cut_right:
        out.append(_ELLIPSIS)
    snippet_text = "".join(out)
    return Snippet(snippet_text, _map_bold(bold, mapping, start, end))


def _map_bold(
    bold: list[tuple[int, int]], mapping: dict[int, int], start: int, end: int
) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for a, b in sorted(bold):
        a, b = max(a, start), min(b, end)
        inside = [mapping[p] for p in range(a, b) if p in mapping]
        if not inside:
            continue
        lo, hi = inside[0], inside[-1] + 1
        if ranges and lo <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(hi, ranges[-1][1]))
        else:
            ranges.append((lo, hi))
    return tuple(ranges)
