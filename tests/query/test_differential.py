"""Bulk matching decides for each rule what the rule alone decides, on news-like text.

Random rule sets (whole words reused as prefixes, plurals, phrases, NOT, OR, NEAR, fields,
``=Case`` terms, regexes) over two vocabularies: the saved real news feeds in
``../shared/corpus/real-news`` (skipped when absent) and a bundled one written for the tests.
For every rule and item, the bulk ``WatchMatcher`` over all rules, a matcher over that rule
alone and the single-query evaluator must agree, and the slow reference on a sample. Bounded
to a few seconds; ``bench/match_differential.py`` is the long run.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from bot.pipeline.match import document_from_mapping
from bot.query.semantic import Calibration, Space
from tests.fakes.corpus import real_news_dir
from tests.query.differential import (
    ItemMaker,
    RuleMaker,
    Vocabulary,
    bundled_vocabulary,
    compare,
    compile_rules,
    corpus_entries,
    vocabulary_from_entries,
)

SEEDS = (1, 2)


@pytest.fixture(scope="module")
def real_news() -> Vocabulary:
    news = real_news_dir()
    if news is None:
        pytest.skip("../shared/corpus/real-news is absent (a fresh clone has no ../shared)")
    entries = corpus_entries(news)
    assert len(entries) >= 100, "corpus looks incomplete"
    return vocabulary_from_entries(entries)


def _run(vocab: Vocabulary, seed: int, rules_count: int, items: int) -> None:
    rng = random.Random(seed)
    rules = compile_rules(RuleMaker(vocab, rng).rule() for _ in range(rules_count))
    assert len(rules) > rules_count * 0.8
    maker = ItemMaker(vocab, rng)
    docs = [document_from_mapping(maker.item()) for _ in range(items)]
    result = compare(rules, docs, alone_every=2, reference_every=11)
    assert result.mismatches == 0, "\n".join(result.examples)
    # The check is only meaningful when a fair share of rules match something.
    assert result.rules_matching > len(rules) // 4


@pytest.mark.parametrize("seed", SEEDS)
def test_bulk_equals_single_on_bundled_vocabulary(seed: int) -> None:
    _run(bundled_vocabulary(), seed, 160, 80)


@pytest.mark.parametrize("seed", SEEDS)
def test_bulk_equals_single_on_real_news(real_news: Vocabulary, seed: int) -> None:
    _run(real_news, seed, 150, 40)


@pytest.mark.parametrize("seed", SEEDS)
def test_bulk_equals_single_with_about_terms(seed: int) -> None:
    """Random rules joined with about: terms (OR, AND, NOT) over items that have a meaning
    or none: the prefilter must verify every rule an about: term can decide."""
    _run_about(bundled_vocabulary(), seed)


def test_bulk_equals_single_with_about_terms_on_real_news(real_news: Vocabulary) -> None:
    """The same with the real news vocabulary (many languages and scripts)."""
    _run_about(real_news, SEEDS[0])


def _run_about(vocab: Vocabulary, seed: int) -> None:
    rng = random.Random(seed)
    space = Space("test", tuple(_axis(k) for k in range(4)), Calibration(0.0, 0.05))
    for k in range(4):
        space.add_topic(f"t{k}", _axis(k, 0.3))
    maker = RuleMaker(vocab, rng)
    shapes = ["({}) OR about:t{}", "{} about:t{}~broad", "{} -about:t{}", "-({}) about:t{}~0.7",
              "about:t{1} OR ({0})"]
    sources = [rng.choice(shapes).format(maker.rule(), rng.randrange(4)) for _ in range(120)]
    rules = compile_rules(sources)
    assert len(rules) > len(sources) // 2, "most rules must compile (about: and lang: alike)"
    assert any(rule.topics for rule in rules) and any(not rule.lang_detected for rule in rules)
    items = ItemMaker(vocab, rng)
    docs = []
    for n in range(60):
        doc = document_from_mapping(items.item())
        vector = [rng.random() for _ in range(4)]
        docs.append(replace(doc, meaning=None if n % 5 == 0 else space.meaning(_unit(vector))))
    result = compare(rules, docs, alone_every=2, reference_every=3)
    assert result.mismatches == 0, "\n".join(result.examples)
    assert 0 < result.matches < result.decisions


def _unit(values: list[float]) -> tuple[float, ...]:
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return tuple(v / norm for v in values)


def _axis(k: int, rest: float = 0.0) -> tuple[float, ...]:
    return _unit([1.0 if i == k else rest for i in range(4)])


def test_vocabularies_contain_the_most_common_words(real_news: Vocabulary) -> None:
    for vocab in (bundled_vocabulary(), real_news):
        folded = {w.casefold() for w in vocab.words}
        assert {"the", "of", "said", "market"} <= folded
