"""The language of a watch and how its words inflect.

A watch's language comes from ``lang:xx`` in the query, else from the query's own words:
their script (Cyrillic → Russian, Greek, Arabic, Hebrew, Devanagari → Hindi, Hangul →
Korean, kana → Japanese, Han → Chinese, Thai …) or, for Latin script, letters only some
languages use (``ß ä ö ü`` German, ``ñ`` Spanish, ``ş ğ ı`` Turkish, ``ç è ê`` French, …).
Plain Latin letters are English.

How a word of that language matches (``WordRule``):

- English: the README's small plural rule set (``bot.query.words.forms``);
- a language with a Snowball stemmer (German, Russian, Spanish, French, Turkish, Greek,
  Arabic, Hindi …): a text word matches when it has the same stem (``Zoll`` = ``Zölle``,
  ``пошлины`` = ``пошлинами``), and starts with the part the query word and its stem
  share, so a stem can never pull in a word that merely ends alike. Stems shorter than four
  letters do not inflect (Spanish ``mes`` is not ``mesa``);
- Korean: a noun with a particle attached (``관세`` = ``관세를``, ``관세가``, ``관세에서는``);
- Hebrew and Arabic: a word with its attached prefixes (``ישראל`` = ``בישראל``,
  ``السعودية`` = ``والسعودية``, ``للسعودية``); Arabic does not use its Snowball stemmer, which
  strips prefixes too and so cannot anchor a search;
- Chinese, Japanese, Thai and the other unspaced scripts, Vietnamese: the word itself.

A word of another script than the language's (``Trump`` in a Russian query) matches as
itself (English rules for Latin words).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from bot.core.errors import QueryError
from bot.query.fold import fold

__all__ = [
    "LANGUAGES",
    "WordRule",
    "check_language",
    "detect_language",
    "language_name",
    "stem_key",
    "word_rule",
]

# code → (English name, Snowball algorithm or "")
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", ""), "de": ("German", "german"), "fr": ("French", "french"),
    "es": ("Spanish", "spanish"), "it": ("Italian", "italian"), "pt": ("Portuguese", "portuguese"),
    "nl": ("Dutch", "dutch"), "sv": ("Swedish", "swedish"), "da": ("Danish", "danish"),
    "no": ("Norwegian", "norwegian"), "fi": ("Finnish", "finnish"), "pl": ("Polish", "polish"),
    "cs": ("Czech", "czech"), "hu": ("Hungarian", "hungarian"), "ro": ("Romanian", "romanian"),
    "ca": ("Catalan", "catalan"), "id": ("Indonesian", "indonesian"), "tr": ("Turkish", "turkish"),
    "ru": ("Russian", "russian"), "sr": ("Serbian", "serbian"), "el": ("Greek", "greek"),
    "ar": ("Arabic", "arabic"), "fa": ("Persian", "persian"), "hi": ("Hindi", "hindi"),
    "ne": ("Nepali", "nepali"), "hy": ("Armenian", "armenian"), "he": ("Hebrew", ""),
    "ko": ("Korean", ""), "ja": ("Japanese", ""), "zh": ("Chinese", ""), "th": ("Thai", ""),
    "lo": ("Lao", ""), "km": ("Khmer", ""), "my": ("Burmese", ""), "vi": ("Vietnamese", ""),
}  # fmt: skip

# Script of a character → language, by Unicode block (first match wins).
_SCRIPT_BLOCKS = (
    (0x0370, 0x03FF, "el"), (0x1F00, 0x1FFF, "el"), (0x0400, 0x052F, "ru"),
    (0x0590, 0x05FF, "he"), (0x0600, 0x06FF, "ar"), (0x0900, 0x097F, "hi"),
    (0x0530, 0x058F, "hy"), (0x0E00, 0x0E7F, "th"), (0x0E80, 0x0EFF, "lo"),
    (0x1000, 0x109F, "my"), (0x1780, 0x17FF, "km"), (0x3040, 0x30FF, "ja"),
    (0x1100, 0x11FF, "ko"), (0x3130, 0x318F, "ko"), (0xAC00, 0xD7AF, "ko"),
    (0x3400, 0x4DBF, "zh"), (0x4E00, 0x9FFF, "zh"), (0x20000, 0x3FFFF, "zh"),
)  # fmt: skip
# Latin letters only some languages use (lower case), tried in this order.
_LATIN_HINTS = (
    ("vi", "ăâđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"),
    ("tr", "şğı"),
    ("de", "ßäöü"),
    ("es", "ñ¿¡"),
    ("pt", "ãõ"),
    ("fr", "çèêëîïôûùœæ"),
    ("pl", "ąęłńśźż"),
    ("cs", "ěřůčšž"),
    ("ro", "țșăî"),
    ("sv", "å"),
    ("es", "áíóú"),
)
_HANGUL_PARTICLES = (
    "이", "가", "을", "를", "은", "는", "의", "에", "에서", "에게", "께", "와", "과", "로",
    "으로", "도", "만", "까지", "부터", "보다", "처럼", "이나", "나", "랑", "이랑", "한테",
    "에게서", "로서", "으로서", "로써", "으로써", "마저", "조차", "에는", "에서는", "에도",
    "에서도", "으로는", "로는", "와의", "과의", "에서의", "에의", "로의", "으로의", "까지는",
    "부터는", "이라는", "라는", "이다", "였다", "이었다", "이며", "이고", "에게는", "만이",
    "만을", "도는",
)
_HEBREW_PREFIXES = (
    "ב", "ה", "ו", "כ", "ל", "מ", "ש", "וה", "וב", "ול", "ומ", "וש", "וכ", "שה", "שב", "של",
    "שמ", "מה", "לה", "בה", "כש",
)
_ARABIC_PREFIXES = (
    "و", "ف", "ب", "ل", "ك", "وب", "ول", "فب", "فل",
)
MIN_STEM = 4


def language_name(code: str) -> str:
    """``German (de)`` for ``de``."""
    return f"{LANGUAGES[code][0]} ({code})"


def check_language(code: str, position: int) -> str:
    """The language code of ``lang:code``; refuses an unknown one, naming the known ones."""
    lowered = code.lower()
    if lowered not in LANGUAGES:
        known = " ".join(sorted(LANGUAGES))
        raise QueryError(f"unknown language {code!r} in lang: (known: {known})", position)
    return lowered


def _script_language(char: str) -> str | None:
    code = ord(char)
    for low, high, lang in _SCRIPT_BLOCKS:
        if low <= code <= high:
            return lang
    return None


def detect_language(words: list[str]) -> str:
    """The language a query's words are written in (see the module docstring)."""
    counts: dict[str, int] = {}
    for word in words:
        for char in word:
            lang = _script_language(char)
            if lang is not None:
                counts[lang] = counts.get(lang, 0) + 1
    if counts.get("ja") and counts.get("zh"):
        counts["ja"] += counts.pop("zh")  # kana with kanji: Japanese
    if counts:
        return max(sorted(counts), key=lambda lang: counts[lang])
    text = " ".join(words).lower()
    for lang, letters in _LATIN_HINTS:
        if any(char in text for char in letters):
            return lang
    return "en"


