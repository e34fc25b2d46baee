"""The fast path (prefilter + indexed evaluation) against the independent reference."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.core.errors import QueryError
from bot.pipeline.match import document_from_mapping
from bot.query.ast import Term, iter_terms
from bot.query.evaluate import DocView, evaluate, find_term
from bot.query.fast import REGEX_MARK, MultiMatcher, required_probes
from bot.query.parser import parse
from bot.query.reference import reference_matches, reference_occurrences


@pytest.mark.parametrize(
    ("query", "probes"),
    [
        ("tariff", {"tariff|tariffs"}),
        # every form of the word (an -s word's -es partner too, even when it is no word)
        ("economies", {"economie|economies|economieses|economy|economys"}),
        ("horses", {"hors|horse|horses|horseses|horsis"}),
        ('"rare earths"', {"earth|earths|earthses"}),  # the longest word's probe
        ("tariff*", {"tariff*"}),  # a prefix is its own probe, never a word's
        ("=Xi", {"xi"}),
        ("copper tin", {"copper|coppers"}),  # AND: one child suffices, the most selective
        ("copper OR tin", {"copper|coppers", "tin"}),  # under 4 letters: no plural
        ("copper -tin", {"copper|coppers"}),
        ("a NEAR/3 copper", {"copper|coppers"}),
        ("-tin", None),  # NOT only: always checked
        ("/copper/", {REGEX_MARK + "copper"}),  # a regex is a pseudo-probe (RE2 set)
        ("copper OR -tin", None),  # an OR branch without a probe
        ("copper /tin/", {"copper|coppers"}),
        ("market* zebra", {"zebra|zebras"}),  # market* is common (market)
    ],
)
def test_required_probes(query: str, probes: set[str] | None) -> None:
    found = required_probes(parse(query))
    assert (None if found is None else set(found)) == probes


def test_always_check_rules_are_evaluated_on_every_item() -> None:
    rules = [parse(q) for q in ("-sports", "/^Breaking/", "copper", "title:/x/ OR tin", "-/y/")]
    matcher = MultiMatcher(rules)
    assert matcher.match({"title": "Breaking: copper"}) == [0, 1, 2, 4]
    assert matcher.match({"title": "Sports"}) == [4]
    assert matcher.match({"title": "x tin y"}) == [0, 3]
    assert matcher.match({}) == [0, 4]


def test_same_pattern_in_different_scopes() -> None:
    rules = [parse("title:/^Tin/"), parse("/^Tin/"), parse("tag:/^Tin$/")]
    matcher = MultiMatcher(rules)
    assert matcher.match({"summary": "Tin rises"}) == [1]
    assert matcher.match({"title": "Tin rises", "tag": "a\nTin"}) == [0, 1, 2]


def test_probe_inside_a_word_is_not_a_hit() -> None:
    matcher = MultiMatcher([parse("Xi")])
    assert matcher.found_probes({"content": "taxi, maxi"}) == frozenset()
    assert matcher.found_probes({"content": "taxi Xi"}) == frozenset({"xi"})
    assert matcher.found_probes({"content": "Xi’s"}) == frozenset({"xi"})
    # A whole word needs a boundary at both ends; a prefix only at its start.
    assert matcher.found_probes({"content": "Xinjiang Xiaomi"}) == frozenset()
    prefix = MultiMatcher([parse("Xi*")])
    assert prefix.found_probes({"content": "Xinjiang"}) == frozenset({"xi*"})
    assert prefix.found_probes({"content": "taxi"}) == frozenset()


def test_word_and_prefix_of_the_same_string_are_different_probes() -> None:
    # "market" the word and "market*" the prefix search the same string differently: a
    # hit of one says nothing about the other.
    matcher = MultiMatcher([parse("market"), parse("market*"), parse('"market day"')])
    found = matcher.found_probes({"content": "marketplace"})
    assert found == frozenset({"market*"})
    assert matcher.found_probes({"content": "markets"}) == {"market|markets", "market*"}
    assert matcher.match({"content": "marketplace"}) == [1]
    assert matcher.match({"content": "markets"}) == [0, 1]
    assert matcher.match({"content": "market day"}) == [0, 1, 2]


def test_many_regexes_share_one_set_per_field() -> None:
    rules = [parse(f"/w{i}x/") for i in range(450)]  # more than one RE2 set chunk
    matcher = MultiMatcher(rules)
    assert matcher.match({"content": "w7x and w401x"}) == [7, 401]
    assert matcher.match({"tag": "w3x\nother", "content": "w5x"}) == [5]


_WORDS = [
    "tax", "taxes", "taxi", "Xi", "xi", "XI", "rare", "earth", "earths", "economy", "economies",
    "us", "US", "uses", "tariff", "tariff's", "copper", "Copper", "straße", "STRASSE", "naïve",
]  # fmt: skip
_SEPARATORS = [" ", " ", " ", "-", "–", ". ", ", ", "’s ", " <b>", "</b> ", "<p>", "\n", "'", "."]


def _term() -> st.SearchStrategy[str]:
    word = st.sampled_from(_WORDS)
    return st.one_of(
        word,
        st.builds(lambda a, b: f'"{a} {b}"', word, word),
        st.builds(lambda a, b: f"{a}-{b}", word, word),
        st.builds(lambda a: f"{a[:3]}*", word),
        st.builds(lambda a: f"={a}", word),
        st.builds(lambda a, b: f'="{a} {b}"', word, word),
    )


def _leaf() -> st.SearchStrategy[str]:
    term = _term()
    scoped = st.builds(lambda f, t: f"{f}:{t}", st.sampled_from(["title", "summary", "tag"]), term)
    near = st.builds(lambda a, n, b: f"{a} NEAR/{n} {b}", term, st.integers(0, 3), term)
    regex = st.sampled_from(
        [
            "/tax/",
            "title:/tax/",
            "/^rare/i",
            "/e[a-z]+s\\b/",
            "tag:/^co/i",
            "/^co/i",
            "/ß/i",
            "summary:/^$/",
        ]
    )
    return st.one_of(term, term, scoped, near, regex)


_QUERIES = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"{a} {b}", inner, inner),
        st.builds(lambda a, b: f"{a} OR {b}", inner, inner),
        st.builds(lambda a: f"-({a})", inner),
        st.builds(lambda a: f"NOT {a}", inner),
        st.builds(lambda a: f"({a})", inner),
    ),
    max_leaves=5,
)
_TEXTS = st.lists(st.one_of(st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS)), max_size=14)
_ITEMS = st.fixed_dictionaries(
    {
        "title": _TEXTS.map("".join),
        "summary": _TEXTS.map("".join),
        "tags": st.lists(_TEXTS.map("".join), max_size=2),
    }
)


@settings(max_examples=250, deadline=None)
@given(st.lists(_QUERIES, min_size=1, max_size=4), st.lists(_ITEMS, min_size=1, max_size=3))
def test_fast_matcher_agrees_with_reference(
    queries: list[str], items: list[dict[str, object]]
) -> None:
    nodes = []
    for query in queries:
        try:
            nodes.append(parse(query))
        except QueryError:
            assume(False)  # generated NEAR operands may share no field; not what this tests
    matcher = MultiMatcher(nodes)
    for item in items:
        fields = document_from_mapping(item).fields
        expected = [i for i, node in enumerate(nodes) if reference_matches(node, fields)]
        assert matcher.match(fields) == expected
        assert [i for i, n in enumerate(nodes) if evaluate(n, DocView(fields))] == expected


@settings(max_examples=150, deadline=None)
@given(_term(), _TEXTS.map("".join))
def test_indexed_occurrences_equal_reference_occurrences(query: str, text: str) -> None:
    node = parse(query)
    assert isinstance(node, Term)
    fields = document_from_mapping({"content": text}).fields
    view = DocView(fields)
    assert find_term(node, view.index("content")) == reference_occurrences(node, fields["content"])
    assert [leaf for leaf, _ in iter_terms(node)] == [node]


class _OutOfMemorySet:
    """What an RE2 set answers when its DFA runs out of memory: nothing at all."""

    def Match(self, text: str) -> None:  # the re2 API's name
        return None


def test_a_failed_regex_set_falls_back_to_one_by_one_searches() -> None:
    # RE2 gives no error for a set whose DFA ran out of memory, only an empty answer: the
    # always-matching sentinel is missing, so the set's patterns are searched one by one
    # rather than reported absent (which would depend on which other regexes share the set).
    rules = [parse("/tin/"), parse("/copper/"), parse("-/zinc/")]
    matcher = MultiMatcher(rules)
    regex_sets = matcher._regex_sets
    assert regex_sets is not None
    regex_sets._sets = [
        (field, _OutOfMemorySet(), keys, on_empty)
        for field, _set, keys, on_empty in regex_sets._sets
    ]
    assert matcher.match({"title": "copper and zinc"}) == [1]
    assert matcher.match({"summary": "tin"}) == [0, 2]
