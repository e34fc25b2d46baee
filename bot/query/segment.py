"""Words of scripts written without spaces, split by ICU's word break (through ``icu4py``).

Chinese, Japanese, Thai, Lao, Khmer and Myanmar put no spaces between words, so a run of
letters there is a sentence, not a word. ICU's dictionary-based word break splits such a run
into words (``中国限制稀土出口`` → ``中国 限制 稀土 出口``) and separates a Latin word touching
Han characters (``美国总统Trump表示`` → ``… 总统 Trump 表示``). Runs of spaced scripts never go
through ICU, so matching there stays exactly whole-word (``Xi`` never fires on *taxi*).

The ``icu4py`` wheel bundles ICU itself: nothing is needed from the system.
"""

from __future__ import annotations

import re
from functools import lru_cache

from icu4py.breakers import WordBreaker

__all__ = ["UNSPACED", "has_unspaced", "is_unspaced_char", "split_run"]

# Scripts whose words are not separated by spaces (Unicode blocks; extension planes of Han).
_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana (with ー)
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # Han extension A
    (0x4E00, 0x9FFF),  # Han
    (0xA9E0, 0xA9FF),  # Myanmar extended B
    (0xAA60, 0xAA7F),  # Myanmar extended A
    (0xF900, 0xFAFF),  # Han compatibility
    (0x20000, 0x3FFFF),  # Han extensions B…
)
# Two searches, not one class: sre compiles a class of BMP ranges to a fast bitmap, and a
# range above the BMP would turn it into a slow list.
UNSPACED = re.compile(
    "["
    + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in _RANGES if b < 0x10000)
    + "]"
)
_UNSPACED_HIGH = re.compile("[\U00020000-\U0003ffff]")
_ABOVE_BMP = re.compile("[\U00010000-\U0010ffff]")


_BMP_UNSPACED = frozenset(chr(c) for a, b in _RANGES if b < 0x10000 for c in range(a, b + 1))


def is_unspaced_char(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    return char in _BMP_UNSPACED or "\U00020000" <= char <= "\U0003ffff"


def has_unspaced(text: str) -> bool:
    """Whether ``text`` has a character of a script written without spaces."""
    return not text.isascii() and (
        UNSPACED.search(text) is not None or _UNSPACED_HIGH.search(text) is not None
    )


def split_run(run: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of each word of ``run``, a run of word characters, by ICU's word break.

    Offsets are code-point indices into ``run`` (ICU counts UTF-16 units; converted here).
    Short runs are cached: headlines repeat across feeds, polls and watches.
    """
    return _split_cached(run) if len(run) <= 256 else _split(run)


@lru_cache(maxsize=16384)
def _split_cached(run: str) -> tuple[tuple[int, int], ...]:
    return _split(run)


def _split(run: str) -> tuple[tuple[int, int], ...]:
    """ICU's boundaries that touch an unspaced-script character; others are not boundaries.

    So ``동결했고es`` stays one word as in spaced text, while ``Trump表示`` splits: the
    prefilter (``bot.query.fast``) can then tell a possible boundary from two characters.
    """
    ends = [b for _, b in WordBreaker(run, "root").segments()]
    high = _ABOVE_BMP.search(run) is not None
    if high:
        ends = _code_points(run, ends)
    size, unspaced = len(run), _BMP_UNSPACED
    out: list[tuple[int, int]] = []
    start = 0
    for end in ends:
        if end >= size:
            break
        if end > start and (
            run[end - 1] in unspaced
            or run[end] in unspaced
            or (high and (is_unspaced_char(run[end - 1]) or is_unspaced_char(run[end])))
        ):
            out.append((start, end))
            start = end
    out.append((start, size))
    return tuple(out)


def _code_points(run: str, units: list[int]) -> list[int]:
    """ICU's UTF-16 offsets as code-point offsets into ``run``."""
    index: dict[int, int] = {}
    unit = 0
    for i, char in enumerate(run):
        index[unit] = i
        unit += 2 if ord(char) > 0xFFFF else 1
    index[unit] = len(run)
    return [index[u] for u in units if u in index]