@dataclass(frozen=True, slots=True)
class WordRule:
    """Which text words match one query word in its language.

    A text word matches when its folded form is one of ``forms``; with a ``stem``, also
    when its folded form starts with ``anchor`` and ``stem_key`` of the word as written is
    ``stem``.
    """

    forms: frozenset[str]
    kind: str = "exact"  # "english" (the plural rules), "stem", "affix" (Korean, Hebrew, Arabic)
    stem: str = ""
    anchor: str = ""
    algorithm: str = ""

    def accepts(self, folded: str, raw: str) -> bool:
        """Whether a text word (``folded`` and as written, ``raw``) is this word in some form."""
        if folded in self.forms:
            return True
        return (
            bool(self.stem)
            and folded.startswith(self.anchor)
            and stem_key(self.algorithm, raw) == self.stem
        )


@lru_cache(maxsize=64)
def _stemmer(algorithm: str) -> snowballstemmer.Stemmer:
    return snowballstemmer.stemmer(algorithm)


@lru_cache(maxsize=65536)
def stem_key(algorithm: str, raw: str) -> str:
    """The folded Snowball stem of ``raw`` (a word as written) in ``algorithm``'s language.

    The stemmer sees the word lower-cased with its accents (its suffix lists have them:
    Spanish ``-ación``, Turkish ``-lığı``); the stem is folded afterwards, so text without
    accents compares equal.
    """
    lowered = raw.replace("İ", "i").replace("I", "ı").lower() if algorithm == "turkish" else (
        raw.casefold()
    )
    return fold(str(_stemmer(algorithm).stemWord(lowered)))


_LATIN_LANGUAGES = frozenset((
    "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "hu", "ro", "ca",
    "id", "tr", "vi", "en",
))


def _same_script(word: str, lang: str) -> bool:
    """Whether ``word`` is written in the script of ``lang`` (Latin for Latin languages)."""
    script = next((s for s in map(_script_language, word) if s is not None), None)
    if script in ("ja", "zh"):
        return lang in ("ja", "zh")
    if script is None:
        return lang in _LATIN_LANGUAGES
    return script == lang


def word_rule(
    raw: str, folded: str, lang: str, base_forms: frozenset[str], first: bool, last: bool
) -> WordRule:
    """How a query word (``raw`` as written, ``folded``) matches in ``lang``.

    ``base_forms`` are its forms by the English rules: used for English, and for a word of
    another script than the language's when it is the last word of its term.
    """
    if lang == "en" or not _same_script(raw, lang):
        return WordRule(base_forms, "english") if last else WordRule(frozenset({folded}))
    if lang == "ar" and first:
        return WordRule(_arabic_forms(folded), "affix")
    algorithm = LANGUAGES[lang][1]
    if algorithm:
        stem = stem_key(algorithm, raw)
        anchor = _common_prefix(folded, stem)
        if len(stem) < MIN_STEM or len(anchor) < MIN_STEM - 1:
            return WordRule(frozenset({folded}))
        return WordRule(frozenset({folded}), "stem", stem, anchor, algorithm)
    if lang == "ko" and last:
        return WordRule(frozenset({folded, *(folded + p for p in _HANGUL_PARTICLES)}), "affix")
    if lang == "he" and first:
        return WordRule(frozenset({folded, *(p + folded for p in _HEBREW_PREFIXES)}), "affix")
    return WordRule(frozenset({folded}))


def _arabic_forms(word: str) -> frozenset[str]:
    """An Arabic word with its attached conjunctions, prepositions and article."""
    out = {word, *(p + word for p in _ARABIC_PREFIXES)}
    if word.startswith("ال") and len(word) > 3:
        out.update(("لل" + word[2:], "ولل" + word[2:], "فلل" + word[2:]))
    else:
        out.update(p + "ال" + word for p in ("", "و", "ف", "ب", "ك", "وب"))
    return frozenset(out)


def _common_prefix(a: str, b: str) -> str:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return a[:size]
