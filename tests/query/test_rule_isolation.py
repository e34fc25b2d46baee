"""A rule's decision in the bulk matcher depends on that rule and the item alone.

Each case is a rule, an item, and a second rule that once changed the rule's decision in
the bulk path (``WatchMatcher``), dropping a match or, under a NOT, inventing one: the
prefilter remembered *which literal strings* it had found, so a rule whose word was not
searched learnt "absent" from another rule's narrower search of the same string (a whole
word versus a prefix, ``part`` versus ``party``, a phrase's exact inner word versus a
plural). Every case is checked in both rule orders.
"""

from __future__ import annotations

import pytest

from bot.pipeline.match import WatchMatcher, compile_query, document_from_mapping
from bot.query.reference import reference_matches

# (rule, item, another rule that must not change the rule's decision)
CASES: list[tuple[str, dict[str, object], str]] = [
    # issue 11: a prefix shares its literal with another rule's whole-word keys
    ("bitcoin market*", {"title": "Bitcoin marketplace Binance fined"}, "market -crypto"),
    ("what* summary:feeds", {"title": "Whatever next", "summary": "Two feeds"}, "what"),
    ("what* summary:feeds", {"title": "Whatever next", "summary": "Two feeds"}, "-what"),
    ("zebra NEAR/2 market*", {"content": "Zebra marketplace"}, "market"),
    ("-market* zebra", {"content": "zebra marketplace"}, "market"),  # must stay unmatched
    # a whole word whose forms share a common prefix with another word's (party/part)
    ("zebra party", {"content": "zebra party"}, "part"),
    ("zebra ally", {"content": "zebra ally"}, "all"),
    ("zebra county", {"content": "zebra county"}, "count"),
    ("zebra army", {"content": "zebra army"}, "arm -zebra"),
    # a phrase's inner word is exact; a plural last word is not
    ("zebra parts", {"content": "zebra parts"}, '"part time"'),
    ("zebra markets", {"content": "zebra markets"}, '"market day"'),
    # case-sensitive and folded terms of the same string
    ("zebra =CEO", {"content": "zebra CEOs"}, "ceo"),
    ("zebra =Rates", {"content": "zebra Rates"}, "=RATES"),
    # fields: a scoped word next to a default-scope prefix of it
    ("title:market zebra", {"title": "market", "content": "zebra"}, "title:market*"),
    # NOT-only rules
    ("-party", {"content": "a part"}, "zebra party"),
    ("-(zebra part*)", {"content": "zebra"}, "part"),
]


@pytest.mark.parametrize(("rule", "item", "other"), CASES)
def test_another_rule_never_changes_a_decision(
    rule: str, item: dict[str, object], other: str
) -> None:
    doc = document_from_mapping(item)
    query = compile_query(rule)
    alone = query.matches(doc)
    assert alone == reference_matches(query.node, doc.fields)
    assert WatchMatcher([("rule", query)]).match(doc) == (["rule"] if alone else [])
    second = compile_query(other)
    expected_other = second.matches(doc)
    together = WatchMatcher([("rule", query), ("other", second)]).match(doc)
    assert ("rule" in together) is alone
    assert ("other" in together) is expected_other
    reversed_ = WatchMatcher([("other", second), ("rule", query)]).match(doc)
    assert ("rule" in reversed_) is alone
