"""Polling N feeds every interval with the real dispatcher, against the old 1 s tick × batch.

    .venv/bin/python bench/poll_bench.py                      # 4,000 feeds every 60 s, 60 s
    .venv/bin/python bench/poll_bench.py --quick              # 1,000 feeds every 15 s, 20 s
    .venv/bin/python bench/poll_bench.py --feeds 20000 --interval 300 --seconds 120

A feed farm in a *separate process* (``bench/feed_farm.py``; its CPU is not ours) serves the
feeds from ``--hosts`` loopback addresses (per-host limit 2, as in production) with the mix
85 % 304, 5 % same body, 8 % rewritten (same ids), 2 % with new items. Each round primes a
fresh SQLite store (fetch + pre-scan, not measured), spreads the feeds' due times evenly over
one interval, then runs the poll loop for ``--warmup`` + ``--seconds`` and measures the last
``--seconds``: polls/s asked (feeds / interval) and achieved, CPU per poll (this process, all
threads, plus the parser workers), CPU as a share of one core, schedule lag (how late a due
feed was when its poll started) and event-loop lag. Rounds, same run:

- ``dispatcher``: ``bot.service.dispatcher.Dispatcher.run``, what ``wirewatch run`` uses;
- ``tick × batch``: the same claims and polls started by a 1 s tick, at most
  ``poll_concurrency`` per tick: what ``wirewatch run`` did before (the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

import feed_farm

from bot.config.file import BotConfig, Config, FeedConfig, WatchConfig
from bot.core.model import Entry
from bot.pipeline.fetch import Fetched, Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.meaning import Meanings
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps
from bot.pipeline.prescan import prescan_keys
from bot.service.dispatcher import Dispatcher, LagWindow
from bot.store import open_store
from bot.store.base import Store

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOPBACK = AddressGuard((ipaddress.ip_network("127.0.0.0/8"),))


class TickBatch(Dispatcher):
    """The baseline: the scheduler until now, a 1 s tick starting at most the free slots."""

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children() -> list[int]:
    """Our child processes (the parser workers and the farm)."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except OSError:
                continue
            if ppid == me:
                found.append(int(entry.name))
    return found


@dataclass
class Row:
    label: str
    asked: float
    polls: int
    seconds: float
    cpu_s: float
    lag: dict[str, float]
    loop_p99_ms: float
    outcomes: dict[str, int]

    @property
    def achieved(self) -> float:
        return self.polls / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / max(self.polls, 1)

    @property
    def core_pct(self) -> float:
        return 100 * self.cpu_s / self.seconds


async def prime(store: Store, fetcher: Fetcher, interval: float, start: float,
                concurrency: int = 64) -> None:
    """Fetch every feed once, record its keys, and spread the due times over one interval.

    ``interval = 0`` makes every feed due at ``start`` (the cost bench polls them all at once).
    """
    feeds = await store.claim_due_feeds(float("inf"), 10_000_000, 1.0)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(position: int, feed_id: int, url: str) -> None:
        async with semaphore:
            response = await fetcher.fetch(url)
            assert isinstance(response, Fetched)
            keys = prescan_keys(response.body, response.headers)
            assert keys, f"pre-scan gave up on {url}"
            await store.ingest(feed_id, [Entry(key=key) for key in keys], now=time.time(),
                               next_check=start + interval * position / len(feeds),
                               title=None, etag=response.etag, last_modified=None,
                               plan=lambda _entries: [],
                               body_hash=hashlib.sha256(response.body).hexdigest())

    await asyncio.gather(*(one(i, feed.id, feed.url) for i, feed in enumerate(feeds)))


