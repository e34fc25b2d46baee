"""Full text in a poll (issue 13): which items get their page fetched, once, and the fallback.

Real parts: the local feed/web server, the Fetcher, the worker pool, SQLite.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from aiohttp import web

from bot.core.metrics import ARTICLES
from bot.pipeline.access import PrivateAccess
from bot.pipeline.article import ARTICLE_LIMITS, ArticleFetcher
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import Outcome, PollDeps, poll_feed
from bot.store import SqlStore, open_store
from bot.store.rows import CONFIG_GUILD, NewWatch
from tests.fakes.article_pages import TRUMP_XI, news_page
from tests.fakes.feed_server import FeedServer

GUILD = 111
HTML = "text/html; charset=utf-8"
DEADLINE_S = 2.0
TEASER = "Trump and Xi discuss trade in a phone call."
PAGE = news_page("Trump and Xi speak by phone", TRUMP_XI, most_read=["Zebrafish escape"])


def feed(server: FeedServer, items: list[tuple[str, str]], summary: str = TEASER) -> bytes:
    """RSS whose items (guid, path) link to pages on ``server``."""
    parts = "".join(
        f"<item><title>Story {guid}</title><link>{server.url(path)}</link><guid>{guid}</guid>"
        f"<description>{summary}</description></item>" for guid, path in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>https://news.example/</link>{parts}</channel></rss>").encode()


@dataclass
class Rig:
    deps: PollDeps
    store: SqlStore
    server: FeedServer
    now: float = 1_800_000_000.0

    async def poll(self, path: str = "/feed") -> Outcome:
        return await self.poll_url(self.server.url(path))

    async def poll_url(self, url: str) -> Outcome:
        [sub] = [s for s in await self.store.subscriptions(GUILD) if s.feed.url == url]
        return (await poll_feed(sub.feed, self.deps)).outcome

    async def bodies(self) -> dict[str, str]:
        return {item.entry.key: item.entry.body
                for item in await self.store.recent_items(GUILD, 0)}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    guard = AddressGuard((ipaddress.ip_network("127.0.0.0/8"),))
    fetcher = Fetcher(FetchLimits(deadline_s=5), guard)
    parser = IsolatedParser(workers=2, timeout_s=10)
    articles = ArticleFetcher(fetcher, parser, limits=replace(ARTICLE_LIMITS,
                                                              deadline_s=DEADLINE_S))
    async with FeedServer() as server:
        deps = PollDeps(store=store, fetcher=fetcher, parser=parser, articles=articles,
                        clock=lambda: 1_800_000_000.0, rng=random.Random(1))
        rig = Rig(deps, store, server)
        await store.subscribe(GUILD, server.url("/feed"), "wire", 60, rig.now)
        await store.add_watch(NewWatch(guild_id=GUILD, name="trade", query="trade",
                                       channel_id=5), rig.now)
        yield rig
    await fetcher.close()
    await parser.close()
    await store.close()


async def test_only_new_items_of_primed_feeds_fetch_their_page_once(rig: Rig) -> None:
    server = rig.server
    server.serve("/a", PAGE, content_type=HTML)
    server.serve("/b", PAGE, content_type=HTML)
    server.serve("/feed", feed(server, [("a", "/a")]))
    assert await rig.poll() == Outcome.INGESTED
    assert server.hits("/a") == 0, "the silent first poll fetched an article"
    server.serve("/feed", feed(server, [("b", "/b"), ("a", "/a")]))
    assert await rig.poll() == Outcome.INGESTED
    assert (server.hits("/a"), server.hits("/b")) == (0, 1)
    [feed_id] = [s.feed.id for s in await rig.store.subscriptions(GUILD)]
    assert await rig.store.article_stats([feed_id]) == {feed_id: {"ok": 1}}
    bodies = await rig.bodies()
    assert TRUMP_XI[3] in bodies["b"] and "Zebrafish" not in bodies["b"]
    assert bodies["a"] == ""
    # The same items again with changed text (the body hash differs): no second GET.
    server.serve("/feed", feed(server, [("b", "/b"), ("a", "/a")], summary="Updated."))
    await rig.poll()
    assert (server.hits("/a"), server.hits("/b")) == (0, 1)


async def test_modes_and_unwatched_feeds(rig: Rig) -> None:
    server = rig.server
    long_text = "Plenty of words here. " * 60  # over 1,000 characters: not a teaser
    for path in ("/1", "/2", "/3", "/4"):
        server.serve(path, PAGE, content_type=HTML)
    server.serve("/feed", feed(server, []))
    await rig.poll()
    server.serve("/feed", feed(server, [("1", "/1")], summary=long_text))
    await rig.poll()  # auto: the item is no teaser
    assert await rig.store.set_full_text(GUILD, {"wire": "always"}) == 1
    server.serve("/feed", feed(server, [("2", "/2")], summary=long_text))
    await rig.poll()
    await rig.store.set_full_text(GUILD, {"wire": "never"})
    server.serve("/feed", feed(server, [("3", "/3")]))
    await rig.poll()
    await rig.store.set_full_text(GUILD, {"wire": "auto"})
    await rig.store.remove_watch(GUILD, "trade")
    server.serve("/feed", feed(server, [("4", "/4")]))
    await rig.poll()  # no watch covers the feed
    assert [server.hits(p) for p in ("/1", "/2", "/3", "/4")] == [0, 1, 0, 0]


async def test_paywall_falls_back_to_the_teaser_on_time(rig: Rig) -> None:
    server = rig.server
    server.serve("/feed", feed(server, []))
    await rig.poll()
    server.status("/paid", 403)

    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response(text="late")

    server.route("/slow", slow)
    server.serve("/feed", feed(server, [("p", "/paid"), ("s", "/slow")]))
    before = ARTICLES.labels(reason="paywall")._value.get()
    started = time.monotonic()
    assert await rig.poll() == Outcome.INGESTED
    assert time.monotonic() - started < DEADLINE_S + 2.0
    assert ARTICLES.labels(reason="paywall")._value.get() == before + 1
    [feed_id] = [s.feed.id for s in await rig.store.subscriptions(GUILD)]
    assert await rig.store.article_stats([feed_id]) == {feed_id: {"paywall": 1, "timeout": 1}}
    drafts = [d for d, _ in await rig.store.pending_deliveries(10)]
    assert sorted(d.item_key for d in drafts) == ["p", "s"]  # the teaser matched "trade"
    assert all(d.alert.snippet.text.startswith("Trump and Xi") for d in drafts)


async def test_items_sharing_a_page_share_one_get(rig: Rig) -> None:
    server = rig.server
    server.serve("/shared", PAGE, content_type=HTML)
    server.serve("/feed", feed(server, []))
    await rig.poll()
    server.serve("/feed", feed(server, [("x", "/shared"), ("y", "/shared")]))
    await rig.poll()
    assert server.hits("/shared") == 1
    bodies = await rig.bodies()
    assert TRUMP_XI[3] in bodies["x"] and bodies["x"] == bodies["y"]


async def test_a_feed_of_slow_pages_leaves_room_for_other_feeds(rig: Rig) -> None:
    """Ten dripping pages behind one feed must not take every article slot of the process:
    another feed's article, polled meanwhile, comes back with its text at once."""
    server = rig.server
    fetcher = rig.deps.fetcher
    deadline_s = 4.0
    rig.deps.articles = ArticleFetcher(fetcher, rig.deps.parser, concurrency=4,
                                       limits=replace(ARTICLE_LIMITS, deadline_s=deadline_s))
    for i in range(10):
        server.drip(f"/drip{i}", interval=0.2, total=1000, content_type=HTML)
    server.serve("/good", PAGE, content_type=HTML)
    # The good feed links to "localhost": another host, so the per-host slots are not shared.
    other = server.url("/other").replace("127.0.0.1", "localhost")
    server.serve("/feed", feed(server, []))
    server.serve("/other", feed(server, []))
    await rig.store.subscribe(GUILD, other, "other", 60, rig.now)
    await rig.poll()
    await rig.poll_url(other)
    server.serve("/feed", feed(server, [(f"d{i}", f"/drip{i}") for i in range(10)]))
    good_link = server.url("/good").replace("127.0.0.1", "localhost")
    server.serve("/other", feed(server, [("g", "/good")]).replace(
        server.url("/good").encode(), good_link.encode()))
    hostile = asyncio.create_task(rig.poll())
    await asyncio.sleep(0.3)  # the hostile feed's pages are in flight
    started = time.monotonic()
    assert await rig.poll_url(other) == Outcome.INGESTED
    # Not queued behind the dripping pages until their deadline (they would free the slots
    # only then): with the slots all taken this poll takes the whole deadline.
    assert time.monotonic() - started < deadline_s / 2
    assert await hostile == Outcome.INGESTED
    bodies = await rig.bodies()
    assert TRUMP_XI[3] in bodies["g"]
    assert all(bodies[f"d{i}"] == "" for i in range(10))


