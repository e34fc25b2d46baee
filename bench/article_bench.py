"""Article extraction (issue 13): ms per real page, against parsing one feed, same run.

    .venv/bin/python bench/article_bench.py                  # every corpus page, 3 rounds
    .venv/bin/python bench/article_bench.py --rounds 1

The pages are trafilatura 1.0.0's real-world test pages (``make corpus`` fetches them into
``.cache/trafilatura-tests/``). For each page it times ``extract_main_text`` in this process
(CPU time, best of the rounds) and the whole round trip through the worker pool
(``IsolatedParser.extract``: pipes, JSON, extraction; wall time). The baseline is what a
poll already pays per changed feed: ``feedparser`` on a 50-item, ~60 KB RSS body, timed in
the same run, so the ratio says how many feed parses one article extraction costs.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser

from bench.poll_bench import feed_body
from bot.pipeline.extract import extract_main_text
from bot.pipeline.isolation import IsolatedParser
from tests.fakes.article_corpus import cases, corpus_dir, missing_reason

HEADERS = {"content-type": "text/html"}


def cpu_ms(action: Callable[[], object], rounds: int) -> float:
    """Best CPU milliseconds of ``rounds`` calls of ``action``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        action()
        best = min(best, time.process_time() - started)
    return best * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def through_workers(pages: list[tuple[str, bytes]]) -> list[float]:
    """Wall ms per page through the worker pool, one page at a time (no queueing)."""
    pool = IsolatedParser(workers=1, timeout_s=20.0)
    try:
        await pool.extract(pages[0][1], HEADERS, pages[0][0])  # start and warm the worker
        out = []
        for url, body in pages:
            started = time.perf_counter()
            await pool.extract(body, HEADERS, url, timeout_s=20.0)
            out.append(1000 * (time.perf_counter() - started))
        return out
    finally:
        await pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tests = corpus_dir()
    if tests is None:
        print(missing_reason())
        return 1
    pages = [(case.url, case.path.read_bytes()) for case in cases(tests)]
    feed = feed_body(0, 1, 0)
    feed_ms = cpu_ms(lambda: feedparser.parse(io.BytesIO(feed)), max(args.rounds, 5))
    local = [cpu_ms(lambda u=url, b=body: extract_main_text(b, HEADERS, u), args.rounds)
             for url, body in pages]
    pooled = asyncio.run(through_workers(pages))
    sizes = [len(body) / 1024 for _, body in pages]
    print(f"{len(pages)} real pages, {statistics.median(sizes):.0f} KB median "
          f"({max(sizes):.0f} KB max)")
    print(f"{'':<34}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'mean ms':>9}")
    for label, values in (("extract, in process (CPU)", local),
                          ("extract, through a worker (wall)", pooled)):
        print(f"{label:<34}{pct(values, 0.5):>9.1f}{pct(values, 0.95):>9.1f}"
              f"{max(values):>9.1f}{statistics.fmean(values):>9.1f}")
    print(f"{'baseline: feedparser, 60 KB feed':<34}{feed_ms:>9.1f}")
    print(f"\none extraction costs {pct(local, 0.5) / feed_ms:.2f}x (p50) / "
          f"{pct(local, 0.95) / feed_ms:.2f}x (p95) one feed parse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
