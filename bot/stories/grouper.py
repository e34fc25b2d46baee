"""Online story grouping: each item, in arrival order, joins an earlier story or starts one.

Precision over recall: a wrong fold hides a story from the reader, a missed fold only costs
one extra message. So an item joins a story only when

* it has the same canonical link as an item of the story, or
* its headline is close (word Jaccard ≥ ``best``) to some member of the story, with enough
  of the shared weight in rare words (IDF-weighted Jaccard ≥ ``weighted``), AND reasonably
  close (≥ ``first``) to the story's first item, so a chain of small rewrites cannot drift
  from "Fed raises rates" to "Fed chair speaks", and
* nothing vetoes it: numbers that disagree, or contradicting event words (raise/hold).

A weaker match (Jaccard >= ``support``, two shared words, another feed, same vetoes and
first-item check) joins a story only when at least ``support_votes`` of its members agree:
one loose resemblance is chance, several are a story.

Candidates come from an inverted index over the words of the items in the window, with
*prefix filtering*: an item can only reach a Jaccard of ``t`` with items that share at
least one of its ``floor(n * (1 - t)) + 1`` rarest words. The filter
is exact (no candidate above the threshold is missed), so the result is the same as
comparing with every item in the window, only faster; only on a busy or repetitive window
do deterministic bounds apply (a word in more than a capped share of the window is no key;
see ``_candidates``), so the work per item stays bounded whatever the window holds.
MinHash/LSH was not used: it is approximate (random misses on 6–10-word headlines) and would
add a dependency for nothing.

Everything depends only on the items and their order: the same input gives the same
stories, which lets every process rebuild the same state from the database.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from dataclasses import dataclass, field

from bot.stories.features import Features, extract_features
from bot.stories.similarity import Thresholds, conflict, idf, jaccard, weighted_jaccard

__all__ = ["Assignment", "StoryGrouper", "StoryItem"]

DEFAULT_WINDOW = 24 * 3600.0
MIN_SHARED = 2  # words two headlines must share to be compared at all


@dataclass(frozen=True, slots=True)
class StoryItem:
    """One item to group. ``key`` is its identity; ``at`` is seconds (any epoch)."""

    key: str
    title: str
    summary: str = ""
    link: str = ""
    feed: str = ""
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where an item went: its story id, whether it joined an earlier story, and why."""

    story: str
    folded: bool
    reason: str  # "new", "seen", "link", "title", "lead"
    score: float = 0.0


@dataclass(slots=True)
class _Story:
    id: str
    first: Features
    alive: int = 0


@dataclass(slots=True)
class _Item:
    serial: int
    key: str
    story: _Story
    features: Features
    at: float


@dataclass(slots=True)
class _Index:
    """Word → serials of the items in the window that have it (ascending)."""

    postings: dict[str, list[int]] = field(default_factory=dict)

    def add(self, serial: int, words: frozenset[str]) -> None:
        for word in words:
            self.postings.setdefault(word, []).append(serial)

    def remove(self, serial: int, words: frozenset[str]) -> None:
        # Items leave in arrival order, so the serial is at (or near) the front; a retracted
        # proposal is at the end.
        for word in words:
            posting = self.postings.get(word)
            if posting is None:
                continue
            if posting and posting[0] == serial:
                del posting[0]
            elif posting and posting[-1] == serial:  # a proposal retracted
                posting.pop()
            elif serial in posting:
                posting.remove(serial)
            if not posting:
                del self.postings[word]

    def frequency(self, word: str) -> int:
        posting = self.postings.get(word)
        return len(posting) if posting else 0


def _keys(features: Features) -> frozenset[str]:
    """What the index holds of an item: its words, and its numbers marked with "#"."""
    if not features.numbers:
        return features.words
    return features.words | {"#" + number for number in features.numbers}


def _contained(a: frozenset[str], b: frozenset[str], limits: Thresholds) -> bool:
    """The shorter headline is (nearly) all inside the longer one: a trimmed rewrite."""
    shared = len(a & b)
    if shared < limits.contained_words:
        return False
    return shared / min(len(a), len(b)) >= limits.contained


