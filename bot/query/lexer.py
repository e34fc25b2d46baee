"""Split a watch query into tokens; every problem becomes a ``QueryError`` with a position."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from bot.core.errors import QueryError
from bot.query.ast import FIELDS

__all__ = ["Kind", "Tok", "lex"]

MAX_QUERY_CHARS = 2000
MAX_NEAR = 100


class Kind(Enum):
    """Token kinds."""

    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"  # also "-" at the start of a term
    NEAR = "NEAR"
    FIELD = "field"
    WORD = "word"  # a bare word chunk, e.g. tariff, rare-earth, tariff*
    PHRASE = "phrase"  # "…"
    REGEX = "regex"  # /…/ or /…/i
    LANG = "lang"  # lang:xx, the watch's language
    ABOUT = "about"  # about:"topic"~sensitivity (text: the topic, option: the sensitivity)


@dataclass(frozen=True, slots=True)
class Tok:
    """One token: kind, text (field name, chunk, phrase body, pattern), position, flags."""

    kind: Kind
    text: str
    position: int
    case_sensitive: bool = False
    ignore_case: bool = False  # regex /i
    distance: int = 0  # NEAR/n
    option: str = ""  # about: sensitivity as written after "~" ("" = the default)


_FIELD = re.compile(rf"({'|'.join(FIELDS)}):")
_LANG = re.compile(r"lang:([A-Za-z]+)(?=[\s()]|$)")
_NEAR = re.compile(r"NEAR(?:/(\d+))?$")
_DELIMS = frozenset('()"')
_NOT_AFTER_MINUS = frozenset(" \t\n\r\f\v)")
_OPERATORS = {"AND": Kind.AND, "OR": Kind.OR, "NOT": Kind.NOT}
_ABOUT = "about:"
_ABOUT_OPTION = re.compile(r"~([A-Za-z]+|\d*\.?\d+)")


def lex(query: str) -> list[Tok]:
    """Tokenise ``query``; raises ``QueryError`` naming the problem and its position."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"query is too long (at most {MAX_QUERY_CHARS} characters)", MAX_QUERY_CHARS
        )
    tokens: list[Tok] = []
    pos, length = 0, len(query)
    while pos < length:
        char = query[pos]
        if char.isspace():
            pos += 1
        elif char in "()":
            tokens.append(Tok(Kind.LPAREN if char == "(" else Kind.RPAREN, char, pos))
            pos += 1
        elif char == "-" and pos + 1 < length and query[pos + 1] not in _NOT_AFTER_MINUS:
            tokens.append(Tok(Kind.NOT, "-", pos))
            pos += 1
        elif lang := _LANG.match(query, pos):
            tokens.append(Tok(Kind.LANG, lang.group(1), pos))
            pos = lang.end()
        elif query.startswith(_ABOUT, pos):
            pos = _lex_about(query, pos, tokens)
        elif field := _FIELD.match(query, pos):
            tokens.append(Tok(Kind.FIELD, field.group(1), pos))
            pos = field.end()
        else:
            pos = _lex_term(query, pos, tokens)
    return tokens


def _lex_term(query: str, pos: int, tokens: list[Tok]) -> int:
    """Lex a term (word chunk, phrase, regex, optionally ``=``-prefixed); return the new pos."""
    start = pos
    case_sensitive = query[pos] == "="
    if case_sensitive:
        pos += 1
        if pos >= len(query) or query[pos].isspace() or query[pos] in "()/=":
            raise QueryError("'=' must be followed directly by a word or a quoted phrase", start)
    if query[pos] == '"':
        return _lex_phrase(query, pos, start, case_sensitive, tokens)
    if query[pos] == "/":
        return _lex_regex(query, pos, tokens)
    end = pos
    while end < len(query) and not query[end].isspace() and query[end] not in _DELIMS:
        end += 1
    chunk = query[pos:end]
    if not case_sensitive:
        if chunk in _OPERATORS:
            tokens.append(Tok(_OPERATORS[chunk], chunk, start))
            return end
        if chunk == "NEAR" or chunk.startswith("NEAR/"):
            tokens.append(_near(chunk, start))
            return end
    tokens.append(Tok(Kind.WORD, chunk, start, case_sensitive=case_sensitive))
    return end


def _near(chunk: str, position: int) -> Tok:
    """Parse ``NEAR/n``; anything else starting with NEAR is refused with a hint."""
    match = _NEAR.match(chunk)
    if match is None or match.group(1) is None:
        raise QueryError("NEAR needs a word distance, as in 'a NEAR/5 b'", position)
    distance = int(match.group(1)[:6])
    if distance > MAX_NEAR or len(match.group(1)) > 6:
        raise QueryError(f"NEAR distance must be between 0 and {MAX_NEAR}", position)
    return Tok(Kind.NEAR, chunk, position, distance=distance)


def _lex_phrase(query: str, pos: int, start: int, case_sensitive: bool, tokens: list[Tok]) -> int:
    close = query.find('"', pos + 1)
    if close < 0:
        raise QueryError("unbalanced quote: this phrase is never closed", pos)
    body = query[pos + 1 : close]
    end = close + 1
    if end < len(query) and query[end] == "*":
        # "rare earth"* is the same as "rare earth*": the last word is a prefix.
        body += "*"
        end += 1
    tokens.append(Tok(Kind.PHRASE, body, start, case_sensitive=case_sensitive))
    return end


def _lex_regex(query: str, pos: int, tokens: list[Tok]) -> int:
    end = pos + 1
    while end < len(query) and query[end] != "/":
        end += 2 if query[end] == "\\" else 1
    if end >= len(query):
        raise QueryError("unbalanced regex: missing the closing '/'", pos)
    pattern = query[pos + 1 : end]
    end += 1
    flags = end
    while flags < len(query) and not query[flags].isspace() and query[flags] not in _DELIMS:
        flags += 1
    flag_text = query[end:flags]
    if flag_text not in ("", "i"):
        raise QueryError(f"unknown regex flag {flag_text!r} (only 'i' is supported)", end)
    if not pattern:
        raise QueryError("empty regex", pos)
    tokens.append(Tok(Kind.REGEX, pattern, pos, ignore_case=flag_text == "i"))
    return flags


def _lex_about(query: str, pos: int, tokens: list[Tok]) -> int:
    """``about:"topic"`` or ``about:word``, optionally followed by ``~strict`` or ``~0.7``."""
    start = pos
    pos += len(_ABOUT)
    while pos < len(query) and query[pos] == " ":
        pos += 1
    if pos < len(query) and query[pos] == '"':
        close = query.find('"', pos + 1)
        if close < 0:
            raise QueryError("unbalanced quote: this phrase is never closed", pos)
        topic, end = query[pos + 1 : close], close + 1
    else:
        end = pos
        while end < len(query) and not query[end].isspace() and query[end] not in '()"~':
            end += 1
        topic = query[pos:end]
    if not any(c.isalnum() for c in topic):
        raise QueryError('about: needs a topic in words, as in about:"rare earth exports"', start)
    option = ""
    if end < len(query) and query[end] == "~":
        match = _ABOUT_OPTION.match(query, end)
        if match is None:
            raise QueryError("after '~' write strict, normal, broad or a number such as 0.7", end)
        option, end = match.group(1), match.end()
    if end < len(query) and not query[end].isspace() and query[end] != ")":
        raise QueryError("about: topic must be followed by a space or ')'", end)
    tokens.append(Tok(Kind.ABOUT, topic.strip(), start, option=option))
    return end
