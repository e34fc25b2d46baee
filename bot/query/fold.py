"""Case and accent folding: how a word is compared unless its term starts with ``=``.

``fold`` is ``str.casefold`` (which already turns the Greek final sigma ``ς`` into ``σ`` and
``ß`` into ``ss``) followed by a one-pass translation table that removes what readers of
each script ignore when comparing words:

- Latin and Greek accents and diacritics (``Élysée`` = ``ELYSEE``, ``Αθήνα`` = ``ΑΘΗΝΑ``,
  Vietnamese tone marks), and the letters with a stroke that do not decompose (``đ`` → ``d``,
  ``ł`` → ``l``, ``ø`` → ``o``); the Turkish dotted ``İ`` (casefolded to ``i`` plus a dot) and
  dotless ``ı`` both become ``i``;
- Cyrillic ``ё`` → ``е`` (Russian text writes either); ``й`` stays a letter of its own;
- Arabic vowel marks (harakat), the superscript alef and the tatweel (``ـ``), and the hamza
  forms of alef (``أ إ آ`` → ``ا``);
- Hebrew points (niqqud and cantillation).

Marks of other scripts (Devanagari vowel signs, Thai vowels, Japanese dakuten) are letters
there and stay. The table maps single characters, so folding a text folds each of its words
and the word boundaries stay where they were.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "fold_table"]

_STRIPPED_MARKS = [
    *range(0x0300, 0x0370),  # combining diacritical marks (Latin, Greek, Cyrillic)
    *range(0x1AB0, 0x1B00),
    *range(0x1DC0, 0x1E00),
    *range(0xFE20, 0xFE30),
    *range(0x0610, 0x061B),  # Arabic marks
    *range(0x064B, 0x0660),
    0x0670,
    0x0640,  # Arabic tatweel (a letter-like stretch, not a letter)
    *range(0x06D6, 0x06DD),
    *range(0x06DF, 0x06E9),
    *range(0x06EA, 0x06EE),
    *range(0x0591, 0x05BE),  # Hebrew points
    0x05BF,
    0x05C1,
    0x05C2,
    0x05C4,
    0x05C5,
    0x05C7,
]
_LETTERS = {
    "ı": "i", "đ": "d", "ł": "l", "ø": "o", "ħ": "h", "ŀ": "l", "ŧ": "t", "ё": "е",
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
}  # fmt: skip
# Precomposed letters of these blocks fold to their base letter (Latin, Greek).
_DECOMPOSED_BLOCKS = ((0x00C0, 0x0250), (0x0370, 0x0400), (0x1E00, 0x2000))


def fold_table() -> dict[int, str | None]:
    """The translation table ``fold`` applies after casefolding (built once at import)."""
    table: dict[int, str | None] = dict.fromkeys(_STRIPPED_MARKS)
    for low, high in _DECOMPOSED_BLOCKS:
        for code in range(low, high):
            char = chr(code)
            parts = unicodedata.normalize("NFD", char)
            if len(parts) > 1 and all(ord(m) in table for m in parts[1:]):
                base = parts[0].casefold()
                table[code] = _LETTERS.get(base, base)
    for letter, plain in _LETTERS.items():
        table[ord(letter)] = plain
    return table


_TABLE = fold_table()
_FOLDABLE = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_TABLE)) + "]")


def fold(text: str) -> str:
    """``text`` casefolded and with accents, diacritics and marks removed (see the module)."""
    folded = text.casefold()
    if folded.isascii() or _FOLDABLE.search(folded) is None:
        return folded
    return folded.translate(_TABLE)
