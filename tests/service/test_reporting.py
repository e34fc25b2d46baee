"""The console reporter: offline said once, recovery once; previews described plainly."""

from __future__ import annotations

import logging

import pytest

from bot.core.errors import FetchError, ParseError
from bot.pipeline.preview import Preview, WatchPreview, describe_preview
from bot.service.reporting import Reachability

# Each step: (feed id, unreachable?) → the state change expected (or None).
SEQUENCES = [
    ("three feeds down", 3, [(1, True, None), (2, True, None), (3, True, "offline")]),
    ("one feed of three down is not offline", 3,
     [(1, True, None), (2, False, None), (1, True, None), (1, True, None)]),
    ("the same feed failing again counts once", 3,
     [(1, True, None), (1, True, None), (1, True, None), (2, True, None)]),
    ("said once while it lasts", 2,
     [(1, True, None), (2, True, "offline"), (1, True, None), (2, True, None)]),
    ("recovery is said once", 2,
     [(1, True, None), (2, True, "offline"), (1, False, "online"), (2, False, None)]),
    ("a single feed", 1, [(1, True, "offline"), (1, False, "online")]),
    ("an answer between failures resets", 2,
     [(1, True, None), (3, False, None), (2, True, None), (1, True, "offline")]),
]


@pytest.mark.parametrize(("feeds", "steps"), [(f, s) for _, f, s in SEQUENCES],
                         ids=[name for name, _, _ in SEQUENCES])
def test_reachability(feeds: int, steps: list[tuple[int, bool, str | None]]) -> None:
    reach = Reachability(feeds)
    assert [reach.observe(feed, down) for feed, down, _ in steps] == [c for _, _, c in steps]


def test_network_failures_are_quiet_until_a_server_answers() -> None:
    reach = Reachability(3)
    offline = FetchError("DNS lookup failed", unreachable=True)
    assert reach.quiet_about(offline)
    assert not reach.quiet_about(FetchError("HTTP 500"))
    assert not reach.quiet_about(ParseError("not a feed"))
    reach.observe(1, False)
    assert not reach.quiet_about(offline)  # others answer: this feed's failure is news


def test_describe_preview() -> None:
    preview = Preview("BBC World", 38, (
        WatchPreview(1, 0, "china-trade", 4, ("China curbs rare-earth exports", "Tariffs",
                                               "Xi meets Bessent")),
        WatchPreview(2, 7, "fed", 1, ("Fed cuts " + "rates " * 30,))))
    lines = describe_preview(preview)
    assert lines[0] == ('BBC World: 38 items recorded silently; 4 match china-trade now (not '
                        'alerted): "China curbs rare-earth exports" · "Tariffs" · '
                        '"Xi meets Bessent" …')
    assert lines[1].startswith('BBC World: 1 match fed now (not alerted): "Fed cuts rates')
    assert lines[1].endswith('…"') and len(lines[1]) < 140
    assert lines[2] == "BBC World: new matching items will be alerted"
    assert describe_preview(preview.for_guild(7))[0].startswith(
        "BBC World: 38 items recorded silently; 1 match fed")
    assert describe_preview(Preview("X", 2)) == [
        "X: 2 items recorded silently; none match a watch now; new matching items will be "
        "alerted"]


def test_levels() -> None:
    from bot.service.reporting import ConsoleReporter

    reporter = ConsoleReporter(2)
    assert reporter.failure_level(FetchError("x", unreachable=True)) == logging.DEBUG
    assert reporter.failure_level(FetchError("HTTP 404")) == logging.WARNING
