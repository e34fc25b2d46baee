"""Parsing: tree shapes, precedence, and refusals that name the problem and its position."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.errors import QueryError
from bot.query.ast import DEFAULT_SCOPE, And, Near, Node, Not, Or, Regex, Term
from bot.query.parser import parse


def shape(node: Node) -> str:
    """A compact rendering of a tree, to compare precedence and scopes."""
    if isinstance(node, And):
        return "(" + " & ".join(shape(c) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " | ".join(shape(c) for c in node.children) + ")"
    if isinstance(node, Not):
        return "!" + shape(node.child)
    if isinstance(node, Near):
        return f"near{node.distance}({shape(node.left)}, {shape(node.right)})"
    scope = "" if node.fields == DEFAULT_SCOPE else ",".join(node.fields) + ":"
    if isinstance(node, Regex):
        return f"{scope}re[{node.key}]"
    word = " ".join(node.words) + ("*" if node.prefix else "")
    return f"{scope}{'=' if node.case_sensitive else ''}{word}"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tariff", "tariff"),
        ("Tariff", "tariff"),
        ("a b", "(a & b)"),
        ("a AND b", "(a & b)"),
        ("a OR b", "(a | b)"),
        ("a OR b c", "(a | (b & c))"),
        ("NOT a b", "(!a & b)"),
        ("-a -b", "(!a & !b)"),
        ("NOT NOT a", "!!a"),
        ("(a OR b) -c", "((a | b) & !c)"),
        ("a and b or not c", "(a & and & b & or & not & c)"),
        ('"rare earths"', "rare earths"),
        ("rare-earth", "rare earth"),
        ("tariff*", "tariff*"),
        ('"rare earth"*', "rare earth*"),
        ("=Xi", "=Xi"),
        ('="Xi Jinping"', "=Xi Jinping"),
        ("title:a", "title:a"),
        ("body:a", "body:a"),
        ("title: a", "title:a"),
        ("title:(a OR b)", "(title:a | title:b)"),
        ("title:(a summary:b)", "(title:a & summary:b)"),
        ("foo:bar", "foo bar"),
        ("a NEAR/5 b", "near5(a, b)"),
        ('a NEAR/0 "b c"', "near0(a, b c)"),
        ("-a NEAR/2 b", "!near2(a, b)"),
        ("x a NEAR/2 b", "(x & near2(a, b))"),
        ("/cop+er/", "re[cop+er]"),
        ("/cop+er/i", "re[(?i)cop+er]"),
        ("content:/a b/", "content:re[a b]"),
        ("NEARBY", "nearby"),
    ],
)
def test_shapes(query: str, expected: str) -> None:
    assert shape(parse(query)) == expected


def test_default_scope_includes_the_article_body() -> None:
    node = parse("tariff")
    assert isinstance(node, Term)
    assert node.fields == ("title", "summary", "content", "body")
    scoped = parse("body:tariff")
    assert isinstance(scoped, Term)
    assert (scoped.fields, scoped.label) == (("body",), "body:tariff")


def test_labels_name_the_term_as_written() -> None:
    node = parse('title:=Xi OR "rare earths" OR /x/i OR tariff*')
    assert isinstance(node, Or)
    assert [c.label for c in node.children if isinstance(c, Term | Regex)] == [
        "title:=Xi",
        '"rare earths"',
        "/x/i",
        "tariff*",
    ]


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("(a OR b", 0, "unbalanced '('"),
        ("a OR b)", 6, "unbalanced ')'"),
        (")", 0, "unbalanced ')'"),
        ('"rare earths', 0, "unbalanced quote"),
        ('a "b', 2, "unbalanced quote"),
        ("a AND", 2, "'AND' has no term on its right"),
        ("a OR", 2, "'OR' has no term on its right"),
        ("OR a", 0, "'OR' has no term on its left"),
        ("a AND OR b", 2, "'AND' has no term on its right"),
        ("a NOT", 2, "'NOT' has no term on its right"),
        ("(a OR)", 3, "'OR' has no term on its right"),
        ("()", 0, "empty parentheses"),
        ("a ()", 2, "empty parentheses"),
        ("a NEAR b", 2, "NEAR needs a word distance"),
        ("a NEAR/x b", 2, "NEAR needs a word distance"),
        ("a NEAR/101 b", 2, "between 0 and 100"),
        ("a NEAR/5", 2, "'NEAR/5' has no term on its right"),
        ("(a OR b) NEAR/5 c", 9, "NEAR operands must be words or phrases"),
        ("a NEAR/5 /x/", 2, "NEAR operands must be words or phrases"),
        ("a NEAR/5 -b", 9, "NEAR operands must be words or phrases"),
        ("a NEAR/2 b NEAR/2 c", 11, "NEAR cannot be chained"),
        ("title:a NEAR/2 summary:b", 8, "NEAR operands must share a field"),
        ("ta*x", 0, "'*' is only allowed at the end"),
        ("*", 0, "no letters or digits"),
        ("a &", 2, "no letters or digits"),
        ('""', 0, "phrase has no letters or digits"),
        ("= a", 0, "'=' must be followed"),
        ("=(a)", 0, "'=' must be followed"),
        ("title:", 0, "'title:' must be followed"),
        ("title:-a", 0, "'title:' must be followed"),
        ("/a(?=b)/", 2, "look-around"),
        ("x /(?<!a)b/", 3, "look-around"),
        ("/(a)\\1/", 4, "backreferences"),
        ("/(?P<n>a)(?P=n)/", 9, "backreferences"),
        ("/[a/", 1, "invalid regex: missing ]"),
        ("/a**/", 2, "invalid regex: bad repetition"),
        ("/abc", 0, "unbalanced regex"),
        ("//", 0, "empty regex"),
        ("/a/x", 3, "unknown regex flag"),
        ("(" * 40 + "a" + ")" * 40, 32, "nested too deeply"),
        ("a " + "-" * 40 + "b", 34, "nested too deeply"),
        ("a" * 2001, 2000, "too long"),
        # symbols that matter are refused, never dropped (issue 19)
        ("C++", 0, "the symbol '+' is not part of a word"),
        ("vitamin C++", 8, "regex such as /C\\+\\+/i"),
        ("kills 10%", 6, "the symbol '%'"),
        (".NET", 0, "the symbol '.'"),
        ("$TSLA", 0, "the symbol '$'"),
        ("#Cop30", 0, "the symbol '#'"),
        ('"up 10%"', 0, "the symbol '%'"),
        ("lang:xx tariffs", 0, "unknown language 'xx'"),
        ("lang:de lang:fr Zoll", 8, "lang: is given twice"),
        ("lang:de", 0, "empty query"),
    ],
)
def test_refusals(query: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert words in info.value.reason
    assert info.value.position == position
    assert f"(at position {position})" in str(info.value)


_PIECES = st.sampled_from(
    [
        "a", "Xi", "tariff", "rare-earth", '"', "(", ")", " ", "-", "=", "*", "/", "\\",
        "AND", "OR", "NOT", "NEAR/3", "NEAR", "title:", "tag:", "i", ":", "'s", "&", "é",
        "(?=", "\\1", "[", "{2}", "\n",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=25))
def test_parser_only_raises_query_error_on_query_like_text(pieces: list[str]) -> None:
    try:
        parse("".join(pieces))
    except QueryError as exc:
        assert 0 <= exc.position <= len("".join(pieces))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parser_only_raises_query_error_on_any_text(text: str) -> None:
    try:
        parse(text)
    except QueryError as exc:
        assert 0 <= exc.position <= len(text)