async def test_a_config_feeds_allowance_reaches_no_other_hosts_page(rig: Rig) -> None:
    # The config file's feed may be on the operator's network; the links in it are the
    # publisher's (on an aggregator, anyone's). A link to another private host must not
    # ride on the feed's allowance: its text would be matched and shown to every guild.
    server = rig.server
    access = PrivateAccess(rig.store, ())
    fetcher = Fetcher(FetchLimits(deadline_s=5), AddressGuard(
        (ipaddress.ip_network("127.0.0.0/8"),)), access)
    articles = ArticleFetcher(fetcher, rig.deps.parser,
                              limits=replace(ARTICLE_LIMITS, deadline_s=DEADLINE_S))
    deps = replace(rig.deps, fetcher=fetcher, articles=articles)
    config_url = server.url("/config-feed")
    await rig.store.subscribe(CONFIG_GUILD, config_url, "Operator Wire", 60, rig.now)
    other_host = f"http://localhost:{server.port}"
    server.serve("/own", PAGE, content_type=HTML)
    server.serve("/internal", PAGE, content_type=HTML)

    def config_feed(items: list[tuple[str, str]]) -> bytes:
        return feed(server, []).replace(b"</channel>", "".join(
            f"<item><title>Story {guid}</title><link>{link}</link><guid>{guid}</guid>"
            f"<description>{TEASER}</description></item>" for guid, link in items
        ).encode() + b"</channel>")

    try:
        async with FeedServer() as other_port:
            other_port.serve("/internal", PAGE, content_type=HTML)
            # Links on the feed's own host that redirect away: to another private host, and
            # to another port of the same IP (another service). Each hop must lose it.
            server.redirect("/hop-host", f"{other_host}/internal")
            server.redirect("/hop-port", other_port.url("/internal"))
            server.serve("/config-feed", config_feed([]))
            [sub] = await rig.store.subscriptions(CONFIG_GUILD)
            await poll_feed(sub.feed, deps)
            server.serve("/config-feed", config_feed([
                ("own", server.url("/own")), ("x", f"{other_host}/internal"),
                ("y", f"http://127.0.0.1:{other_port.port}/internal"),
                ("h", server.url("/hop-host")), ("p", server.url("/hop-port"))]))
            [sub] = await rig.store.subscriptions(CONFIG_GUILD)
            assert (await poll_feed(sub.feed, deps)).outcome == Outcome.INGESTED
            assert server.hits("/own") == 1, "a page on the feed's own host keeps the allowance"
            assert server.hits("/hop-host") == server.hits("/hop-port") == 1
            assert server.hits("/internal") == 0, "another private host was reached"
            assert other_port.hits("/internal") == 0, "another port was reached"
    finally:
        await fetcher.close()