async def loop_lag(samples: list[float]) -> None:
    """Record how late a 10 ms sleep wakes up."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append(time.perf_counter() - started - 0.01)


async def steady(dispatcher: Dispatcher, args: argparse.Namespace, farm: int) -> Row:
    """Run the loop for warmup + seconds; measure the last ``seconds``."""
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(args.warmup)
    workers = [pid for pid in children() if pid != farm]
    polls, cpu = sum(dispatcher.results.values()), time.process_time()
    before = {outcome: count for outcome, count in dispatcher.results.items()}
    wcpu, started = sum(map(proc_cpu, workers)), time.monotonic()
    lags: list[float] = []
    ticker = asyncio.create_task(loop_lag(lags))
    await asyncio.sleep(args.seconds)
    ticker.cancel()
    elapsed = time.monotonic() - started
    cpu_s = time.process_time() - cpu + sum(map(proc_cpu, workers)) - wcpu
    done = sum(dispatcher.results.values()) - polls
    outcomes = dict(Counter(dispatcher.results) - Counter(before))
    dispatcher.lag.window_s = elapsed
    lag = dispatcher.lag.summary(time.monotonic())
    stop.set()
    await task
    await dispatcher.wait_idle(10.0)
    ordered = sorted(lags) or [0.0]
    return Row(type(dispatcher).__name__, args.feeds / args.interval, done, elapsed, cpu_s,
               lag, 1000 * ordered[int(0.99 * (len(ordered) - 1))], outcomes)


async def round_(kind: type[Dispatcher], args: argparse.Namespace, port: int, farm: int) -> Row:
    """A fresh store, primed and spread; then the measured steady state of ``kind``."""
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        feeds = tuple(FeedConfig(name=f"feed {i}", url=feed_farm.feed_url(i, args.hosts, port),
                                 interval=args.interval) for i in range(args.feeds))
        watches = tuple(WatchConfig(name=f"w{i}", query=query)
                        for i, query in enumerate(args.watch or ()))
        await store.sync_config(Config(feeds=feeds, watches=watches), time.time())
        fetcher = Fetcher(FetchLimits(), LOOPBACK)
        parser = IsolatedParser(workers=2)
        try:
            await prime(store, fetcher, args.interval, time.time() + 1.0)
            # --meanings: the model pool present, as with the semantic extra (issue 23); it
            # starts only if an about: watch follows a feed.
            meanings = Meanings(IsolatedParser(workers=1)) if args.meanings else None
            deps = PollDeps(store=store, fetcher=fetcher, parser=parser, meanings=meanings)
            dispatcher = kind(deps, args.concurrency)
            dispatcher.lag = LagWindow(size=10_000_000)
            return await steady(dispatcher, args, farm)
        finally:
            await fetcher.close()
            await parser.close()
            await store.close()


def report(rows: list[Row], args: argparse.Namespace) -> None:
    """The table and the targets."""
    print(f"\n{args.feeds:,} feeds every {args.interval:g} s on {args.hosts} hosts "
          f"(per-host limit 2), poll_concurrency {args.concurrency}, farm latency "
          f"{args.latency_ms:g} ms; measured {args.seconds:g} s after {args.warmup:g} s")
    print(f"{'loop':<12}{'asked/s':>9}{'achieved/s':>12}{'ratio':>7}{'CPU ms/poll':>13}"
          f"{'% core':>8}{'lag p50 s':>11}{'p95 s':>8}{'max s':>8}{'loop p99 ms':>13}")
    for row in rows:
        print(f"{row.label:<12}{row.asked:>9.1f}{row.achieved:>12.1f}"
              f"{row.achieved / row.asked:>7.2f}{row.cpu_ms:>13.2f}{row.core_pct:>8.1f}"
              f"{row.lag['p50_s']:>11.2f}{row.lag['p95_s']:>8.2f}{row.lag['max_s']:>8.2f}"
              f"{row.loop_p99_ms:>13.1f}")
    for row in rows:
        print(f"  {row.label}: {row.outcomes}")
    ours, base = rows[0], rows[-1]
    keeps_up = ours.achieved >= 0.9 * ours.asked
    cheap = ours.core_pct <= 10.0 * ours.asked / (4000 / 60)
    print(f"\ndispatcher: {ours.achieved / ours.asked:.0%} of the asked rate "
          f"[{'ok' if keeps_up else 'MISSED'} >= 90 %], {ours.core_pct:.1f} % of a core "
          f"[{'ok' if cheap else 'MISSED'} <= 10 % at 66.7 polls/s, scaled]; tick × batch "
          f"baseline: {base.achieved / base.asked:.0%} of the asked rate, "
          f"the dispatcher polls {ours.achieved / max(base.achieved, 1e-9):.2f}x as fast")


async def bench(args: argparse.Namespace) -> None:
    farm, port = feed_farm.start(args.hosts, args.items, args.latency_ms)
    try:
        rows = []
        for kind in (Dispatcher, TickBatch):
            rows.append(await round_(kind, args, port, farm.pid))
            print(f"{kind.__name__}: done", flush=True)
        report(rows, args)
    finally:
        farm.terminate()
        farm.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    feed_farm.add_load_arguments(parser, warmup=5.0)
    parser.add_argument("--concurrency", type=int, default=BotConfig().poll_concurrency)
    parser.add_argument("--watch", action="append",
                        help="a watch query every feed is followed by (repeatable)")
    parser.add_argument("--meanings", action="store_true",
                        help="give polls the about: model pool (issue 23)")
    args = feed_farm.parse_load(parser)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
