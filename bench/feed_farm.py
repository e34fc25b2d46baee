"""A feed server for the poll benches, in its own process, on many loopback hosts.

    .venv/bin/python bench/feed_farm.py --hosts 250   # prints the port; stops when stdin closes

It listens on one port of ``--hosts`` addresses 127.0.H.L (the fetcher's per-host limit is 2,
so real deployments spread over many hosts too). Feed ``i`` lives at
``http://<host i % hosts>:<port>/f/<i>``. The mix per feed (spread evenly over the indices):
85 % answer 304 to their ETag, 5 % send the same body without validators, 8 % rewrite the body
(same item ids) on every request, 2 % add ``NEW_ITEMS`` new items on every request.
``GET /stats`` (any host) returns the request count per feed as JSON; ``--latency-ms`` delays
every answer, as a distant publisher would.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
from collections import Counter

from aiohttp import web

MIX = (("etag", 85), ("noetag", 5), ("rewritten", 8), ("new", 2))  # percent of feeds
KINDS = [kind for kind, share in MIX for _ in range(share)]  # 100 slots
NEW_ITEMS = 3
_WORDS = """tariffs exports minister talks market shares investors bank rate inflation growth
election court ruling strike union energy oil gas prices budget deficit summit treaty border
storm flood drought harvest wheat copper chips factory jobs wages housing rents vote"""
WORDS = _WORDS.split()
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "gu", "ha",
              "ji", "be", "fo", "ly", "co", "wa", "xe")
_FILLER = ["the", "a", "of", "to", "in", "and", "on", "for", "with", "as", "by", "at", "from",
           "that", "was", "were", "will", "has"]


def _news_vocabulary(size: int = 20_000) -> list[str]:
    rng = random.Random(24)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


NEWS_WORDS = _news_vocabulary()
# Stories in the news right now: several feeds carry rewrites of the same headline.
def _zipf(rng: random.Random, count: int) -> list[str]:
    # Low ranks are far more frequent (names in the news right now), with a long tail.
    return [NEWS_WORDS[int(len(NEWS_WORDS) * rng.random() ** 3)] for _ in range(count)]


CURRENT = [_zipf(random.Random(n), 8) for n in range(300)]


def _news_item(rng: random.Random) -> tuple[str, str]:
    """A real-news-like title (a third are rewrites of a current story) and summary."""
    if rng.random() < 0.3:
        words = list(rng.choice(CURRENT))
        words[rng.randrange(len(words))] = _zipf(rng, 1)[0]
        title = " ".join(words).capitalize()
    else:
        title = " ".join(_zipf(rng, rng.randint(6, 10))).capitalize()
    summary = " ".join(rng.choice(_FILLER) if rng.random() < 0.4 else _zipf(rng, 1)[0]
                       for _ in range(60))
    return title, summary


def _tiny_item(rng: random.Random, j: int) -> tuple[str, str]:
    """Tickers, scores, prices: a few dozen words, told apart by a number."""
    return f"Story {j}: {' '.join(rng.choices(WORDS, k=6))}", " ".join(rng.choices(WORDS, k=60))


def kind_of(index: int) -> str:
    """Which part of the mix feed ``index`` belongs to."""
    return KINDS[index % len(KINDS)]


def host_of(index: int, hosts: int) -> str:
    """The loopback address serving feed ``index``: 127.0.H.L, never 127.0.0.0."""
    n = index % hosts + 1
    return f"127.0.{n // 250}.{n % 250 + 1}"


def feed_url(index: int, hosts: int, port: int) -> str:
    """Where feed ``index`` is served."""
    return f"http://{host_of(index, hosts)}:{port}/f/{index}"


def feed_body(index: int, version: int, first_item: int, items: int,
              vocabulary: str = "tiny") -> bytes:
    """RSS 2.0 with ``items`` items, newest first; ``version`` rewrites text, not ids.

    ``vocabulary``: "tiny" (a few dozen words: tickers, scores, prices) or "news" (a
    Zipf-like vocabulary of 20,000 words, a third of the titles rewrites of current stories).
    """
    rng = random.Random(index * 1000 + version)
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             f"<title>Feed {index}</title><link>https://news.example/{index}/</link>"]
    for j in reversed(range(first_item, first_item + items)):
        title, text = (_news_item(random.Random(index * 100_003 + j)) if vocabulary == "news"
                       else _tiny_item(rng, j))
        parts.append(
            f"<item><title>{title}</title>"
            f"<link>https://news.example/{index}/story/{j}</link>"
            f'<guid isPermaLink="false">f{index}-s{j}</guid>'
            f"<description><![CDATA[<p>{text}</p> (v{version})]]></description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


class Farm:
    """Request handlers; ``hits`` counts requests per feed."""

    def __init__(self, items: int, latency_s: float, vocabulary: str = "tiny") -> None:
        self.items = items
        self.latency_s = latency_s
        self.vocabulary = vocabulary
        self.hits: Counter[int] = Counter()

    async def feed(self, request: web.Request) -> web.StreamResponse:
        index = int(request.match_info["index"])
        self.hits[index] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        kind, hit = kind_of(index), self.hits[index]
        version = hit if kind in ("rewritten", "new") else 1
        first = NEW_ITEMS * (hit - 1) if kind == "new" else 0
        headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
        if kind != "noetag":
            headers["ETag"] = f'"{index}-{version}"'
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return web.Response(status=304, headers=headers)
        body = feed_body(index, version, first, self.items, self.vocabulary)
        return web.Response(body=body, headers=headers)

    async def stats(self, _request: web.Request) -> web.StreamResponse:
        return web.json_response({str(k): v for k, v in self.hits.items()})


async def serve(hosts: int, items: int, latency_s: float, vocabulary: str) -> None:
    """Listen on every host (one port), print the port, run until stdin closes."""
    farm = Farm(items, latency_s, vocabulary)
    app = web.Application()
    app.router.add_get("/f/{index}", farm.feed)
    app.router.add_get("/stats", farm.stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    first = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await first.start()
    port = runner.addresses[0][1]
    for index in range(hosts):
        await web.TCPSite(runner, host_of(index, hosts), port, backlog=1024).start()
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def start(hosts: int, items: int, latency_ms: float,
          vocabulary: str = "tiny") -> tuple[subprocess.Popen[str], int]:
    """Start the farm in its own process; return it and its port."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--hosts", str(hosts), "--items", str(items),
         "--latency-ms", str(latency_ms), "--vocabulary", vocabulary],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def add_load_arguments(parser: argparse.ArgumentParser, warmup: float) -> None:
    """The load options both poll benches take (feeds, interval, hosts, timing, --quick)."""
    parser.add_argument("--feeds", type=int, default=4000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=warmup)
    parser.add_argument("--quick", action="store_true", help="1,000 feeds every 15 s, 20 s")
    parser.add_argument("--vocabulary", choices=("tiny", "news"), default="tiny",
                        help="headlines from a few dozen words, or real-news-like")


def parse_load(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, applying ``--quick``."""
    args = parser.parse_args()
    if args.quick:
        args.feeds, args.interval, args.seconds = 1000, 15.0, 20.0
    return args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--vocabulary", choices=("tiny", "news"), default="tiny")
    args = parser.parse_args()
    asyncio.run(serve(args.hosts, args.items, args.latency_ms / 1000, args.vocabulary))


if __name__ == "__main__":
    main()
