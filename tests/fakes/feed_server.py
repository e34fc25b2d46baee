"""A real local feed server (aiohttp on 127.0.0.1) with well-behaved and hostile endpoints.

Usage::

    async with FeedServer() as server:
        server.serve("/feed.xml", body, etag='"v1"')
        fetched = await fetcher.fetch(server.url("/feed.xml"))
        assert server.hits("/feed.xml") == 1

Well-behaved routes honour ``If-None-Match`` / ``If-Modified-Since`` with 304. Hostile
routes reproduce what real servers and attackers do: drip feeds, decompression bombs,
endless bodies, redirect loops, redirects to other addresses, rate limiting.
``ConnectionCounter`` is a bare TCP listener that only counts connections, to prove
that a refused fetch never connected.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from types import TracebackType

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MIB = 1024 * 1024


def entity_bomb(refs: int = 2_000, width: int = 20_000) -> bytes:
    """An RSS body whose DOCTYPE declares one big entity referenced many times.

    Expanded it is ``refs * width`` characters (40 MB by default) from a ~25 KB body.
    """
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + b"a" * width + b'">\n]>\n'
        b"<rss version=\"2.0\"><channel><title>" + b"&a;" * refs + b"</title>"
        b"<item><title>x</title><link>https://x.example/1</link></item></channel></rss>"
    )


def author_redos(repeats: int = 16_000) -> bytes:
    """An RSS item whose author triggers feedparser's e-mail regex backtracking (issue #562)."""
    author = b"a@" + b"a." * repeats + b"!"
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>x</title><link>https://x.example/1</link><author>" + author
        + b"</author></item></channel></rss>"
    )


def rss(items: int = 50, *, title: str = "Feed", words: int = 120) -> bytes:
    """A plain RSS 2.0 feed of ``items`` news-like items (about 1.2 KB each by default)."""
    text = " ".join(f"word{i % 37}" for i in range(words))
    parts = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
             f"<title>{title}</title><link>https://news.example/</link>"]
    for i in range(items):
        parts.append(
            f"<item><title>Headline {i} about tariffs</title>"
            f"<link>https://news.example/story/{i}?utm_source=rss</link>"
            f'<guid isPermaLink="false">story-{i}</guid>'
            f"<pubDate>Mon, 0{1 + i % 9} Jan 2024 10:00:00 GMT</pubDate>"
            f"<author>desk@news.example (News Desk)</author><category>world</category>"
            f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode()


class FeedServer:
    """An aiohttp server on 127.0.0.1 with registrable routes and a request counter."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._hits: Counter[str] = Counter()
        self.request_headers: list[tuple[str, Mapping[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> FeedServer:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> int:
        """How many requests reached ``path``."""
        return self._hits[path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self._hits[request.path] += 1
        self.request_headers.append((request.path, dict(request.headers)))
        handler = self._routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    def route(self, path: str, handler: Handler) -> None:
        """Register any handler at ``path``."""
        self._routes[path] = handler

    # --- well-behaved -------------------------------------------------------------------

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml; charset=utf-8",
        etag: str | None = None,
        last_modified: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serve ``body`` at ``path``, answering matching conditional requests with 304."""

        async def handler(request: web.Request) -> web.StreamResponse:
            extra = dict(headers or {})
            if etag is not None:
                extra["ETag"] = etag
            if last_modified is not None:
                extra["Last-Modified"] = last_modified
            if _not_modified(request, etag, last_modified):
                return web.Response(status=304, headers=extra)
            extra["Content-Type"] = content_type
            return web.Response(status=status, body=body, headers=extra)

        self.route(path, handler)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``location`` (relative or absolute)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self.route(path, handler)

    def status(self, path: str, status: int, headers: Mapping[str, str] | None = None) -> None:
        """Answer ``path`` with a bare status, e.g. 429 with a Retry-After header."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, text=f"status {status}", headers=dict(headers or {}))

        self.route(path, handler)

    # --- hostile ------------------------------------------------------------------------

    def drip(self, path: str, *, interval: float = 1.0, total: int = 3600,
             content_type: str = "application/rss+xml") -> None:
        """Send a valid-looking feed one byte per ``interval`` seconds, ``total`` bytes long."""

        async def handler(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": content_type})
            resp.content_length = total
            await resp.prepare(request)
            try:
                for _ in range(total):
                    await resp.write(b"<")
                    await asyncio.sleep(interval)
            except ConnectionError:
                pass  # the client gave up, as it should
            return resp

        self.route(path, handler)

    def gzip_bomb(self, path: str, *, inflated: int = 512 * MIB,
                  content_type: str = "application/rss+xml") -> None:
        """Send ``inflated`` zero bytes gzip-compressed (about 1/1000 the size on the wire).

        The compressed stream is produced as it is sent, so the server never holds it.
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(
                headers={"Content-Type": content_type, "Content-Encoding": "gzip"})
            await resp.prepare(request)
            packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
            zeros = bytes(MIB)
            try:
                for _ in range(inflated // MIB):
                    # A sync flush per MiB puts each MiB on the wire at once (~1 KB each).
                    await resp.write(packer.compress(zeros) + packer.flush(zlib.Z_SYNC_FLUSH))
                    await asyncio.sleep(0)  # let the client read (and hang up) as we go
                await resp.write(packer.flush())
            except ConnectionError:
                pass
            return resp

        self.route(path, handler)

    def endless(self, path: str, *, size: int = 200 * MIB, announce: bool = True,
                content_type: str = "application/rss+xml") -> None:
        """Send ``size`` bytes, with or without a Content-Length header announcing them."""

        async def handler(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": content_type})
            if announce:
                resp.content_length = size
            await resp.prepare(request)
            block = b"x" * (64 * 1024)
            try:
                for _ in range(size // len(block)):
                    await resp.write(block)
            except ConnectionError:
                pass
            return resp

        self.route(path, handler)


def _not_modified(request: web.Request, etag: str | None, last_modified: str | None) -> bool:
    """RFC 9110 precedence: If-None-Match decides when present, else If-Modified-Since."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {tag.strip() for tag in inm.split(",")}
        return etag is not None and ("*" in tags or etag in tags)
    ims = request.headers.get("If-Modified-Since")
    if ims is None or last_modified is None:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False


class ConnectionCounter:
    """A TCP listener on 127.0.0.1 that counts accepted connections and answers nothing."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ConnectionCounter:
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()
