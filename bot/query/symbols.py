"""Symbols in query words: matched as written or refused, never silently dropped.

Words are made of letters, digits and marks (``bot.query.words``), so in ``C++``, ``10%``,
``.NET``, ``$TSLA`` or ``#Cop30`` the symbol would vanish and the query would match
*Vitamin C*, *kills 10*, *the net result*. Symbols *between* two words are kept: the text
must have exactly them there (``AT&T``, ``1,000``, ``U.S.``). A symbol before the first word
or after the last is refused with a message that says how to write the query instead.
Sentence punctuation after a word (``Inc.``, ``Yahoo!``) and quotes around it are fine.
"""

from __future__ import annotations

import re
import unicodedata

from bot.core.errors import QueryError
from bot.core.text import normalize_query
from bot.query.lexer import Tok
from bot.query.words import Token

__all__ = ["check_symbols", "normalize_query"]

# Punctuation that may stand at a word's edge without changing what the word is.
_TRAILING_OK = frozenset(".,;:!?'\"’”»)]}。、，！？：；")
_LEADING_OK = frozenset("'\"‘“«([{¿¡")


def _refused(char: str, trailing: bool) -> bool:
    """Whether ``char`` at a word's edge would be a meaningful symbol lost in matching."""
    if char in (_TRAILING_OK if trailing else _LEADING_OK) or char.isspace():
        return False
    # Dashes are soft like spaces; anything else (+ % $ # @ & °, a leading ".") matters.
    return unicodedata.category(char) != "Pd"


def check_symbols(text: str, tokens: list[Token], tok: Tok) -> None:
    """Refuse ``text`` (a word chunk or phrase body) when a symbol stands at an edge."""
    lead = text[: tokens[0].start]
    trail = text[tokens[-1].end :]
    bad = [c for c in lead if _refused(c, trailing=False)]
    bad += [c for c in trail if _refused(c, trailing=True)]
    if not bad:
        return
    written = text.strip()
    pattern = re.escape(written).replace("/", "\\/")
    raise QueryError(
        f"{written!r}: the symbol {bad[0]!r} is not part of a word and would be dropped"
        f" (matching {tokens[0].word!r} alone); to match it as written use a regex such as"
        f" /{pattern}/i, or leave the symbol out",
        tok.position,
    )
