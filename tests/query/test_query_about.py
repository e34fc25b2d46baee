"""``about:"topic"`` in the query language: parsing, scores, and the prefilter never drops it.

The vectors here are tiny hand-made ones (no model needed): the scoring arithmetic of
``bot.query.semantic`` is the same for 4 dimensions as for 384.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace

import pytest

from bot.core.errors import QueryError
from bot.pipeline.match import WatchMatcher, compile_query, document_from_mapping
from bot.query.ast import About
from bot.query.evaluate import DocView, evaluate
from bot.query.failure import first_failure
from bot.query.fast import MultiMatcher, required_probes
from bot.query.parser import parse
from bot.query.reference import reference_matches
from bot.query.semantic import Calibration, Meaning, Space


def _unit(*values: float) -> tuple[float, ...]:
    norm = math.sqrt(sum(v * v for v in values))
    return tuple(v / norm for v in values)


# Four rivals on the axes; topics and items are mixtures of them.
SPACE = Space("test", tuple(_unit(*(1.0 if i == k else 0.0 for i in range(4))) for k in range(4)),
              Calibration(normal=0.0, step=0.1))
SPACE.add_topic("rare earths", _unit(1, 0.1, 0, 0))
SPACE.add_topic("sports", _unit(0, 0, 1, 0.1))


def meaning(*values: float) -> Meaning:
    return SPACE.meaning(_unit(*values))


@pytest.mark.parametrize(
    ("query", "topic", "level"),
    [
        ('about:"rare earth export controls"', "rare earth export controls", 0.5),
        ("about:sports", "sports", 0.5),
        ('about: "health and medicine"~strict', "health and medicine", 0.6),
        ('about:"US–China trade war"~broad', "US–China trade war", 0.4),
        ("about:tariffs~0.72", "tariffs", 0.72),
        ('about:"  many   spaces "', "many spaces", 0.5),
    ],
)
def test_about_terms_parse(query: str, topic: str, level: float) -> None:
    node = parse(query)
    assert isinstance(node, About)
    assert (node.topic, node.level) == (topic, level)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('about:""', "needs a topic"),
        ("about:x~huge", "unknown sensitivity"),
        ("about:x~1.5", "between 0 and 1"),
        ("about:x~", "after '~'"),
        ('about:"x"y', "followed by a space"),
        ('about:"open', "unbalanced quote"),
        ("title:about:x", "'title:' must be followed"),
        ("a NEAR/3 about:x", "NEAR operands"),
    ],
)
def test_bad_about_terms_are_refused(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(query)


@pytest.mark.parametrize(
    ("query", "probes"),
    [
        ("about:x", None),  # nothing to search for: always verified
        ("copper about:x", {"copper|coppers"}),  # AND: the word is required anyway
        ("copper OR about:x", None),  # either branch may match alone: always verified
        ("-about:x", None),
    ],
)
def test_about_terms_require_no_probe(query: str, probes: set[str] | None) -> None:
    found = required_probes(parse(query))
    assert (None if found is None else set(found)) == probes


def test_scores_put_an_item_near_its_topic_above_the_threshold() -> None:
    near, far = meaning(1, 0.2, 0, 0), meaning(0, 0, 1, 0)
    near_score, far_score = near.score("rare earths"), far.score("rare earths")
    assert near_score is not None and far_score is not None
    assert near_score > 0.5 > far_score
    assert near.score("unknown topic") is None


RULES = [
    'about:"rare earths"',
    'tariffs OR about:"rare earths"',
    'about:"rare earths" AND -sports',
    'about:"rare earths"~strict',
    'about:"rare earths"~broad',
    "-about:sports",
    'copper about:"rare earths"',
    'about:sports OR title:"World Cup"',
    "tariffs",
]
ITEMS = [
    ({"title": "China curbs exports of gallium"}, meaning(1, 0.2, 0, 0)),
    ({"title": "Tariffs and gallium"}, meaning(1, 0.3, 0.3, 0)),
    ({"title": "World Cup final tonight"}, meaning(0, 0, 1, 0.2)),
    ({"title": "Copper sports stadium"}, meaning(0.6, 0, 0.6, 0)),
    ({"title": "tariffs"}, None),  # not embedded: about: terms fail, keywords still match
]


@pytest.mark.parametrize(("fields", "item"), ITEMS)
def test_bulk_matching_equals_single_and_reference_with_about_terms(
    fields: dict[str, str], item: Meaning | None
) -> None:
    nodes = [parse(rule) for rule in RULES]
    doc = document_from_mapping(fields)
    bulk = MultiMatcher(nodes).match(doc.fields, item)
    view = DocView(doc.fields, meaning=item)
    single = [i for i, node in enumerate(nodes) if evaluate(node, view)]
    reference = [i for i, node in enumerate(nodes) if reference_matches(node, doc.fields, item)]
    assert bulk == single == reference


def test_a_rule_whose_about_term_decides_is_never_dropped_by_the_prefilter() -> None:
    # Other rules load probes into the automaton; the about: rules must still be verified.
    nodes = [parse(q) for q in ("gallium", 'tariffs OR about:"rare earths"', "copper")]
    hit = MultiMatcher(nodes).match({"title": "Beijing restricts germanium"},
                                    meaning(1, 0.1, 0, 0))
    assert hit == [1]


def test_explain_shows_score_and_threshold() -> None:
    query = compile_query('tariffs OR about:"rare earths" -about:sports', semantic=True)
    doc = document_from_mapping({"title": "Gallium exports curbed"})
    explained = query.explain(replace(doc, meaning=meaning(1, 0.2, 0, 0)))
    assert explained.matched
    [positive, negative] = explained.scores
    assert positive.passed and not negative.passed and negative.negated
    assert positive.describe().startswith("about: rare earths, score ")
    assert "threshold 0.50" in positive.describe()
    assert any(re.fullmatch(r"about: rare earths, score [01]\.\d\d", t) for t in explained.terms)


def test_about_is_refused_without_the_model_naming_the_extra() -> None:
    with pytest.raises(QueryError, match=r"wirewatch\[semantic\]"):
        compile_query('tariffs OR about:"rare earths"', semantic=False)
    compile_query("tariffs", semantic=False)  # keyword watches never need it


def test_all_sensitivity_levels_order_the_same_way() -> None:
    item = meaning(1, 0.45, 0, 0)
    levels = [evaluate(parse(f'about:"rare earths"~{s}'), DocView({}, meaning=item))
              for s in ("broad", "normal", "strict")]
    # broader never matches less than stricter
    assert all(a >= b for a, b in itertools.pairwise(levels))


NO_VECTOR = "'about:\"rare earths\"': the item has no meaning vector"
FAILURES = [  # (query, the item's meaning axes or None, reason pattern; "" = it matches)
    ('about:"rare earths"', (1, 0.2, 0, 0), ""),
    ('about:"rare earths"', None, re.escape(NO_VECTOR)),
    ("about:sports", (1, 0, 0, 0), r"^'about:\"sports\"' scored -?\d\.\d\d, below 0\.50$"),
    ("gallium -about:sports", (0, 0, 1, 0), r"^'about:\"sports\"' is there, and the watch"),
]


def test_the_trail_says_why_an_about_term_failed() -> None:
    # The poll's verdicts (issue 21) explain refusals on the view its matcher decided with:
    # that view must carry the item's meaning, or every about: term would read as missing.
    doc = document_from_mapping({"title": "Gallium exports curbed"})
    for query, axes, reason in FAILURES:
        compiled = compile_query(query, semantic=True)
        seen = replace(doc, meaning=None if axes is None else meaning(*axes))
        hits, view = WatchMatcher([(0, compiled)]).match_view(seen)
        assert (hits == [0]) is (reason == ""), query
        found = first_failure(compiled.node, view)
        assert re.search(reason, found) if reason else found == "", (query, found)