class StoryGrouper:
    """Assigns items to stories, online and deterministically. Not thread-safe."""

    def __init__(self, window: float = DEFAULT_WINDOW,
                 thresholds: Thresholds | None = None) -> None:
        self.window = window
        self.thresholds = thresholds or Thresholds()
        self._items: dict[int, _Item] = {}
        self._order: deque[_Item] = deque()
        self._by_key: dict[str, _Item] = {}
        self._by_link: dict[str, _Item] = {}
        self._stories: dict[str, _Story] = {}
        self._index = _Index()
        self._serial = 0
        self._now = float("-inf")

    @property
    def stories(self) -> int:
        """How many stories have an item in the window."""
        return len(self._stories)

    def __len__(self) -> int:
        return len(self._items)

    def assign(self, item: StoryItem) -> Assignment:
        """The story of ``item``; it becomes part of the window."""
        self._advance(item.at)
        known = self._by_key.get(item.key)
        if known is not None:
            return Assignment(known.story.id, folded=False, reason="seen")
        features = extract_features(item.title, item.summary, item.link, item.feed)
        story, reason, score = self._choose(features)
        if story is None:
            story = _Story(id=item.key, first=features)
        self._add(item, story, features)
        return Assignment(story.id, folded=reason != "new", reason=reason, score=score)

    def propose(self, items: list[StoryItem]) -> list[Assignment]:
        """What ``assign`` would decide for ``items`` in order, leaving the window as it was.

        Decide outside, write inside: the store computes decisions without holding a lock,
        checks at write time that nobody decided in this window meanwhile, and the window
        learns the decisions only once they are recorded (``replay``). Items older than the
        window are still forgotten (time only moves forward).
        """
        decided = [self.assign(item) for item in items]
        added = sum(1 for d in decided if d.reason != "seen")
        for _ in range(added):
            self._retract(self._order.pop())
        return decided

    def _retract(self, record: _Item) -> None:
        """Undo ``_add`` of the newest item (it was already popped from ``_order``)."""
        self._index.remove(record.serial, _keys(record.features))
        del self._items[record.serial]
        if self._by_key.get(record.key) is record:
            del self._by_key[record.key]
        link = record.features.link
        if link and self._by_link.get(link) is record:
            del self._by_link[link]
        record.story.alive -= 1
        if record.story.alive <= 0 and self._stories.get(record.story.id) is record.story:
            del self._stories[record.story.id]

    def replay(self, item: StoryItem, story_id: str) -> None:
        """Add an item whose story was already decided (by this or another process).

        Rebuilding the window from the database replays the recorded assignments in their
        recorded order, so a restarted process, or one catching up on another's ingests,
        holds exactly the state the deciding process had.
        """
        self._advance(item.at)
        if item.key in self._by_key:
            return
        features = extract_features(item.title, item.summary, item.link, item.feed)
        story = self._stories.get(story_id)
        if story is None or story.alive <= 0:
            story = _Story(id=story_id, first=features)
        self._add(item, story, features)

    def _advance(self, at: float) -> None:
        """Move the clock forward (never back) and forget items older than the window."""
        self._now = max(self._now, at)
        horizon = self._now - self.window
        while self._order and self._order[0].at < horizon:
            self._forget(self._order.popleft())

    def _forget(self, old: _Item) -> None:
        self._retract(old)  # the oldest item leaves exactly as a retracted newest one

    def _add(self, item: StoryItem, story: _Story, features: Features) -> None:
        self._serial += 1
        record = _Item(self._serial, item.key, story, features, item.at)
        self._items[record.serial] = record
        self._order.append(record)
        self._by_key[item.key] = record
        if features.link:
            self._by_link.setdefault(features.link, record)
        self._index.add(record.serial, _keys(features))
        story.alive += 1
        self._stories[story.id] = story

    def key_cap(self) -> int:
        """Items a word may be in and still lead to candidates (bounded work per item)."""
        limits = self.thresholds
        return max(limits.key_min, int(limits.key_share * len(self._items)))

    def _weight(self, word: str) -> float:
        return idf(len(self._items), self._index.frequency(word))

    def _choose(self, features: Features) -> tuple[_Story | None, str, float]:
        if features.link:
            same = self._by_link.get(features.link)
            if same is not None:
                return same.story, "link", 1.0
        best: tuple[float, int, _Story | None, str] = (0.0, 0, None, "new")
        support: dict[str, list[int]] = {}
        for serial in self._candidates(features):
            member = self._items[serial]
            verdict = self._judge(features, member)
            if verdict is None:
                if self._supports(features, member):
                    support.setdefault(member.story.id, []).append(serial)
                continue
            score, reason = verdict
            # Highest score wins; on a tie the older item (smaller serial) wins.
            if score > best[0] or (score == best[0] and best[2] is not None
                                   and serial < best[1]):
                best = (score, serial, member.story, reason)
        if best[2] is None and support:
            votes, first_serial = max((len(v), -v[0]) for v in support.values())
            if votes >= self.thresholds.support_votes:
                story = self._items[-first_serial].story
                return story, "support", float(votes)
        return best[2], best[3], best[0]

    def _supports(self, features: Features, member: _Item) -> bool:
        """A weaker match that counts when several members of one story agree."""
        limits = self.thresholds
        other = member.features
        if len(features.words & other.words) < limits.support_words or jaccard(
                features.words, other.words) < limits.support:
            return False
        if features.feed and features.feed == other.feed:
            return False
        first = member.story.first
        if jaccard(features.words, first.words) < limits.first or conflict(features, first):
            return False
        return not conflict(features, other)

    def _judge(self, features: Features, member: _Item) -> tuple[float, str] | None:
        """(score, reason) if ``features`` may join ``member``'s story, else None."""
        limits = self.thresholds
        other = member.features
        if len(features.words & other.words) < MIN_SHARED:
            return None  # one shared word ("Story p" / "Story s") is no evidence
        score = jaccard(features.words, other.words)
        reason = "title"
        if score < limits.best and _contained(features.words, other.words, limits):
            reason = "contained"
        elif score < limits.best:
            if score < limits.lead_title or not features.lead or not other.lead:
                return None
            if jaccard(features.lead, other.lead) < limits.lead:
                return None
            reason = "lead"
        if weighted_jaccard(features.words, other.words, self._weight) < limits.weighted:
            return None
        if features.feed and features.feed == other.feed and score < limits.same_feed:
            return None
        first = member.story.first
        if first is not other and (jaccard(features.words, first.words) < limits.first
                                   or conflict(features, first)):
            return None
        if conflict(features, other):
            return None
        return score, reason

    def _candidates(self, features: Features) -> list[int]:
        """Serials of items that can reach the title threshold (prefix filter), bounded.

        An item sharing none of the ``floor(n * (1 - t)) + 1`` rarest of our ``n`` words
        shares fewer than ``n * t`` words, so its Jaccard is below ``t``: exact, not a
        guess. Three bounds keep the cost per item flat however full or repetitive the
        window is (issue 24), all deterministic: a word in more than ``key_cap`` items is no
        key (it reaches nobody; with a tiny vocabulary, such as tickers and scores, a shared
        number does instead), through a word only its newest ``scan`` items are reached, and
        at most ``max_candidates`` candidates (most shared rare words, then newest) are
        judged.
        """
        words = features.words
        if not words:
            return []
        limits = self.thresholds
        postings = self._index.postings
        ranked = sorted(words, key=lambda w: (len(postings.get(w, ())), w))
        size = len(ranked)
        floor = min(limits.best, limits.support)
        if features.lead:
            floor = min(floor, limits.lead_title)
        # Each way to fold needs a share of our words; the prefix must cover the widest.
        # A supporting or contained match also needs several shared words, so its prefix
        # is the narrower of its two conditions.
        wanted = [int(size * (1.0 - limits.best)) + 1, size - limits.contained_words + 1,
                  min(int(size * (1.0 - limits.support)) + 1,
                      size - limits.support_words + 1)]
        if features.lead:
            wanted.append(int(size * (1.0 - limits.lead_title)) + 1)
        prefix = max(1, max(wanted))
        counts: Counter[int] = Counter()
        scan, cap = limits.scan, self.key_cap()
        scanned = 0
        for word in ranked[:prefix]:
            posting = postings.get(word)
            if posting and len(posting) > cap:
                break  # ranked rarest first: this word and every later one are no keys
            scanned += 1
            if posting:
                counts.update(posting if len(posting) <= scan else posting[-scan:])
        if scanned < prefix:
            # Some words were too common to be keys (tickers, scores): a shared number (a
            # price, a score) still reaches the items that may repeat this one.
            for number in sorted(features.numbers):
                posting = postings.get("#" + number)
                if posting and len(posting) <= cap:
                    for serial in posting[-scan:]:
                        counts[serial] += 0
        # Upper bounds (Jaccard, containment): every word after the prefix shared as well.
        rest = size - scanned
        items = self._items
        found = []
        # Cheap first cut on the count alone: any fold needs ceil(floor * size) shared words
        # (Jaccard) or contained_words (containment), of which at most ``rest`` lie outside
        # the prefix.
        need = min(math.ceil(floor * size - 1e-9), limits.contained_words) - rest
        pairs = counts.items() if need <= 1 else [(s, c) for s, c in counts.items() if c >= need]
        for serial, shared in pairs:
            best = shared + rest
            other = len(items[serial].features.words)
            if best >= floor * (size + other - best) or (
                    best >= limits.contained_words
                    and best >= limits.contained * min(size, other)):
                found.append((shared, serial))
        if len(found) > limits.max_candidates:
            found = heapq.nlargest(limits.max_candidates, found)
        return sorted(s for _, s in found)
