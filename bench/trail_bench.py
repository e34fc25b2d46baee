"""What the decision trail (issue 21) costs a poll that finds new items, same run.

    .venv/bin/python bench/trail_bench.py                 # both vocabularies, 300 repetitions
    .venv/bin/python bench/trail_bench.py --reps 100

The poll benches (``poll_cost_bench.py`` via ``store_compare.py``, ``poll_bench.py``) price
the trail inside a whole poll, where 85 % of polls are 304s and it hides in the noise of a
shared machine. This one isolates the only polls that pay for it, those with new items:
per vocabulary (``poll_cost_bench``'s real-news-like HTML items, ``feed_farm``'s tiny
vocabulary) it parses one feed, then times, alternating, with and without the trail:

- ``plan``: ``plan_deliveries`` + ``hold_drafts`` of 3 new items against the 20 watches of
  ``poll_cost_bench`` (with the trail: one verdict per watch, the first failed term of each);
- ``ingest``: ``store.ingest`` of those 3 new items into a primed SQLite feed, the plan
  included (with the trail: its rows in the same transaction).

It prints CPU µs per poll-with-new-items for each and the ratio trail/none. For scale: the
whole poll of such a feed (fetch, feedparser on ~60 KB in a worker) costs tens of ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import feed_farm
import poll_cost_bench

from bot.config.file import Config, FeedConfig, WatchConfig
from bot.core.model import Entry
from bot.pipeline.hold import hold_drafts
from bot.pipeline.parse import parse_feed
from bot.pipeline.render import MatcherCache, plan_deliveries
from bot.store import open_store
from bot.store.rows import DeliveryDraft
from bot.store.trail import TrailNotes

NEW = 3


def vocabularies() -> dict[str, list[Entry]]:
    """Parsed items of one feed per vocabulary."""
    news = parse_feed(poll_cost_bench.feed_body(7, 1, 0), {}, "https://news.example/f/7")
    tiny = parse_feed(feed_farm.feed_body(7, 1, 0, 50), {}, "https://news.example/f/7")
    return {"real-news-like": list(news.entries), "tiny vocabulary": list(tiny.entries)}


def cpu_us(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) * 1e6


async def acpu_us(run: Callable[[], object]) -> float:
    started = time.process_time()
    await run()  # type: ignore[misc]
    return (time.process_time() - started) * 1e6


async def measure(entries: list[Entry], reps: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        config = Config(feeds=(FeedConfig(name="feed", url="https://news.example/f/7"),),
                        watches=tuple(WatchConfig(name=f"w{i}", query=q)
                                      for i, q in enumerate(poll_cost_bench.WATCHES)))
        await store.sync_config(config, time.time())
        [sub] = await store.subscriptions(0)
        watches = await store.watches_for_feed(sub.feed.id)
        matchers = MatcherCache()
        now = datetime.now(UTC)

        def plan(new: Sequence[Entry], notes: TrailNotes | None) -> list[DeliveryDraft]:
            drafts = plan_deliveries(new, watches, matchers, sub.feed.url, now,
                                     None if notes is None else notes.verdicts)
            return hold_drafts(drafts, watches, new, now)

        async def ingest(batch: list[Entry], trail: bool, at: float) -> None:
            notes = TrailNotes() if trail else None
            await store.ingest(sub.feed.id, batch, now=at, next_check=at + 60, title=None,
                               etag=None, last_modified=None, body_hash=None,
                               plan=lambda new: plan(new, notes), trail=notes)

        await ingest(entries, False, time.time())  # primes the feed silently
        sample = entries[:NEW]
        times: dict[str, list[float]] = {k: [] for k in ("plan", "plan+trail", "ingest",
                                                         "ingest+trail")}
        for rep in range(reps):
            for trail in (rep % 2 == 0, rep % 2 == 1):  # alternate the order
                suffix = "+trail" if trail else ""
                times["plan" + suffix].append(cpu_us(
                    lambda t=trail: plan(sample, TrailNotes() if t else None)))
                fresh = [replace(e, key=f"{e.key}-{rep}-{trail}") for e in sample]
                times["ingest" + suffix].append(await acpu_us(
                    lambda f=fresh, t=trail: ingest(f, t, time.time())))
        await store.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"plan": (med["plan"], med["plan+trail"]),
            "ingest": (med["ingest"], med["ingest+trail"])}  # ingest includes the plan


async def bench(reps: int) -> None:
    print(f"{NEW} new items per poll, {len(poll_cost_bench.WATCHES)} watches; medians of "
          f"{reps} alternating repetitions, CPU µs per poll with new items\n")
    print(f"{'vocabulary':<18}{'step':<9}{'no trail':>10}{'trail':>10}{'trail/none':>12}")
    for name, entries in vocabularies().items():
        found = await measure(entries, reps)
        for step, (off, on) in found.items():
            print(f"{name:<18}{step:<9}{off:>10.0f}{on:>10.0f}{on / off:>12.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=300)
    asyncio.run(bench(parser.parse_args().reps))


if __name__ == "__main__":
    main()
