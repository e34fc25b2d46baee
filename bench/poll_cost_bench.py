"""CPU per poll, 1,000 and 10,000 feeds: our poll path against "feedparser every poll", same run.

    .venv/bin/python bench/poll_cost_bench.py                   # 1,000 and 10,000 feeds
    .venv/bin/python bench/poll_cost_bench.py --quick           # 1,000 feeds, small baseline
    .venv/bin/python bench/poll_cost_bench.py --feeds 2000 --baseline-sample 300

(Whether one process keeps up with a schedule is ``poll_bench.py``; this one prices a poll,
and ``store_compare.py`` runs it on two commits.)

A feed server in a *separate process* (its CPU is not ours) serves /f/0 … /f/N-1, each
~60 KB with 50 items, with this mix in the measured round: 85 % unchanged with an ETag
(→ 304), 5 % unchanged without validators (same body → hash), 8 % rewritten with the same
item ids, 2 % with 3 new items. Round 1 primes the SQLite store (real fetch; item keys from
the pre-scan, because feedparser on 10,000 priming bodies would cost ~10 CPU-minutes) and is
not measured; round 2 runs ``Dispatcher.poll_all_once`` → ``poll_feed`` with the real Fetcher,
IsolatedParser (2 workers, warmed up) and store, 20 watches; once with full text off and once
on (issue 13: each new item's link is an article page on the same server, fetched and
extracted in the workers; the items are teasers, so "auto" fetches them). CPU per poll counts this
process (all threads) plus the parser workers (read from /proc). The baseline fetches the
same URLs unconditionally and runs ``feedparser.parse`` in-process on every body, on an
evenly spread subsample of the largest N (its cost per poll does not depend on N).
Event-loop lag: a ticker sleeping 10 ms records its overshoot.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import ipaddress
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser
from aiohttp import ClientSession, web
from poll_bench import prime

from bot.config.file import Config, FeedConfig, WatchConfig
from bot.core.metrics import PIPELINE
from bot.pipeline.article import ArticleFetcher, ArticleReason
from bot.pipeline.fetch import Fetched, Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps
from bot.service.dispatcher import Dispatcher as Poller
from bot.store import open_store
from tests.fakes.article_pages import news_page

MIX = (("etag", 85), ("noetag", 5), ("rewritten", 8), ("new", 2))  # percent of feeds
NEW_ITEMS, ITEMS = 3, 50
_WORDS = """tariffs exports Beijing Washington minister talks market shares investors bank rate
inflation growth election court ruling strike union energy oil gas prices budget deficit summit
treaty border refugees storm flood drought harvest wheat copper chips factory jobs wages housing
rents protest police army ceasefire vote parliament"""
_FILLER = "the a of to in and said on for with as by at from that was were will has"
WORDS, FILLER = _WORDS.split(), _FILLER.split()
# Real watch lists match a few percent of items: two of these match now and then.
WATCHES = ["title:ceasefire", "title:(drought AND harvest)", '"rare earths"', "lithium",
           "Bessent OR Lagarde", "semiconductor*", "title:(Fed AND rate*)", "cobalt NEAR/5 Congo",
           "OPEC", "Nvidia", "Taiwan AND strait", "wildfire", "earthquake", "Gaza", "Kyiv",
           "hurricane", "antitrust", "IPO", "bankruptcy", "/\\bG(7|20)\\b/"]
CLK_TCK, PAGE = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")


KINDS = [kind for kind, share in MIX for _ in range(share)]  # 100 slots


def kind_of(index: int) -> str:
    """Which part of the mix feed ``index`` belongs to (spread evenly over the indices)."""
    return KINDS[index % len(KINDS)]


# --- the feed server (its own process) -------------------------------------------------------


def paragraphs(count: int = 400) -> list[str]:
    """News-like item HTML of ~1 KB with links and emphasis, as real feeds carry.

    Precomputed, so serving stays cheap. Markup matters: feedparser's sanitiser and URI
    resolution cost more per KB of HTML than of plain text.
    """
    rng = random.Random(7)
    out = []
    for _ in range(count):
        words = [rng.choice(WORDS if rng.random() < 0.3 else FILLER) for _ in range(135)]
        for at in range(5, len(words), 30):
            words[at] = f'<a href="/topic/{words[at]}">{words[at]}</a>'
        words[3] = f"<b>{words[3]}</b>"
        text = " ".join(words)
        out.append(f'<p>{text[:300]}</p><p>{text[300:]}.</p><img src="/img/{rng.random():.6f}.jpg"'
                   ' alt="photo">')
    return out


TEXTS = paragraphs()
TITLES = [" ".join(random.Random(i).choices(WORDS, k=8)).capitalize() for i in range(97)]


def feed_body(index: int, version: int, first_item: int, host: str = "news.example",
              scheme: str = "https") -> bytes:
    """RSS 2.0, 50 items (newest first), ~60 KB; ``version`` rewrites text but not ids.

    Item links point at ``/a/<feed>/<item>`` on ``host``: the article pages.
    """
    stamp = f"Mon, 0{1 + version % 9} Jan 2024 10:00:00 GMT"
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             f"<title>Feed {index}</title><link>https://news.example/{index}/</link>"
             f"<lastBuildDate>{stamp}</lastBuildDate>"]
    for j in reversed(range(first_item, first_item + ITEMS)):
        text = TEXTS[(index * 7 + j + version) % len(TEXTS)]
        parts.append(
            f"<item><title>Story {j}: {TITLES[(index + j) % len(TITLES)]}</title>"
            f"<link>{scheme}://{host}/a/{index}/{j}?utm_source=rss</link>"
            f'<guid isPermaLink="false">f{index}-s{j}</guid><pubDate>{stamp}</pubDate>'
            f"<author>desk@news.example (News Desk)</author><category>world</category>"
            f"<description><![CDATA[{text} (v{version})]]></description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def article_body(index: int, item: int) -> bytes:
    """A ~100 KB article page: 12 paragraphs among nav, sidebar, comments, footer, scripts.

    Real news pages weigh 100–500 KB, most of it scripts and markup around a few KB of text.
    """
    rng = random.Random(index * 1000 + item)
    paragraphs = [" ".join(rng.choice(WORDS + FILLER) for _ in range(60)).capitalize() + "."
                  for _ in range(12)]
    page = news_page(TITLES[(index + item) % len(TITLES)], paragraphs,
                     most_read=TITLES[:8], related=TITLES[8:12], comments=TITLES[12:15])
    script = b"<script>" + b"var x=[1,2,3];function f(a){return a*2}" * 2000 + b"</script>"
    return page.replace(b"</body>", script + b"</body>")


def serve_forever() -> None:
    """Run the feed server; print its port on stdout; stop when stdin closes."""
    state = {"round": 1}

    async def feed(request: web.Request) -> web.StreamResponse:
        index = int(request.match_info["index"])
        kind = kind_of(index)
        changed = kind in ("rewritten", "new") and state["round"] >= 2
        version = state["round"] if changed else 1
        first = NEW_ITEMS * (state["round"] - 1) if kind == "new" else 0
        headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
        if kind != "noetag":
            headers["ETag"] = f'"{index}-{version}"'
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return web.Response(status=304, headers=headers)
        body = feed_body(index, version, first, request.host, "http")
        return web.Response(body=body, headers=headers)

    async def article(request: web.Request) -> web.StreamResponse:
        page = article_body(int(request.match_info["index"]), int(request.match_info["item"]))
        return web.Response(body=page, content_type="text/html", charset="utf-8")

    async def set_round(request: web.Request) -> web.StreamResponse:
        state["round"] = int(request.match_info["n"])
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f/{index}", feed)
        app.router.add_get("/a/{index}/{item}", article)
        app.router.add_post("/round/{n}", set_round)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


# --- measuring -------------------------------------------------------------------------------


def proc_stat(pid: int | str) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name ([] if the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (0.0 if it is gone)."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK if fields else 0.0


def rss_mb(pid: int | str) -> float:
    """Resident memory of ``pid`` ("self" allowed) in MB."""
    fields = proc_stat(pid)
    return int(fields[21]) * PAGE / 2**20 if fields else 0.0


def workers(server: int) -> list[int]:
    """Our child processes (the parser workers), not the feed server."""
    me = str(os.getpid())
    return [int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and int(p.name) != server and proc_stat(p.name)[1:2] == [me]]


@dataclass
class Row:
    label: str
    polls: int
    wall_s: float
    cpu_self_s: float
    cpu_workers_s: float
    lags: list[float]
    peak_mb: float
    outcomes: dict[str, int]

    @property
    def cpu_ms(self) -> float:
        return 1000 * (self.cpu_self_s + self.cpu_workers_s) / self.polls

    @property
    def lag_p99_ms(self) -> float:
        ordered = sorted(self.lags) or [0.0]
        return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def measured(label: str, run: Awaitable[dict[str, int]], server: int, polls: int) -> Row:
    """Await ``run`` while a 10 ms ticker records loop lag and RSS (ours plus the workers)."""
    lags: list[float] = []
    peak = [0.0]
    before = {pid: proc_cpu(pid) for pid in workers(server)}

    def sample() -> None:
        peak[0] = max(peak[0], rss_mb("self") + sum(map(rss_mb, before)))

    async def ticker() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - started - 0.01)
            if len(lags) % 25 == 0:  # reading /proc costs CPU that counts as ours
                sample()

    sample()
    task = asyncio.create_task(ticker())
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, wall = time.process_time(), time.perf_counter()
    outcomes = await run
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    task.cancel()
    sample()
    # Live workers from /proc (one started meanwhile counts from 0); any that died and were
    # reaped during the run are in RUSAGE_CHILDREN.
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    wcpu = sum(proc_cpu(pid) - before.get(pid, 0.0) for pid in workers(server))
    wcpu += now.ru_utime + now.ru_stime - reaped.ru_utime - reaped.ru_stime
    return Row(label, polls, wall, cpu, wcpu, lags, peak[0], outcomes)


# --- our poller and the baseline -------------------------------------------------------------


async def poller_round(base: str, feeds: int, args: argparse.Namespace, server: int,
                       full_text: bool = False) -> Row:
    """Prime ``feeds`` feeds, then measure one polling round of them."""
    async with ClientSession() as http:
        await http.post(f"{base}/round/1")
        with tempfile.TemporaryDirectory() as tmp:
            store = await open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            config = Config(
                feeds=tuple(FeedConfig(name=f"feed {i}", url=f"{base}/f/{i}", interval=300.0)
                            for i in range(feeds)),
                watches=tuple(WatchConfig(name=f"w{i}", query=q) for i, q in enumerate(WATCHES)))
            await store.sync_config(config, time.time())
            fetcher = Fetcher(FetchLimits(per_host=args.concurrency), LOOPBACK)
            parser = IsolatedParser(workers=2)
            try:
                await prime(store, fetcher, 0.0, 0.0, args.concurrency)
                warm = feed_body(0, 1, 0)
                await asyncio.gather(*(parser.parse(warm, {}, base) for _ in range(2)))
                await http.post(f"{base}/round/2")
                articles = ArticleFetcher(fetcher, parser) if full_text else None
                poller = Poller(PollDeps(store=store, fetcher=fetcher, parser=parser,
                                         articles=articles), args.concurrency)
                label = f"poller, {feeds:,} feeds{', full text' if full_text else ''}"
                before = article_counts()
                row = await measured(label, _outcomes(poller), server, feeds)
                after = article_counts()
                row.outcomes.update({f"article {reason}": after[reason] - before[reason]
                                     for reason in after if after[reason] > before[reason]})
            finally:
                await fetcher.close()
                await parser.close()
                await store.close()
    return row


def article_counts() -> dict[str, int]:
    """Article fetches so far, by reason (from the pipeline metrics)."""
    return {reason.value: int(PIPELINE.get_sample_value(
        "wirewatch_article_fetches_total", {"reason": reason.value}) or 0)
        for reason in ArticleReason}


async def _outcomes(poller: Poller) -> dict[str, int]:
    results = await poller.poll_all_once()
    return dict(Counter(result.outcome.value if result else "crashed" for result in results))


async def baseline_round(base: str, feeds: int, args: argparse.Namespace, server: int) -> Row:
    """Fetch (unconditionally) and feedparser.parse every body in-process, like naive bots."""
    step = max(1, feeds // args.baseline_sample)
    urls = [f"{base}/f/{i}" for i in range(0, feeds, step)][:args.baseline_sample]
    fetcher = Fetcher(FetchLimits(per_host=args.concurrency), LOOPBACK)
    semaphore = asyncio.Semaphore(args.concurrency)

    async def one(url: str) -> int:
        async with semaphore:
            response = await fetcher.fetch(url)
            assert isinstance(response, Fetched)
            result = feedparser.parse(io.BytesIO(response.body),
                                      response_headers={"content-type": "application/rss+xml"})
            return len(result.entries)

    async def run() -> dict[str, int]:
        entries = await asyncio.gather(*(one(url) for url in urls))
        return {"parsed": len(entries), "entries": sum(entries)}

    try:
        return await measured(f"baseline, {len(urls):,} of {feeds:,}", run(), server,
                              len(urls))
    finally:
        await fetcher.close()


LOOPBACK = AddressGuard((ipaddress.ip_network("127.0.0.1/32"),))


def report(rows: list[Row], baseline: Row, concurrency: int) -> None:
    """The table, the ratios and the targets."""
    print(f"\nmix: {', '.join(f'{share}% {kind}' for kind, share in MIX)}; "
          f"{ITEMS} items, ~{len(feed_body(0, 1, 0)) // 1000} KB per feed; concurrency "
          f"{concurrency}, FetchLimits(per_host={concurrency}) (default 2: all feeds share "
          "one host:port here)")
    print(f"\n{'run':<28}{'polls/s':>9}{'CPU ms/poll':>13}{'(workers)':>11}"
          f"{'lag p99 ms':>12}{'peak RSS MB':>13}")
    for row in [*rows, baseline]:
        print(f"{row.label:<28}{row.polls / row.wall_s:>9.0f}{row.cpu_ms:>13.2f}"
              f"{1000 * row.cpu_workers_s / row.polls:>11.2f}{row.lag_p99_ms:>12.1f}"
              f"{row.peak_mb:>13.0f}")
    print("\npeak RSS: this process plus the parser workers. outcomes:")
    for row in [*rows, baseline]:
        print(f"  {row.label}: {row.outcomes}")
    print()
    for row in rows:
        ratio = baseline.cpu_ms / row.cpu_ms
        cycle = row.cpu_ms * 10_000 / 1000
        print(f"{row.label}: {ratio:.0f}x less CPU per poll than the baseline "
              f"[{'ok' if ratio >= 20 else 'MISSED'} >= 20x]; 10,000 feeds per 5 min = "
              f"{cycle:.0f} CPU-s per 300 s = {cycle / 3:.1f}% of one core; lag p99 "
              f"{row.lag_p99_ms:.0f} ms [{'ok' if row.lag_p99_ms < 100 else 'MISSED'} < 100]; "
              f"RSS {row.peak_mb:.0f} MB [{'ok' if row.peak_mb < 300 else 'MISSED'} < 300]")


async def bench(args: argparse.Namespace) -> None:
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{int(server.stdout.readline())}"
        rows = []
        pairs = []
        for feeds in args.feeds:
            for full_text in (False, True):
                started = time.perf_counter()
                rows.append(await poller_round(base, feeds, args, server.pid, full_text))
                print(f"{rows[-1].label}: done in {time.perf_counter() - started:.0f} s "
                      f"(priming included)", flush=True)
            pairs.append((rows[-2], rows[-1]))
        baseline = await baseline_round(base, max(args.feeds), args, server.pid)
        report(rows, baseline, args.concurrency)
        for off, on in pairs:
            print(f"{on.label}: {on.cpu_ms:.2f} CPU ms/poll against {off.cpu_ms:.2f} with full "
                  f"text off ({on.cpu_ms / off.cpu_ms:.2f}x; {NEW_ITEMS} new items in "
                  f"{dict(MIX)['new']} % of feeds)")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", default="1000,10000",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--baseline-sample", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="1,000 feeds, baseline on 100")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_forever()
        return
    if args.quick:
        args.feeds, args.baseline_sample = [1000], 100
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
