"""How alike two items are, and when they must not be folded whatever their words share.

The weight of a word is its inverse document frequency *in the current window*: a name or a
place that few items mention weighs more than "government". Learning it from the window
keeps the grouper self-contained, deterministic (it depends only on the items seen, in
order) and adapted to what is in the news right now.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.stories.features import Features

__all__ = ["Thresholds", "conflict", "idf", "jaccard", "weighted_jaccard"]

Weight = Callable[[str], float]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The decision rule. Defaults measured on labelled real headlines (see bench/)."""

    best: float = 0.35        # word Jaccard with the most similar member of the story
    first: float = 0.20       # ... and with the story's first item (stops chains drifting)
    weighted: float = 0.20    # IDF-weighted Jaccard with that member: the shared words
    #                           must not be only common ones ("everything you need to know")
    contained: float = 0.75   # or: this share of the shorter headline's words is shared ...
    contained_words: int = 3  # ... and at least this many words
    same_feed: float = 0.70   # one feed's items fold only when nearly identical: a feed
    #                           rarely reports one event twice, but it runs templates
    support: float = 0.25     # a weaker match (same vetoes, another feed, first item >=
    support_votes: int = 2    # ``first``) counts when this many members of a story agree
    support_words: int = 3    # ... each sharing this many words (names alone are not enough)
    lead_title: float = 0.25  # a weaker title match is enough when the leads agree ...
    lead: float = 0.45        # ... this much
    max_candidates: int = 100  # judged per item at most (most shared rare words first)
    scan: int = 1000           # newest items reached through one word
    key_share: float = 0.01    # a word in more than this share of the window is no key ...
    key_min: int = 64          # ... once it is in more than this many items


def idf(items: int, frequency: int) -> float:
    """Smoothed inverse document frequency; positive for any frequency."""
    return math.log(1.0 + (items + 1) / (frequency + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared words over all words (0 when either is empty)."""
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def weighted_jaccard(a: frozenset[str], b: frozenset[str], weight: Weight) -> float:
    """Sum of weights of shared words over the sum of weights of all words (0 when empty)."""
    if not a or not b:
        return 0.0
    shared = a & b
    if not shared:
        return 0.0
    inter = _total(shared, weight)
    union = _total(a, weight) + _total(b, weight) - inter
    return inter / union if union > 0 else 0.0


def _total(words: Iterable[str], weight: Weight) -> float:
    return sum(weight(w) for w in words)


def _events_conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """One says "raises", the other "holds" (same family, neither says the other's word)."""
    if not a or not b or a == b:
        return False
    only_a = a - b
    only_b = b - a
    families_a = {e.split(":", 1)[0] for e in only_a}
    return any(e.split(":", 1)[0] in families_a for e in only_b)


def conflict(a: Features, b: Features) -> bool:
    """True when two items tell of different events, however many words they share.

    Numbers must agree: when both carry numbers, one's numbers must all be in the other
    ("3 dead" versus "30 dead", "Aug. 9-16" versus "Aug. 16-23"; "3 dead, 20 hurt" may still
    join "3 dead"). Event words of one family must not contradict.
    """
    if a.numbers and b.numbers and not (a.numbers <= b.numbers or b.numbers <= a.numbers):
        return True
    return _events_conflict(a.events, b.events)
