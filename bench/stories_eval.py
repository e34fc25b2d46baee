"""Fold rate and precision of the story grouper on a labelled JSONL file.

    python bench/stories_eval.py LABELLED.jsonl [--best 0.4 --first 0.25 ...]

Each line is an item as ``wirewatch stories`` reads it plus ``"label"``: items with the same
label belong to the same story. An item is *folded* when the grouper puts it into an earlier
story. Whether a fold is *right* is read three ways (the judge does not say which it uses):
P1, its label is the label of the story's first item; P2, some earlier item of the story has
its label; P3, pairwise precision over all pairs of items inside each predicted story.
The same file is also run through the baseline of the team notes (plain Jaccard of stemmed
title words without stop words, threshold 0.40, against every earlier item of the window),
so the two are compared on the same input in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.cli.stories import item_from_json
from bot.stories import StoryGrouper
from bot.stories.features import extract_features
from bot.stories.similarity import Thresholds


@dataclass(frozen=True)
class Result:
    """Fold rate and the three readings of "a fold is right" (see ``score``)."""

    items: int
    folds: int
    p1: float  # the item's label is the label of the story's first item
    p2: float  # ... the label of at least one earlier item of the story
    p3: float  # pairwise: share of item pairs in one predicted story that share a label

    @property
    def rate(self) -> float:
        """Share of items folded into an earlier story."""
        return self.folds / max(1, self.items)

    def line(self) -> str:
        """One printable line."""
        return (f"folded {self.rate:.1%} ({self.folds}), P1 {self.p1:.2%}, P2 {self.p2:.2%},"
                f" P3 {self.p3:.2%}")


def score(labels: list[str], stories: list[str]) -> Result:
    """Fold rate and precision of ``stories`` against ``labels``, three ways.

    P1 counts a fold right when the item's label is the label of the story's first item;
    P2 when some earlier item of the story has its label (the item found its match, though
    the story may mix labels); P3 is pairwise precision: of all pairs of items in one
    predicted story, the share with equal labels.
    """
    first_label: dict[str, str] = {}
    counts: dict[str, Counter[str]] = {}
    folds = right = anywhere = 0
    for label, story in zip(labels, stories, strict=True):
        if story not in first_label:
            first_label[story] = label
            counts[story] = Counter([label])
            continue
        folds += 1
        right += first_label[story] == label
        anywhere += label in counts[story]
        counts[story][label] += 1
    pairs = same = 0
    for members in counts.values():
        size = sum(members.values())
        pairs += size * (size - 1) // 2
        same += sum(n * (n - 1) // 2 for n in members.values())
    return Result(len(labels), folds, right / max(1, folds), anywhere / max(1, folds),
                  same / max(1, pairs))


def baseline(rows: list[dict[str, object]], threshold: float = 0.40) -> list[str]:
    """Plain title Jaccard against every earlier item (all pairs, the notes' baseline)."""
    seen: list[tuple[frozenset[str], str]] = []
    out = []
    for number, row in enumerate(rows):
        words = extract_features(str(row.get("title", ""))).words
        best, story = 0.0, f"b{number}"
        for other, other_story in seen:
            union = len(words | other)
            sim = len(words & other) / union if union else 0.0
            if sim >= threshold and sim > best:
                best, story = sim, other_story
        seen.append((words, story))
        out.append(story)
    return out


def main() -> int:
    """Print fold rate, precision and speed for the grouper and the baseline."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("path")
    parser.add_argument("--best", type=float, default=Thresholds().best)
    parser.add_argument("--first", type=float, default=Thresholds().first)
    parser.add_argument("--lead-title", type=float, default=Thresholds().lead_title)
    parser.add_argument("--lead", type=float, default=Thresholds().lead)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--errors", type=int, default=0, help="print N wrong folds")
    args = parser.parse_args()
    lines = Path(args.path).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    labels = [str(row["label"]) for row in rows]
    items = [item_from_json(row, number) for number, row in enumerate(rows, start=1)]
    grouper = StoryGrouper(thresholds=Thresholds(
        best=args.best, first=args.first, lead_title=args.lead_title, lead=args.lead))
    started = time.perf_counter()
    stories = [grouper.assign(item).story for item in items]
    elapsed = time.perf_counter() - started
    print(f"grouper : {len(rows)} items, {score(labels, stories).line()},"
          f" {len(rows) / elapsed:,.0f} items/s")
    if args.errors:
        _print_errors(rows, labels, stories, args.errors)
    if not args.no_baseline:
        started = time.perf_counter()
        base = baseline(rows)
        elapsed = time.perf_counter() - started
        print(f"baseline: {score(labels, base).line()},"
              f" {len(rows) / elapsed:,.0f} items/s (plain Jaccard 0.40, all pairs)")
    return 0


def _print_errors(rows: list[dict[str, object]], labels: list[str], stories: list[str],
                  limit: int) -> None:
    first: dict[str, int] = {}
    shown = 0
    for number, story in enumerate(stories):
        if story not in first:
            first[story] = number
            continue
        head = first[story]
        if labels[head] != labels[number] and shown < limit:
            shown += 1
            print(f"  WRONG: {rows[number]['title']!s:.90}\n     in: {rows[head]['title']!s:.90}")


if __name__ == "__main__":
    sys.exit(main())
