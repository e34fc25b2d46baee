"""The fate of an article, decided from plain rows (issue 21): one case per fate and edge."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.core.fate import (
    FATES,
    Evidence,
    FeedFacts,
    Outcome,
    Sighting,
    Verdict,
    WatchFacts,
    decide,
    feed_state,
)

T = 1_800_000_000.0
WIRE = FeedFacts("Wire", "127.0.0.1", T, T)
BLOCKED = FeedFacts("Blocked", "127.0.0.1", T, None, 3, "HTTP 403 Forbidden")
CHINA = WatchFacts(1, "china-trade")
RARE = WatchFacts(2, "rare-earths")
MATCH = Verdict(1, True, "'tariffs'")
MISS = Verdict(2, False, "'rare earths' not in title or article")


def seen(*verdicts: Verdict, first_poll: bool = False, article: str | None = None,
         decided: bool = True) -> Sighting:
    return Sighting("Wire", "Tariffs bite", "https://news.example/1", T,
                    tuple(verdicts) if decided else None, article, first_poll)


@dataclass
class Case:
    name: str
    evidence: Evidence
    fate: str
    says: tuple[str, ...]  # fragments of the text, in order of the lines
    watches: dict[str, bool] = field(default_factory=dict)  # watch → matched
    message: str | None = None


def ev(*sightings: Sighting, outcomes: tuple[Outcome, ...] = (),
       watches: tuple[WatchFacts, ...] = (CHINA, RARE),
       feeds: tuple[FeedFacts, ...] = (WIRE,), host: str = "",
       hosts_seen: frozenset[str] = frozenset()) -> Evidence:
    return Evidence(tuple(sightings), watches, outcomes, feeds, host, hosts_seen)


LINK = "https://discord.com/channels/1/2/3"
CASES = [
    Case("sent", ev(seen(MATCH, MISS), outcomes=(
        Outcome(1, "delivery", "sent", T + 60, link=LINK),)), "sent",
        ("Seen in Wire", "china-trade: matched 'tariffs' → posted", LINK,
         "rare-earths: no match ('rare earths' not in title or article)"),
        {"china-trade": True, "rare-earths": False}, LINK),
    Case("not matched", ev(seen(Verdict(1, False, "'tariffs' not in title"), MISS)),
         "not_matched", ("china-trade: no match ('tariffs' not in title)",),
         {"china-trade": False, "rare-earths": False}),
    Case("folded", ev(seen(MATCH), outcomes=(Outcome(1, "folded", "sent", T - 600,
                                                      link=LINK),)), "folded",
         ("folded into the story posted at", "as 'Also reported by'",)),
    Case("held", ev(seen(Verdict(1, True, "'tariffs'", T + 3600)), outcomes=(
        Outcome(1, "held", "held", T + 3600),)), "held", ("held for the", "digest")),
    Case("digest went out", ev(seen(MATCH), outcomes=(
        Outcome(1, "held", "sent", T + 3600, link=LINK),)), "sent", ("sent in the",)),
    Case("pending", ev(seen(MATCH), outcomes=(Outcome(1, "delivery", "pending", T),)),
         "pending", ("queued to be sent",)),
    Case("retrying", ev(seen(MATCH), outcomes=(
        Outcome(1, "delivery", "pending", T, "HTTP 503", 2),)), "pending",
        ("retrying after 2 attempts (HTTP 503)",)),
    Case("failed: webhook deleted", ev(seen(MATCH), outcomes=(
        Outcome(1, "delivery", "failed", T, "404 Unknown Webhook", 1),)), "failed",
        ("china-trade: matched 'tariffs' → failed: 404 Unknown Webhook",)),
    Case("sent beats failed", ev(seen(MATCH, Verdict(2, True, "'gallium'")), outcomes=(
        Outcome(1, "delivery", "failed", T, "gone"), Outcome(2, "delivery", "sent", T))),
        "sent", ("failed: gone", "posted")),
    Case("known: first poll", ev(seen(decided=False, first_poll=True)), "known",
         ("recorded silently on the feed's first poll",)),
    Case("known: before the trail", ev(seen(decided=False)), "known",
         ("before its decisions were kept",)),
    Case("paywall noted", ev(seen(MISS, article="paywall")), "not_matched",
         ("its article page was not read (paywall)",)),
    Case("watch added later", ev(seen(MISS), watches=(WatchFacts(1, "new", created_at=T + 9),
                                                        RARE)), "not_matched",
         ("new: not evaluated: the watch was added after the item was seen",)),
    Case("paused watch", ev(seen(MISS), watches=(WatchFacts(1, "p", True, "403"), RARE)),
         "not_matched", ("p: not evaluated: the watch is paused (403)",)),
    Case("no watch at all", ev(seen(), watches=()), "not_matched", ("No watch",)),
    Case("not seen, feeds healthy", ev(host="news.example"), "not_seen",
         ("Not in any feed this server follows.", "Wire: last fetched at")),
    Case("feed failing, link on no followed site", ev(feeds=(WIRE, BLOCKED),
                                                       host="blocked.example"),
         "feed_failing", ("Blocked could not be read",
                          "Blocked: failing: its last fetch failed 3 times in a row "
                          "(HTTP 403 Forbidden)")),
    Case("not seen although a feed fails: the site's feed answered", ev(
        feeds=(WIRE, BLOCKED), host="news.example", hosts_seen=frozenset({"news.example"})),
        "not_seen", ("Not in any feed",)),
    Case("headline words, a feed failing", ev(feeds=(WIRE, BLOCKED)), "feed_failing", ()),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_decide(case: Case) -> None:
    answer = decide(case.evidence)
    text = "\n".join(answer.lines)
    assert answer.fate == case.fate, text
    position = 0
    for fragment in case.says:
        found = text.find(fragment, position)
        assert found >= 0, f"{fragment!r} not in order in:\n{text}"
        position = found
    for line in answer.watches:
        if line.watch in case.watches:
            assert line.matched is case.watches[line.watch], line
    if case.message is not None:
        assert answer.message == case.message


def test_every_fate_is_reachable() -> None:
    assert {decide(case.evidence).fate for case in CASES} == set(FATES)


@pytest.mark.parametrize(("feed", "says"), [
    (WIRE, "last fetched at"),
    (BLOCKED, "failing: its last fetch failed 3 times in a row (HTTP 403 Forbidden)"),
    (FeedFacts("P", "h", None, None, 5, "DNS", paused=True),
     "paused after 5 failed fetches (DNS)"),
    (FeedFacts("N", "h"), "not fetched yet"),
])
def test_feed_state_words(feed: FeedFacts, says: str) -> None:
    assert says in feed_state(feed)
