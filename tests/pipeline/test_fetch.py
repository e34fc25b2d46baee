"""The fetch step against a real local server, including hostile endpoints.

The guard allows 127.0.0.0/8 here except in the SSRF tests, which use the default guard and
prove with a bare listener that no TCP connection was made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from bot.core.errors import FetchError, ParseError
from bot.pipeline.fetch import Fetched, Fetcher, FetchLimits, NotModified, parse_max_age
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard, parse_networks
from bot.pipeline.parse import parse_feed
from tests.fakes.feed_server import (
    ConnectionCounter,
    FeedServer,
    author_redos,
    entity_bomb,
    rss,
)

LOOPBACK = AddressGuard(parse_networks("127.0.0.0/8"))
FEED = rss(5)
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    client = Fetcher(FetchLimits(deadline_s=2.0), LOOPBACK)
    yield client
    await client.close()


async def test_fetch_returns_body_and_validators(server: FeedServer, fetcher: Fetcher) -> None:
    server.serve("/feed", FEED, etag='"v1"', last_modified=LAST_MODIFIED,
                 headers={"Cache-Control": "public, max-age=600"})
    result = await fetcher.fetch(server.url("/feed"))
    assert isinstance(result, Fetched)
    assert (result.status, result.body, result.etag) == (200, FEED, '"v1"')
    assert result.last_modified == LAST_MODIFIED
    assert result.max_age_s == 600.0
    assert result.headers["content-type"].startswith("application/rss+xml")
    assert result.url == result.final_url == server.url("/feed")
    sent = server.request_headers[-1][1]
    assert sent["User-Agent"].startswith("Wirewatch/")


@pytest.mark.parametrize(
    ("etag", "last_modified", "expect"),
    [
        ('"v1"', None, NotModified),
        (None, LAST_MODIFIED, NotModified),
        ('"v0"', None, Fetched),  # stale validator: the new body comes back
        (None, "Tue, 20 Oct 2015 07:28:00 GMT", Fetched),
    ],
)
async def test_conditional_get(server: FeedServer, fetcher: Fetcher, etag: str | None,
                               last_modified: str | None, expect: type) -> None:
    server.serve("/feed", FEED, etag='"v1"', last_modified=LAST_MODIFIED,
                 headers={"Cache-Control": "max-age=60"})
    result = await fetcher.fetch(server.url("/feed"), etag=etag, last_modified=last_modified)
    assert isinstance(result, expect)
    if isinstance(result, NotModified):
        assert result.url == server.url("/feed")
        assert result.max_age_s == 60.0


async def test_etag_round_trip(server: FeedServer, fetcher: Fetcher) -> None:
    server.serve("/feed", FEED, etag='"abc"', last_modified=LAST_MODIFIED)
    first = await fetcher.fetch(server.url("/feed"))
    assert isinstance(first, Fetched)
    second = await fetcher.fetch(server.url("/feed"), etag=first.etag,
                                 last_modified=first.last_modified)
    assert isinstance(second, NotModified)
    assert server.hits("/feed") == 2
    assert server.request_headers[-1][1]["If-None-Match"] == '"abc"'


async def test_redirects_are_followed_and_reported(server: FeedServer, fetcher: Fetcher) -> None:
    server.serve("/new", FEED)
    server.redirect("/old", "/middle", status=301)
    server.redirect("/middle", server.url("/new"), status=308)
    result = await fetcher.fetch(server.url("/old"))
    assert isinstance(result, Fetched)
    assert result.url == server.url("/old") and result.final_url == server.url("/new")


@pytest.mark.parametrize(("target", "reached"), [
    ("{own}/page", True),  # the same host and port keep the allowance
    ("http://localhost:{port}/page", False),  # another name of the same address: another host
    ("http://127.0.0.1:{other}/page", False),  # another port on the same IP: another service
])
async def test_a_redirect_that_leaves_the_host_and_port_loses_the_allowance(
        server: FeedServer, target: str, reached: bool) -> None:
    async with FeedServer() as other:
        for running in (server, other):
            running.serve("/page", FEED)
        url = target.format(own=server.base_url, port=server.port, other=other.port)
        server.redirect("/start", url)
        allowed = Fetcher(FetchLimits(deadline_s=2.0), LOOPBACK)
        try:
            if reached:
                assert isinstance(await allowed.fetch(server.url("/start")), Fetched)
            else:
                with pytest.raises(FetchError, match="not a public address"):
                    await allowed.fetch(server.url("/start"))
        finally:
            await allowed.close()
        assert server.hits("/page") + other.hits("/page") == (1 if reached else 0)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("loop", "redirect loop"),
        ("chain", r"too many redirects \(more than 5\)"),
        ("no_location", "has no Location header"),
        ("to_file", "refused: scheme 'file' is not allowed"),
        ("to_other_loopback", r"refused: 127\.0\.0\.2 is not a public address \(loopback\)"),
    ],
)
async def test_bad_redirects(server: FeedServer, setup: str, message: str) -> None:
    only_127_0_0_1 = Fetcher(FetchLimits(deadline_s=2.0), AddressGuard(
        parse_networks("127.0.0.1/32")))
    if setup == "loop":
        server.redirect("/start", "/a")
        server.redirect("/a", "/b")
        server.redirect("/b", "/a")
    elif setup == "chain":
        for i in range(10):
            server.redirect("/start" if i == 0 else f"/r{i}", f"/r{i + 1}")
    elif setup == "no_location":
        server.status("/start", 302)
    elif setup == "to_file":
        server.redirect("/start", "file:///etc/passwd")
    else:
        server.redirect("/start", f"http://127.0.0.2:{server.port}/feed")
        server.serve("/feed", FEED)
    try:
        with pytest.raises(FetchError, match=message):
            await only_127_0_0_1.fetch(server.url("/start"))
    finally:
        await only_127_0_0_1.close()
    assert server.hits("/feed") == 0


async def test_gzip_bomb_stops_at_the_cap_fast(server: FeedServer, fetcher: Fetcher) -> None:
    server.gzip_bomb("/bomb", inflated=512 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(FetchError, match=r"body too large: more than 5242880 bytes after decoding"):
        await fetcher.fetch(server.url("/bomb"))
    assert time.perf_counter() - started < 1.5  # measured ~0.03 s; inflating all takes >1 s


@pytest.mark.parametrize(("announce", "message"), [
    (True, "body too large: 209715200 bytes announced, the limit is 5242880"),
    (False, "body too large: more than 5242880 bytes after decoding"),
])
async def test_huge_body_is_capped(server: FeedServer, fetcher: Fetcher, announce: bool,
                                   message: str) -> None:
    server.endless("/huge", size=200 * 1024 * 1024, announce=announce)
    with pytest.raises(FetchError, match=message):
        await fetcher.fetch(server.url("/huge"))


async def test_drip_feed_ends_at_the_deadline(server: FeedServer) -> None:
    server.drip("/drip", interval=1.0)
    client = Fetcher(FetchLimits(deadline_s=0.5), LOOPBACK)
    started = time.perf_counter()
    try:
        with pytest.raises(FetchError, match=r"timed out: .* within the 0\.5 s deadline"):
            await client.fetch(server.url("/drip"))
    finally:
        await client.close()
    assert 0.4 < time.perf_counter() - started < 2.0


def _http_date(delta_s: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=delta_s), usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers", "low", "high"),
    [
        (429, {"Retry-After": "120"}, 120, 120),
        (503, {"Retry-After": "7"}, 7, 7),
        (429, {"Retry-After": "@later"}, None, None),
        (404, {}, None, None),
        (500, {}, None, None),
    ],
)
async def test_http_errors_carry_retry_after(
    server: FeedServer, fetcher: Fetcher, status: int, headers: dict[str, str],
    low: float | None, high: float | None,
) -> None:
    server.status("/x", status, headers)
    with pytest.raises(FetchError, match=rf"^HTTP {status} ") as info:
        await fetcher.fetch(server.url("/x"))
    if low is None:
        assert info.value.retry_after is None
    else:
        assert info.value.retry_after is not None and low <= info.value.retry_after <= (high or 0)


async def test_retry_after_http_date(server: FeedServer, fetcher: Fetcher) -> None:
    server.status("/x", 503, {"Retry-After": _http_date(300)})
    with pytest.raises(FetchError, match="HTTP 503") as info:
        await fetcher.fetch(server.url("/x"))
    assert info.value.retry_after is not None and 290 <= info.value.retry_after <= 300


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"cache-control": "max-age=300"}, 300.0),
        ({"cache-control": "private, max-age=\"90\""}, 90.0),
        ({"cache-control": "no-cache"}, 0.0),
        ({"expires": "0"}, 0.0),
        ({"expires": "Thu, 01 Jan 2015 00:10:00 GMT", "date": "Thu, 01 Jan 2015 00:00:00 GMT"},
         600.0),
        ({"cache-control": "max-age=5", "expires": "Thu, 01 Jan 2099 00:00:00 GMT"}, 5.0),
    ],
)
def test_parse_max_age(headers: dict[str, str], expected: float | None) -> None:
    assert parse_max_age(headers) == expected


SSRF_URLS = [
    "http://0x7f000001:{port}/",
    "http://2130706433:{port}/",
    "http://127.1:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://localhost:{port}/",
    "http://127.0.0.1:{port}/",
    # The guard refuses these before any packet is sent (never send traffic off loopback).
    "http://10.0.0.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/",
]


@pytest.mark.parametrize("template", SSRF_URLS)
async def test_ssrf_is_refused_before_any_connection(template: str) -> None:
    client = Fetcher(FetchLimits(deadline_s=2.0), AddressGuard())
    try:
        async with ConnectionCounter() as listener:
            with pytest.raises(FetchError, match=r"^refused: .* is not a public address"):
                await client.fetch(template.format(port=listener.port))
            assert listener.connections == 0
    finally:
        await client.close()


@pytest.mark.parametrize(("url", "scheme"), [
    ("file:///etc/passwd", "file"), ("ftp://x/", "ftp"), ("gopher://x/", "gopher"),
    ("javascript:alert(1)", "javascript"),
])
async def test_only_http_and_https(url: str, scheme: str) -> None:
    client = Fetcher(FetchLimits(), AddressGuard())
    try:
        with pytest.raises(FetchError, match=f"refused: scheme '{scheme}' is not allowed"):
            await client.fetch(url)
    finally:
        await client.close()


async def test_connection_refused_is_a_fetch_error(fetcher: Fetcher) -> None:
    async with ConnectionCounter() as listener:
        port = listener.port
    with pytest.raises(FetchError, match=f"could not connect to 127.0.0.1:{port}"):
        await fetcher.fetch(f"http://127.0.0.1:{port}/")


async def test_credentials_stay_out_of_messages(server: FeedServer, fetcher: Fetcher) -> None:
    url = server.url("/missing").replace("http://", "http://alice:s3cret@")
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url)
    assert "s3cret" not in str(info.value) and "HTTP 404" in str(info.value)


async def test_per_host_concurrency_and_keep_alive(server: FeedServer) -> None:
    in_flight, peak, peers = 0, 0, set()

    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return web.Response(body=FEED)

    server.route("/slow", slow)
    client = Fetcher(FetchLimits(deadline_s=5.0, per_host=2), LOOPBACK)
    try:
        results = await asyncio.gather(*(client.fetch(server.url("/slow")) for _ in range(8)))
    finally:
        await client.close()
    assert all(isinstance(r, Fetched) for r in results)
    assert peak == 2
    assert len(peers) <= 2  # eight requests over at most two kept-alive connections


# --- fetch + parse: each hostile body ends as the right error --------------------------------

HOSTILE_BODIES = [
    ("entity", entity_bomb(), "text/xml", "refused: the document declares XML entities"),
    ("html", b"<!DOCTYPE html><html><body>Just a moment...</body></html>", "text/html",
     "not a feed: the server sent an HTML page"),
    ("empty", b"", "application/rss+xml", r"empty body \(0 bytes\)"),
    ("sitemap", b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
     b'sitemap/0.9"><url><loc>https://x/</loc></url></urlset>', "application/xml",
     "not a feed: the document is a sitemap"),
]


@pytest.mark.parametrize(("name", "body", "content_type", "message"), HOSTILE_BODIES)
async def test_fetched_hostile_bodies_end_as_parse_errors(
    server: FeedServer, fetcher: Fetcher, name: str, body: bytes, content_type: str, message: str,
) -> None:
    server.serve(f"/{name}", body, content_type=content_type)
    fetched = await fetcher.fetch(server.url(f"/{name}"))
    assert isinstance(fetched, Fetched)
    started = time.perf_counter()
    with pytest.raises(ParseError, match=message):
        parse_feed(fetched.body, fetched.headers, fetched.final_url)
    assert time.perf_counter() - started < 1.0


async def test_fetched_author_redos_is_neutralised(server: FeedServer, fetcher: Fetcher) -> None:
    server.serve("/redos", author_redos(16_000))
    fetched = await fetcher.fetch(server.url("/redos"))
    assert isinstance(fetched, Fetched)
    parser = IsolatedParser(timeout_s=5.0, workers=1)
    started = time.perf_counter()
    try:
        feed = await parser.parse(fetched.body, fetched.headers, fetched.final_url)
    finally:
        await parser.close()
    # Unpatched feedparser needs 3.5-7.8 s of CPU here; with the guard it is milliseconds
    # (plus ~0.3 s to start the worker process).
    assert time.perf_counter() - started < 2.0
    assert [e.key for e in feed.entries] == ["//x.example/1"]


async def test_waiting_for_a_busy_host_does_not_count_against_the_deadline(
        server: FeedServer) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.7)
        return web.Response(body=rss(1), content_type="application/rss+xml")

    server.route("/slow", slow)
    server.route("/also-slow", slow)
    limits = FetchLimits(deadline_s=1.0, per_host=1)
    fetcher = Fetcher(limits, AddressGuard(parse_networks("127.0.0.0/8")))
    try:
        # The second fetch waits ~0.7 s for the host's only slot, then needs 0.7 s itself:
        # 1.4 s in all, yet within its own 1 s deadline.
        first, second = await asyncio.gather(fetcher.fetch(server.url("/slow")),
                                             fetcher.fetch(server.url("/also-slow")))
        assert isinstance(first, Fetched) and isinstance(second, Fetched)
    finally:
        await fetcher.close()


async def test_a_host_busy_for_too_long_is_its_own_error(server: FeedServer) -> None:
    server.drip("/drip", interval=0.2, total=1000)
    server.serve("/ok", rss(1))
    limits = FetchLimits(deadline_s=0.3, per_host=1)
    fetcher = Fetcher(limits, AddressGuard(parse_networks("127.0.0.0/8")))
    try:
        results = await asyncio.gather(fetcher.fetch(server.url("/drip")),
                                       fetcher.fetch(server.url("/drip")),
                                       fetcher.fetch(server.url("/drip")),
                                       fetcher.fetch(server.url("/drip")),
                                       fetcher.fetch(server.url("/drip")),
                                       return_exceptions=True)
        messages = [str(r) for r in results]
        assert all(isinstance(r, FetchError) for r in results), messages
        assert any("host busy" in m for m in messages), messages
    finally:
        await fetcher.close()
