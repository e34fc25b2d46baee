"""WebSub against a local hub: discovery, verification, signed pushes, renewal, safety net.

Real parts: the feed server (a feed advertising the hub), the fetcher, the isolated parser,
SQLite, the callback served by a real aiohttp server, and ``tests.fakes.websub_hub.FakeHub``.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.core.urls import host_of
from bot.pipeline.access import PrivateAccess
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps, poll_feed
from bot.pipeline.websub import signature_valid
from bot.service.websub import WebSubCallback, request_subscriptions
from bot.store import SqlStore, open_store
from bot.store.rows import FeedRow
from tests.fakes.clock import START
from tests.fakes.clock import ManualClock as Clock
from tests.fakes.feed_server import FeedServer
from tests.fakes.websub_hub import FakeHub

GUILD = 111
MAX_S = 3600.0



@dataclass
class Rig:
    store: SqlStore
    deps: PollDeps
    feeds: FeedServer
    hub: FakeHub
    clock: Clock
    public_url: str
    woken: list[int]

    async def feed(self) -> FeedRow:
        [sub] = await self.store.subscriptions(GUILD)
        return sub.feed

    async def subscribe_job(self) -> int:
        return await request_subscriptions(self.store, self.deps.fetcher, self.public_url,
                                           self.clock)


def hub_feed(hub: str, self_url: str = "") -> bytes:
    links = f'<atom:link rel="hub" href="{hub}"/>'
    if self_url:
        links += f'<atom:link rel="self" href="{self_url}"/>'
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<channel><title>Pushed</title><link>https://news.example/</link>{links}"
            "<item><title>One</title><link>https://news.example/1</link><guid>1</guid></item>"
            "</channel></rss>").encode()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    fetcher = Fetcher(FetchLimits(deadline_s=5),
                      AddressGuard((ipaddress.ip_network("127.0.0.0/8"),)))
    parser = IsolatedParser(workers=1, timeout_s=10)
    clock, woken = Clock(), []
    deps = PollDeps(store=store, fetcher=fetcher, parser=parser, clock=clock,
                    rng=random.Random(2), interval_bounds=(30.0, MAX_S))
    callback = WebSubCallback(store, clock, lambda: woken.append(1))
    app = web.Application()
    app.add_routes(callback.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    async with FeedServer() as feeds, FakeHub() as hub:
        yield Rig(store, deps, feeds, hub, clock, f"http://{host}:{port}", woken)
    await runner.cleanup()
    await fetcher.close()
    await parser.close()
    await store.close()


async def subscribed(rig: Rig, self_url: str = "") -> str:
    """A feed advertising the hub, polled once (discovery), the hub asked and verified."""
    url = rig.feeds.url("/pushed")
    rig.feeds.serve("/pushed", hub_feed(rig.hub.url, self_url))
    await rig.store.subscribe(GUILD, url, "pushed", 60, rig.clock.now)
    await poll_feed(await rig.feed(), rig.deps)
    assert await rig.subscribe_job() == 1
    await rig.hub.wait_verified()
    return self_url or url


async def test_a_feed_with_a_hub_is_subscribed_and_verified(rig: Rig) -> None:
    topic = await subscribed(rig, self_url="https://news.example/feed.xml")
    [request] = rig.hub.requests
    assert request["hub.topic"] == topic  # rel="self" is the topic
    assert request["hub.callback"].startswith(rig.public_url + "/websub/")
    assert len(request["hub.secret"]) >= 32
    feed = await rig.feed()
    assert feed.pushed_until == pytest.approx(START + rig.hub.lease_s)
    # Asked once: the next runs find nothing due until the renewal.
    assert await rig.subscribe_job() == 0
    assert len(rig.hub.requests) == 1


async def test_a_hub_on_another_port_of_the_feeds_private_host_is_not_asked(
        rig: Rig) -> None:
    """The feed (allowed onto 127.0.0.0/8 by the operator's policy) names a hub on its own IP
    but another port: another service, so the allowance stays behind (issue 20), as it does
    for article links and redirects."""
    url = rig.feeds.url("/pushed")
    rig.feeds.serve("/pushed", hub_feed(rig.hub.url))
    await rig.store.subscribe(GUILD, url, "pushed", 60, rig.clock.now)
    await poll_feed(await rig.feed(), rig.deps)
    assert host_of(rig.hub.url) == host_of(url) and rig.hub.url.split(":")[2] != \
        url.split(":")[2]
    fetcher = Fetcher(FetchLimits(deadline_s=5),
                      AddressGuard((ipaddress.ip_network("127.0.0.0/8"),)),
                      PrivateAccess(rig.store, [GUILD]))
    try:
        assert await fetcher.access.permits(url)  # type: ignore[union-attr]
        assert await request_subscriptions(rig.store, fetcher, rig.public_url, rig.clock) == 0
    finally:
        await fetcher.close()
    assert rig.hub.requests == []


async def test_polling_goes_on_at_the_maximum_as_a_safety_net(rig: Rig) -> None:
    await subscribed(rig)
    await poll_feed(await rig.feed(), rig.deps)
    delay = (await rig.feed()).next_check - START
    assert MAX_S * 0.9 <= delay <= MAX_S * 1.1


@pytest.mark.parametrize("method", ["sha1", "sha256"])
async def test_a_signed_push_makes_the_feed_due_now(rig: Rig, method: str) -> None:
    topic = await subscribed(rig)
    await poll_feed(await rig.feed(), rig.deps)
    rig.clock.now = START + 5
    assert await rig.hub.publish(topic, hub_feed(rig.hub.url), method=method) == [202]
    assert (await rig.feed()).next_check == START + 5
    assert rig.woken == [1]


async def test_a_push_with_a_wrong_signature_is_acknowledged_and_ignored(rig: Rig) -> None:
    topic = await subscribed(rig)
    await poll_feed(await rig.feed(), rig.deps)
    before = (await rig.feed()).next_check
    assert await rig.hub.publish(topic, b"<rss/>", secret="not-the-secret") == [202]
    assert (await rig.feed()).next_check == before
    assert rig.woken == []


async def test_unknown_callbacks_and_unasked_verifications_are_refused(rig: Rig) -> None:
    await subscribed(rig)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{rig.public_url}/websub/nope", data=b"x") as resp:
            assert resp.status == 410
        token = rig.hub.requests[0]["hub.callback"].rsplit("/", 1)[1]
        params = {"hub.mode": "subscribe", "hub.topic": "https://evil.example/other",
                  "hub.challenge": "c"}
        async with session.get(f"{rig.public_url}/websub/{token}", params=params) as resp:
            assert resp.status == 404


async def test_the_lease_is_renewed_before_it_ends(rig: Rig) -> None:
    rig.hub.lease_s = 7200
    await subscribed(rig)
    rig.clock.now = START + 7200 - 3600 - 1  # just before the renewal point
    assert await rig.subscribe_job() == 0
    rig.clock.now = START + 7200 - 3600 + 1
    assert await rig.subscribe_job() == 1
    assert len(rig.hub.requests) == 2
    # The same callback and secret: pushes in flight keep verifying.
    assert rig.hub.requests[0]["hub.callback"] == rig.hub.requests[1]["hub.callback"]


@pytest.mark.parametrize(("header", "valid"), [
    ("sha1=" + "0" * 40, False),
    ("md5=abc", False),
    ("", False),
    (None, False),
])
def test_signature_checks_refuse_what_is_not_ours(header: str | None, valid: bool) -> None:
    assert signature_valid(header, "secret", b"body") is valid
