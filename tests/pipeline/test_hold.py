"""The hold step: which drafts wait for a digest, until when, and which go out now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config.cadence import Cadence, make_cadence
from bot.core.model import Entry
from bot.pipeline.hold import hold_drafts
from bot.pipeline.render import MatcherCache, plan_deliveries
from bot.store.rows import WatchRow

AT = datetime(2026, 11, 29, 16, 59, 30, tzinfo=UTC)
HOUR = datetime(2026, 11, 29, 17, tzinfo=UTC).timestamp()
MORNING = datetime(2026, 11, 30, 6, tzinfo=UTC).timestamp()  # 07:00 in Berlin

ENTRIES = [Entry(key="q", title="Earthquake near Tokyo", link="https://n.example/q"),
           Entry(key="t", title="Tariffs rise", link="https://n.example/t")]

# (cadence, matched at, hold_until per item key)
CASES = [
    ("instant", Cadence(), AT, {"q": None, "t": None}),
    ("hourly", make_cadence(deliver="hourly"), AT, {"q": HOUR, "t": HOUR}),
    ("urgent goes now", make_cadence(deliver="hourly", urgent="earthquake"), AT,
     {"q": None, "t": HOUR}),
    ("quiet hours", make_cadence(quiet="22:00-07:00", timezone="Europe/Berlin"),
     datetime(2026, 11, 29, 23, tzinfo=UTC), {"q": MORNING, "t": MORNING}),
    ("outside quiet hours", make_cadence(quiet="22:00-07:00", timezone="Europe/Berlin"), AT,
     {"q": None, "t": None}),
]


@pytest.mark.parametrize(("cadence", "when", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hold_drafts(cadence: Cadence, when: datetime, expected: dict[str, float | None]) -> None:
    watches = [(WatchRow(id=1, guild_id=1, name="w", query="earthquake OR tariffs",
                         cadence=cadence), "Wire"),
               (WatchRow(id=2, guild_id=1, name="plain", query="tariffs"), "Wire")]
    drafts = plan_deliveries(ENTRIES, watches, MatcherCache(), "u", when)
    held = hold_drafts(drafts, watches, ENTRIES, when)
    assert {d.item_key: d.hold_until for d in held if d.watch_id == 1} == expected
    assert [d.hold_until for d in held if d.watch_id == 2] == [None]  # instant watch unchanged
    assert [d.nonce for d in held] == [d.nonce for d in drafts]


def test_digest_watches_are_never_collapsed() -> None:
    entries = [Entry(key=str(i), title=f"Tariffs {i}", link=f"https://n.example/{i}")
               for i in range(5)]
    watches = [(WatchRow(id=1, guild_id=1, name="d", query="tariffs", collapse_after=2,
                         cadence=make_cadence(deliver="hourly")), "Wire"),
               (WatchRow(id=2, guild_id=1, name="i", query="tariffs", collapse_after=2), "Wire")]
    drafts = hold_drafts(plan_deliveries(entries, watches, MatcherCache(), "u", AT), watches,
                         entries, AT)
    assert sorted(d.item_key for d in drafts if d.watch_id == 1) == [str(i) for i in range(5)]
    assert len([d for d in drafts if d.watch_id == 2]) == 1  # the instant one: one summary
