"""Every item's fate, decided from plain rows (issue 21: "why didn't I get this alert?"). Pure.

The store gathers what it knows about one article for one audience (a guild, or the operator
across all guilds) into an ``Evidence``: where the article was seen and what each poll
decided (the decision trail), the deliveries, held matches and story folds of the audience's
watches, and the health of the feeds the audience follows. ``decide`` turns that into an
``Answer``: one fate from ``FATES``, the feeds that saw it, one line per watch and a link.
``/why``, ``wirewatch why`` and the feed lines of ``/feed list`` all speak through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Fate = Literal["sent", "folded", "held", "pending", "failed", "not_matched", "known",
               "not_seen", "feed_failing"]
# Best first: an article's fate is the best of its watches' ("did anyone get an alert?").
FATES: tuple[Fate, ...] = ("sent", "folded", "held", "pending", "failed", "not_matched",
                           "known", "not_seen", "feed_failing")


@dataclass(frozen=True, slots=True)
class FeedFacts:
    """A followed feed's health, its error already redacted for the audience."""

    name: str
    host: str
    last_polled: float | None = None
    last_success: float | None = None
    error_count: int = 0
    last_error: str | None = None
    paused: bool = False

    @property
    def failing(self) -> bool:
        """Whether its latest fetch failed (or it is paused after failures)."""
        return self.paused or self.error_count > 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one poll decided for one watch: matched on ``detail`` (terms), or why not."""

    watch_id: int
    matched: bool
    detail: str
    hold_until: float | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """One feed's record of the article, with the poll's decisions (None: recorded silently,
    on the feed's first poll or before decisions were recorded)."""

    feed: str
    title: str
    link: str
    first_seen: float
    verdicts: tuple[Verdict, ...] | None = None
    article: str | None = None  # the full-text outcome: ok, paywall, timeout …
    first_poll: bool = False


@dataclass(frozen=True, slots=True)
class WatchFacts:
    """One of the audience's watches, as it is now."""

    id: int
    name: str
    paused: bool = False
    paused_reason: str | None = None
    feed_names: tuple[str, ...] | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one watch's match: a delivery, a held match, or a fold into a story.

    ``kind``: ``delivery`` (status pending/sent/failed), ``held`` (status held or sent, when
    its digest went out) or ``folded`` (into the message at ``link``).
    """

    watch_id: int
    kind: Literal["delivery", "held", "folded"]
    status: str
    at: float | None = None
    error: str | None = None
    attempts: int = 0
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """All the rows ``decide`` needs about one article for one audience."""

    sightings: tuple[Sighting, ...]
    watches: tuple[WatchFacts, ...]
    outcomes: tuple[Outcome, ...]
    feeds: tuple[FeedFacts, ...]
    link_host: str = ""  # the asked link's host ("" for a words query)
    hosts_seen: frozenset[str] = frozenset()  # hosts of items in the healthy followed feeds


@dataclass(frozen=True, slots=True)
class WatchLine:
    """One watch's part of the answer (the ``watches`` list of ``--json``)."""

    watch: str
    matched: bool
    reason: str
    fate: Fate


@dataclass(frozen=True, slots=True)
class Answer:
    """The fate of one article for one audience, and what to say about it."""

    fate: Fate
    feeds: tuple[str, ...]
    watches: tuple[WatchLine, ...]
    message: str | None
    lines: tuple[str, ...]


def clock(at: float | None) -> str:
    """``10:02 UTC``, with the date when it is not today's (UTC)."""
    if at is None:
        return "never"
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%H:%M UTC") if moment.date() == datetime.now(UTC).date() \
        else moment.strftime("%Y-%m-%d %H:%M UTC")


def feed_state(feed: FeedFacts) -> str:
    """A feed's health in the words ``/why``, ``/feed list`` and ``/watch test`` share."""
    error = feed.last_error or "unknown error"
    if feed.paused:
        return f"paused after {feed.error_count} failed fetches ({error})"
    if feed.error_count:
        times = "once" if feed.error_count == 1 else f"{feed.error_count} times in a row"
        return f"failing: its last fetch failed {times} ({error})"
    if feed.last_success is None:
        return "not fetched yet"
    return f"last fetched at {clock(feed.last_polled or feed.last_success)} (ok)"


def decide(evidence: Evidence) -> Answer:
    """The fate of the article, its feeds, one line per watch, a link, and the text."""
    if not evidence.sightings:
        return _unseen(evidence)
    feeds = tuple(dict.fromkeys(s.feed for s in evidence.sightings))
    lines = [_seen_line(s) for s in evidence.sightings]
    decided = [s for s in evidence.sightings if s.verdicts is not None]
    if not decided:
        first = evidence.sightings[0]
        why = ("recorded silently on the feed's first poll (what a feed holds when it is "
               "added is never alerted)" if first.first_poll
               else "recorded before its decisions were kept")
        lines.append(f"Known: {why}.")
        return Answer("known", feeds, (), None, tuple(lines))
    watch_lines = tuple(_watch_line(w, decided, evidence.outcomes) for w in evidence.watches)
    if not watch_lines:
        lines.append("No watch in this server: nothing is matched.")
        return Answer("not_matched", feeds, (), None, tuple(lines))
    fate = min((line.fate for line in watch_lines), key=FATES.index)
    lines += [f"{line.watch}: {line.reason}" for line in watch_lines]
    return Answer(fate, feeds, watch_lines, _message(evidence.outcomes, watch_lines,
                                                     evidence.watches), tuple(lines))


def _seen_line(sighting: Sighting) -> str:
    text = f"Seen in {sighting.feed} at {clock(sighting.first_seen)}"
    if sighting.article and sighting.article != "ok":
        text += f"; its article page was not read ({sighting.article.replace('_', ' ')}), " \
                "so only the feed's text was matched"
    return text + "."


def _verdict(watch: WatchFacts, decided: Sequence[Sighting]) -> Verdict | None:
    """The watch's verdict: a match in any sighting wins, else the first refusal."""
    found: Verdict | None = None
    for sighting in decided:
        for verdict in sighting.verdicts or ():
            if verdict.watch_id == watch.id:
                if verdict.matched:
                    return verdict
                found = found or verdict
    return found


def _watch_line(watch: WatchFacts, decided: Sequence[Sighting],
                outcomes: Sequence[Outcome]) -> WatchLine:
    verdict = _verdict(watch, decided)
    if verdict is None:
        return WatchLine(watch.name, False, _not_evaluated(watch, decided), "not_matched")
    if not verdict.matched:
        return WatchLine(watch.name, False, f"no match ({verdict.detail})", "not_matched")
    matched = f"matched {verdict.detail}" if verdict.detail else "matched"
    mine = [o for o in outcomes if o.watch_id == watch.id]
    if not mine:
        return WatchLine(watch.name, True, f"{matched}; its alert is no longer recorded "
                                           "(kept 30 days)", "sent")
    fate, what = _outcome(min(mine, key=lambda o: _RANK[_fate_of(o)]), watch)
    return WatchLine(watch.name, True, f"{matched} → {what}", fate)


def _not_evaluated(watch: WatchFacts, decided: Sequence[Sighting]) -> str:
    if watch.paused:
        return f"not evaluated: the watch is paused ({watch.paused_reason or 'paused'})"
    names = {s.feed for s in decided}
    if watch.feed_names is not None and names.isdisjoint(watch.feed_names):
        return "not evaluated: the watch follows only " + ", ".join(watch.feed_names)
    if watch.created_at > max(s.first_seen for s in decided):
        return "not evaluated: the watch was added after the item was seen"
    return "not evaluated"


def _fate_of(outcome: Outcome) -> Fate:
    if outcome.kind == "folded":
        return "folded"
    if outcome.kind == "held":
        return "sent" if outcome.status == "sent" else "held"
    return {"sent": "sent", "failed": "failed"}.get(outcome.status, "pending")  # type: ignore[return-value]


_RANK = {fate: rank for rank, fate in enumerate(FATES)}


def _outcome(outcome: Outcome, watch: WatchFacts) -> tuple[Fate, str]:
    fate = _fate_of(outcome)
    link = f" {outcome.link}" if outcome.link else ""
    if outcome.kind == "folded":
        return fate, (f"folded into the story posted at {clock(outcome.at)}{link} "
                      "as 'Also reported by'")
    if outcome.kind == "held":
        if fate == "sent":
            return fate, f"sent in the {clock(outcome.at)} digest{link}"
        return fate, f"held for the {clock(outcome.at)} digest"
    if fate == "sent":
        return fate, f"posted at {clock(outcome.at)}{link}"
    if fate == "failed":
        return fate, f"failed: {outcome.error or 'unknown error'}"
    if watch.paused:
        return fate, f"queued while the watch is paused ({watch.paused_reason or 'paused'})"
    if outcome.attempts:
        return fate, (f"retrying after {outcome.attempts} attempts "
                      f"({outcome.error or 'unknown error'})")
    return fate, "queued to be sent"


def _message(outcomes: Sequence[Outcome], lines: Sequence[WatchLine],
             watches: Sequence[WatchFacts]) -> str | None:
    ids = {w.name: w.id for w in watches}
    best = min(lines, key=lambda line: _RANK[line.fate])
    links = [o.link for o in outcomes if o.watch_id == ids.get(best.watch) and o.link]
    return links[0] if links else None


def _unseen(evidence: Evidence) -> Answer:
    failing = [f for f in evidence.feeds if f.failing]
    state = [f"{f.name}: {feed_state(f)}." for f in evidence.feeds]
    if failing and _could_be_in_failing(evidence, failing):
        names = ", ".join(f.name for f in failing)
        lines = [f"Not in any feed this server follows that answered; {names} could not be "
                 "read, so it may be there.", *state]
        return Answer("feed_failing", tuple(f.name for f in failing), (), None, tuple(lines))
    head = "Not in any feed this server follows." if evidence.feeds else \
        "This server follows no feed."
    return Answer("not_seen", (), (), None, (head, *state))


def _could_be_in_failing(evidence: Evidence, failing: Sequence[FeedFacts]) -> bool:
    """Whether a failing feed may carry the article: its host is the link's, or the link's
    site is not one whose items a healthy feed brings (a words query: always)."""
    host = evidence.link_host
    if not host:
        return True
    if any(_same_site(host, feed.host) for feed in failing):
        return True
    return not any(_same_site(host, seen) for seen in evidence.hosts_seen)


def _same_site(a: str, b: str) -> bool:
    """Same host, or for names the same last two labels (rss.example.com ~ example.com;
    feeds.bbc.co.uk and www.bbc.co.uk share "co.uk" too: close enough to tell sites apart)."""
    a, b = a.lower().removeprefix("www."), b.lower().removeprefix("www.")
    if a == b:
        return True
    if a.replace(".", "").isdigit() or ":" in a or "." not in a:
        return False  # addresses and single labels: only the same one
    return a.split(".")[-2:] == b.split(".")[-2:]
