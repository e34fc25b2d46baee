"""A huge JSON Feed through the real IsolatedParser: event-loop stall and memory.

    .venv/bin/python bench/big_feed_bench.py                 # 330,000 tiny items (~4.5 MB)
    .venv/bin/python bench/big_feed_bench.py --items 100000

Issue 11 found one 4.5 MB JSON Feed of 330,000 tiny items stalling the loop 2 s and taking
506 MiB. This parses that body and, as the baseline in the same run, an ordinary 50-item
feed, both with a 5 ms ticker measuring the loop's worst overshoot; then prints the stall,
the parent's peak RSS growth, the entries handed back and the ratios big/baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

from bot.pipeline.isolation import IsolatedParser

HEADERS = {"Content-Type": "application/feed+json"}


def json_feed(items: int) -> bytes:
    """A valid JSON Feed of ``items`` tiny items (an id each, like the report's)."""
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "Big",
           "items": [{"id": str(i)} for i in range(items)]}
    return json.dumps(doc, separators=(",", ":")).encode()


async def worst_lag(done: asyncio.Event, interval: float = 0.005) -> float:
    worst = 0.0
    while not done.is_set():
        started = time.perf_counter()
        await asyncio.sleep(interval)
        worst = max(worst, time.perf_counter() - started - interval)
    return worst


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(parser: IsolatedParser, body: bytes) -> tuple[float, float, int, float]:
    done = asyncio.Event()
    ticker = asyncio.create_task(worst_lag(done))
    rss_before = rss_mib()
    started = time.perf_counter()
    feed = await parser.parse(body, HEADERS, "https://big.example/feed.json")
    elapsed = time.perf_counter() - started
    done.set()
    return await ticker, rss_mib() - rss_before, len(feed.entries), elapsed


async def main(items: int) -> None:
    parser = IsolatedParser(timeout_s=120.0)  # the bot's memory limit per worker
    try:
        small, big = json_feed(50), json_feed(items)
        await parser.parse(small, HEADERS, "https://warm.example/")  # start the workers
        base = await measure(parser, small)
        result = await measure(parser, big)
    finally:
        await parser.close()
    print(f"{'body':>18} {'loop stall ms':>14} {'parent RSS +MiB':>16} {'entries':>8} {'s':>6}")
    for name, (lag, rss, count, secs) in (("50 items", base),
                                         (f"{items:,} items", result)):
        print(f"{name:>18} {lag * 1000:14.1f} {rss:16.1f} {count:8d} {secs:6.2f}")
    print(f"body {len(big) / 1e6:.1f} MB; stall ratio big/baseline "
          f"{result[0] / max(base[0], 1e-4):.1f}x")


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--items", type=int, default=330_000)
    asyncio.run(main(args.parse_args().items))
