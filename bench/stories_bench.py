"""Speed and memory of the story grouper with 100,000 stories in the window.

    .venv/bin/python bench/stories_bench.py                    # 100,000 stories, 20,000 items
    .venv/bin/python bench/stories_bench.py --stories 20000 --items 5000 --baseline-window 2000

Headlines are synthetic (6–10 words drawn from a Zipf-like vocabulary of 60,000 words, plus
common newsroom words and numbers), so candidate lists have a realistic long tail. The window
is first filled with ``--stories`` distinct stories (not measured for speed; memory is
measured with tracemalloc around it). Then ``--items`` more arrive: half are rewrites of a
story in the window (some words swapped, a wire tag or a source suffix added), half are new.

``--vocabulary tiny`` draws headlines from a few dozen words instead (tickers, scores,
prices: every word is in a large share of the window), the case where comparing with every
item sharing a word grew with the window (issue 24). The rewrites are labelled, so the run
also prints how many folds were right and how many rewrites found their story.

The baseline, measured in the same run, is what a naive grouper does: compare the new
headline with every item in the window (plain Jaccard). It is run with a window of
``--baseline-window`` items, because its cost grows with the window; the printed ratio is
against that smaller window, so it *understates* the real advantage.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.stories import StoryGrouper, StoryItem
from bot.stories.features import extract_features

_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "gu", "ha",
              "ji", "be", "fo", "ly", "co", "wa", "xe")
_COMMON = ("government", "market", "minister", "police", "court", "election", "talks",
           "deal", "attack", "crisis", "shares", "bank", "president", "storm", "trial")
_TAGS = ("UPDATE 1-", "EXCLUSIVE-", "BREAKING: ", "")
_SUFFIXES = (" - Reuters", " | BBC News", " (AP)", "")


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(3, 5))))
    return sorted(words)


def _headline(rng: random.Random, vocabulary: list[str]) -> list[str]:
    count = rng.randint(6, 10)
    # Zipf-like: low ranks are much more frequent (names in the news right now).
    words = [vocabulary[int(len(vocabulary) * rng.random() ** 3)] for _ in range(count - 2)]
    words += rng.sample(_COMMON, 2)
    if rng.random() < 0.3:
        words.append(str(rng.randint(2, 500)))
    return words


def _rewrite(rng: random.Random, words: list[str], vocabulary: list[str]) -> str:
    copy = list(words)
    for _ in range(rng.randint(0, 2)):
        copy[rng.randrange(len(copy))] = rng.choice(vocabulary)
    return rng.choice(_TAGS) + " ".join(copy) + rng.choice(_SUFFIXES)


_TINY = ["oil", "gas", "gold", "wheat", "copper", "rises", "falls", "steady", "opens",
         "closes", "shares", "bonds", "index", "futures", "dollar", "euro", "yen", "match",
         "wins", "loses", "draws", "leads", "trails"]


def _tiny_headline(rng: random.Random, _vocabulary: list[str]) -> list[str]:
    return [*rng.sample(_TINY, rng.randint(3, 6)), str(rng.randint(2, 99_999))]


def _stream(seed: int, stories: int, items: int, tiny: bool = False
            ) -> tuple[list[StoryItem], list[StoryItem], list[int]]:
    """The window's stories, the items to group, and for each item the story it rewrites
    (-1 for a new one)."""
    rng = random.Random(seed)
    vocabulary = _TINY if tiny else _vocabulary(rng, 60_000)
    headline = _tiny_headline if tiny else _headline
    heads = [headline(rng, vocabulary) for _ in range(stories)]
    fill = [StoryItem(f"f{n}", " ".join(h), at=float(n) / 10) for n, h in enumerate(heads)]
    start = stories / 10
    more, sources = [], []
    for n in range(items):
        if n % 2:
            source = rng.randrange(len(heads))
            title = (rng.choice(_TAGS) + " ".join(heads[source]) + rng.choice(_SUFFIXES)
                     if tiny else _rewrite(rng, heads[source], vocabulary))
        else:
            source, title = -1, " ".join(headline(rng, vocabulary))
        sources.append(source)
        more.append(StoryItem(f"m{n}", title, feed=f"feed{n % 50}", at=start + n / 10))
    return fill, more, sources


def _naive(fill: list[StoryItem], more: list[StoryItem]) -> float:
    """Items/s of all-pairs plain Jaccard against every item of the window."""
    window = [extract_features(i.title).words for i in fill]
    started = time.perf_counter()
    for item in more:
        words = extract_features(item.title).words
        best = 0.0
        for other in window:
            shared = len(words & other)
            if shared:
                best = max(best, shared / (len(words) + len(other) - shared))
        window.append(words)
    return len(more) / (time.perf_counter() - started)


def main() -> int:
    """Print memory and items/s of the grouper and the all-pairs baseline."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--baseline-window", type=int, default=5_000)
    parser.add_argument("--baseline-items", type=int, default=500)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--vocabulary", choices=("news", "tiny"), default="news")
    args = parser.parse_args()
    fill, more, sources = _stream(args.seed, args.stories, args.items,
                                  args.vocabulary == "tiny")
    # The window is 1 week here so nothing expires: all stories stay in it.
    grouper = StoryGrouper(window=7 * 24 * 3600.0)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    for item in fill:
        grouper.assign(item)
    fill_rate = len(fill) / (time.perf_counter() - started)
    gc.collect()
    memory = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"window: {grouper.stories:,} stories, {len(grouper):,} items; "
          f"memory {memory / 2**20:,.1f} MiB ({memory / len(grouper):,.0f} B/item); "
          f"filled at {fill_rate:,.0f} items/s")
    started = time.perf_counter()
    decided = [grouper.assign(item) for item in more]
    rate = len(more) / (time.perf_counter() - started)
    folded = sum(d.folded for d in decided)
    right = sum(d.folded and d.story == fill[source].key
                for d, source in zip(decided, sources, strict=True))
    rewrites = sum(source >= 0 for source in sources)
    print(f"grouper : {rate:,.0f} items/s with {grouper.stories:,} stories in the window "
          f"({folded:,} of {len(more):,} folded, {right:,} into the story they rewrite; "
          f"{rewrites:,} were rewrites)")
    base = _naive(fill[: args.baseline_window], more[: args.baseline_items])
    print(f"baseline: {base:,.0f} items/s, all-pairs Jaccard with only "
          f"{args.baseline_window:,} items in the window")
    print(f"ratio   : {rate / base:,.1f}x faster with {len(grouper) // args.baseline_window}x "
          f"the window")
    return 0


if __name__ == "__main__":
    sys.exit(main())
