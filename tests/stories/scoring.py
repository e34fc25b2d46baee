"""Fold rate, precision and recall of a grouping against labels (shared by the tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.stories import StoryGrouper, StoryItem


@dataclass(frozen=True)
class Scores:
    """Folds: items put into an earlier story. Right: the story's first item has its label."""

    items: int
    folds: int
    right: int
    possible: int  # items whose label was seen before: the folds a perfect grouper makes

    @property
    def precision(self) -> float:
        """Share of folds that are right (1.0 when nothing was folded)."""
        return self.right / self.folds if self.folds else 1.0

    @property
    def recall(self) -> float:
        """Share of possible folds that were made and right."""
        return self.right / self.possible if self.possible else 1.0


def score(labels: Sequence[str], stories: Sequence[str]) -> Scores:
    """Compare the grouper's story ids with the labels, item by item in arrival order."""
    first_label: dict[str, str] = {}
    seen_labels: set[str] = set()
    folds = right = possible = 0
    for label, story in zip(labels, stories, strict=True):
        possible += label in seen_labels
        seen_labels.add(label)
        if story not in first_label:
            first_label[story] = label
            continue
        folds += 1
        right += first_label[story] == label
    return Scores(len(labels), folds, right, possible)


def group_and_score(name: str, labels: Sequence[str], items: Sequence[StoryItem]) -> Scores:
    """Run ``items`` through a fresh grouper, print and return the scores."""
    grouper = StoryGrouper()
    result = score(labels, [grouper.assign(item).story for item in items])
    print(f"{name}: {result.items} items, {result.folds} folds, "
          f"precision {result.precision:.1%}, recall {result.recall:.1%}")
    return result
