"""Why a query did not match: the first term that failed, in words (issue 21)."""

from __future__ import annotations

import pytest

from bot.core.model import Entry
from bot.pipeline.match import WatchMatcher, compile_query, document_from_entry
from bot.query.evaluate import DocView
from bot.query.failure import first_failure

DOC = document_from_entry(Entry(key="k", title="China curbs exports of gallium",
                                summary="Tariffs bite as sports fans watch."), "Wire")

CASES = [
    ("tariffs", ""),  # it matches: nothing failed
    ('"rare earths"', "'rare earths' not in title or article"),
    ('"rare earths" OR lithium', "none of 'rare earths', 'lithium' in title or article"),
    ("tariffs AND Bessent", "'Bessent' not in title or article"),
    ("title:tariffs", "'tariffs' not in title"),
    ("tariffs -sports", "'sports' is there, and the watch excludes it"),
    ("tariffs NEAR/1 watch", "'tariffs' and 'watch' not within 1 words in title or article"),
    ("(gallium AND Bessent) OR (lithium AND tariffs)", "'Bessent' not in title or article"),
    ("a OR b OR c OR d OR e", "none of 'a', 'b', 'c', 'd'… in title or article"),
    ("/\\bG7\\b/", "'/\\bG7\\b/' not in title or article"),
]


@pytest.mark.parametrize(("query", "reason"), CASES)
def test_first_failure_names_the_term_that_decided(query: str, reason: str) -> None:
    assert first_failure(compile_query(query).node, DocView(DOC.fields)) == reason


def test_the_prefilters_view_gives_the_same_reasons() -> None:
    # The poll explains refusals on the view its matcher decided with (probes known absent
    # are not looked up in the text): the reasons must be those of a fresh view.
    compiled = {i: compile_query(query) for i, (query, _) in enumerate(CASES)}
    hits, view = WatchMatcher(compiled.items()).match_view(DOC)
    assert view.known  # the prefilter did search: the shortcut is exercised
    for i, (_, reason) in enumerate(CASES):
        assert (i in hits) is (reason == "")
        assert first_failure(compiled[i].node, view) == reason