@pytest.mark.parametrize(("first", "second", "fetched", "alerted"), [
    # One follower asks for pages: they are fetched, and only its watches see them.
    ("always", "never", 1, {"trade", "fentanyl-one"}),
    ("never", "always", 1, {"trade", "fentanyl-two"}),
    ("auto", "never", 1, {"trade", "fentanyl-one"}),  # a teaser: auto fetches it
    # Nobody asks: no fetch, only the feed's own text is matched.
    ("never", "never", 0, {"trade"}),
])
async def test_each_follower_matches_the_text_it_asked_for(
        rig: Rig, first: str, second: str, fetched: int, alerted: set[str]) -> None:
    """Two servers follow one URL; "fentanyl" is only on the article page (issue 24)."""
    other = GUILD + 1
    url = rig.server.url("/feed")
    await rig.store.subscribe(other, url, "wire", 60, rig.now)
    await rig.store.set_full_text(GUILD, {"wire": first})
    await rig.store.set_full_text(other, {"wire": second})
    for guild, name in ((GUILD, "fentanyl-one"), (other, "fentanyl-two")):
        await rig.store.add_watch(NewWatch(guild_id=guild, name=name, query="fentanyl",
                                           channel_id=7), rig.now)
    rig.server.serve("/feed", feed(rig.server, [("1", "/a")]))
    await rig.poll()  # the first poll records silently
    rig.server.serve("/a", PAGE, content_type=HTML)
    rig.server.serve("/feed", feed(rig.server, [("2", "/a"), ("1", "/a")]))
    await rig.poll()
    assert rig.server.hits("/a") == fetched
    names = {delivery.watch_name for delivery, _ in await rig.store.pending_deliveries(50)}
    assert names == alerted
