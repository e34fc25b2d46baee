"""Fetch step: one conditional GET per feed, bounded in time, size, redirects and address.

Every way a hostile or broken server can hurt a poller ends as a ``FetchError`` with a
message fit for the feed's status line:

* a wall-clock deadline covers DNS, connect, every redirect hop and the body, so a drip
  feed (one byte per second) ends at the deadline, which ``sock_read`` alone does not do;
* the body is streamed and its *decoded* bytes are counted, so a gzip bomb stops at the cap;
* redirects are followed by hand: each hop's scheme and literal address are checked and
  its name re-resolved through the guarded resolver (SSRF through redirects); the
  private-network allowance holds only on the first URL's host and port: a hop that leaves
  them goes on without it (a feed's server may not lead us to another private service);
* one shared session keeps connections alive; a semaphore per host bounds concurrency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from bot.core.errors import AddressRefused, FetchError
from bot.core.urls import safe_url
from bot.pipeline.access import PrivateAccess
from bot.pipeline.freshness import parse_max_age, parse_retry_after
from bot.pipeline.netguard import AddressGuard, GuardedResolver

__all__ = ["FetchLimits", "Fetched", "Fetcher", "NotModified", "display_url", "origin_of",
           "parse_max_age", "parse_retry_after"]

log = logging.getLogger(__name__)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Bounds for one fetch; the defaults suit news feeds."""

    deadline_s: float = 30.0
    max_body_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    per_host: int = 2
    user_agent: str = "Wirewatch/0.1 (+https://github.com/wirewatch/wirewatch)"
    accept: str = _ACCEPT
    # Media types (lower case, no parameters) a 2xx answer must have; empty: any.
    content_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 2xx response. ``body`` is already decoded (gzip/deflate removed), so the wire
    headers Content-Encoding/Content-Length no longer describe it; header names are
    lower-case, repeated headers joined with ", "."""

    url: str
    final_url: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    etag: str | None
    last_modified: str | None
    max_age_s: float | None


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server answered 304 to our conditional request."""

    url: str
    max_age_s: float | None


def origin_of(url: str | URL) -> tuple[str, int | None] | None:
    """The host (lower case) and port (explicit, else the scheme's) of ``url``; None if invalid.

    The private-network allowance belongs to one origin: another name for the same address,
    or another port on it, is another service.
    """
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        host = parsed.host
        return None if host is None else (host.lower().rstrip("."), parsed.port)
    except (ValueError, TypeError):
        return None


def display_url(url: str | URL) -> str:
    """The URL without credentials or query string, for messages and logs (see bot.core.urls)."""
    return safe_url(str(url))


def _header_dict(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    """Lower-case names; repeated headers joined with ", " as HTTP allows."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _check_content_type(headers: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    """Refuse a body of another media type before reading it (when ``allowed`` is set)."""
    if not allowed:
        return
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in allowed:
        raise FetchError(f"not HTML: content type {media or '(none)'!r}", kind="content_type")


SLOT_WAIT_DEADLINES = 4  # waiting for a busy host may take this many deadlines


class _HostSlots:
    """A semaphore per host, dropped again when nobody holds or waits for it."""

    def __init__(self, per_host: int) -> None:
        self._per_host = max(1, per_host)
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def hold(self, host: str, wait_s: float) -> AsyncIterator[None]:
        """Hold one of ``host``'s slots; FetchError if none frees up within ``wait_s``."""
        sem, users = self._slots.get(host, (asyncio.Semaphore(self._per_host), 0))
        self._slots[host] = (sem, users + 1)
        try:
            try:
                async with asyncio.timeout(wait_s):
                    await sem.acquire()
            except TimeoutError:
                raise FetchError(f"host busy: no free connection to {host} within "
                                 f"{wait_s:g} s") from None
            try:
                yield
            finally:
                sem.release()
        finally:
            sem, users = self._slots[host]
            if users <= 1:
                del self._slots[host]
            else:
                self._slots[host] = (sem, users - 1)


class Fetcher:
    """Fetches feeds over one shared, keep-alive HTTP session."""

    def __init__(self, limits: FetchLimits, guard: AddressGuard,
                 access: PrivateAccess | None = None, *, slots: _HostSlots | None = None) -> None:
        self._limits = limits
        self._guard = guard
        self._slots = slots or _HostSlots(limits.per_host)
        self._session: aiohttp.ClientSession | None = None
        self.access = access
        # Feeds without the operator's private-network allowance, and every hop that leaves
        # the first URL's host and port, go through their own session (own connection pool
        # and DNS cache) whose guard allows no private network.
        self._strict = (Fetcher(limits, AddressGuard(()), slots=self._slots)
                        if guard.allowed else None)

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily: aiohttp wants a running loop, the constructor may not have one.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._guard), limit=100, ttl_dns_cache=60
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._limits.deadline_s),
                headers={"User-Agent": self._limits.user_agent, "Accept": _ACCEPT},
                cookie_jar=aiohttp.DummyCookieJar(),  # no state shared between feeds
                trust_env=False,  # never route through proxies named in the environment
            )
        return self._session

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._strict is not None:
            await self._strict.close()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None,
        private: bool | None = None, limits: FetchLimits | None = None,
    ) -> Fetched | NotModified:
        """GET ``url`` conditionally; raise FetchError for anything but a usable answer.

        ``private``: whether the allowed private networks may be reached; None lets the
        ``access`` policy decide per URL (asked only when a non-public address is met).
        ``limits`` replaces this fetcher's deadline, size cap, redirect count, Accept and
        content types for one call (article pages); session, User-Agent, address guard and
        per-host slots stay the shared ones.
        """
        strict = self._strict
        if strict is None or private is True or (private is None and self.access is None):
            return await self._fetch(url, etag, last_modified, limits)
        if private is False:
            return await strict._fetch(url, etag, last_modified, limits)
        assert self.access is not None  # noqa: S101 - no policy was handled above
        if self.access.granted(url):
            return await self._fetch(url, etag, last_modified, limits)
        try:
            return await strict._fetch(url, etag, last_modified, limits)
        except AddressRefused:
            if not await self.access.permits(url):
                raise
        return await self._fetch(url, etag, last_modified, limits)

    async def post_form(self, url: str, form: Mapping[str, str], *,
                        private: bool = False) -> tuple[int, str]:
        """POST ``form`` to ``url`` through the same address guard (a WebSub hub); the status
        and the start of the answer. No redirects are followed; ``private`` as for ``fetch``.
        """
        fetcher = self if private or self._strict is None else self._strict
        target = fetcher._validate(url)
        try:
            async with asyncio.timeout(fetcher._limits.deadline_s):
                async with fetcher._get_session().post(target, data=dict(form),
                                                       allow_redirects=False) as resp:
                    return resp.status, (await resp.content.read(2048)).decode("utf-8",
                                                                                "replace")
        except TimeoutError as exc:
            raise FetchError(f"timed out: {display_url(url)} did not answer",
                             kind="timeout", unreachable=True) from exc
        except aiohttp.ClientError as exc:
            raise FetchError(f"{display_url(url)}: {exc}", unreachable=True) from exc

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None,
                     limits: FetchLimits | None = None) -> Fetched | NotModified:
        session = self._get_session()
        limits = limits or self._limits
        # The deadline starts once a per-host slot is held: waiting behind other feeds of a
        # slow host is not this feed's failure (that wait has its own, longer bound).
        try:
            async with asyncio.timeout(None) as deadline:
                return await self._follow(session, url, etag, last_modified, deadline, limits)
        except TimeoutError as exc:
            raise FetchError(
                f"timed out: {display_url(url)} did not answer completely within "
                f"the {limits.deadline_s:g} s deadline", kind="timeout", unreachable=True
            ) from exc

    def _validate(self, url: str | URL) -> URL:
        try:
            target = url if isinstance(url, URL) else URL(url)
        except (ValueError, TypeError) as exc:
            raise FetchError(f"invalid URL {display_url(url)}: {exc}") from exc
        if target.scheme not in ("http", "https"):
            scheme = target.scheme or "(none)"
            raise FetchError(f"refused: scheme {scheme!r} is not allowed (only http and https)")
        if not target.host:
            raise FetchError(f"invalid URL {display_url(target)}: no host")
        self._guard.check_literal_host(target.host)
        return target.with_fragment(None)

    async def _follow(
        self, session: aiohttp.ClientSession, url: str, etag: str | None,
        last_modified: str | None, deadline: asyncio.Timeout, limits: FetchLimits,
    ) -> Fetched | NotModified:
        current: str | URL = url
        seen: set[str] = set()
        hop_fetcher, origin = self, origin_of(url)
        for _hop in range(limits.max_redirects + 1):
            if hop_fetcher._strict is not None and origin_of(current) != origin:
                # Left the first URL's host or port: the allowance stays behind, for this hop
                # and every later one (even one that comes back).
                hop_fetcher = hop_fetcher._strict
                session = hop_fetcher._get_session()
            target = hop_fetcher._validate(current)
            seen.add(str(target))
            result = await hop_fetcher._request(session, url, target, etag, last_modified,
                                                deadline, limits)
            if not isinstance(result, URL):
                return result
            if str(result.with_fragment(None)) in seen:
                raise FetchError(f"redirect loop: {display_url(target)} leads back to "
                                 f"{display_url(result)}")
            current = result
        raise FetchError(f"too many redirects (more than {limits.max_redirects})")

    async def _request(
        self,
        session: aiohttp.ClientSession,
        original: str,
        target: URL,
        etag: str | None,
        last_modified: str | None,
        deadline: asyncio.Timeout,
        limits: FetchLimits,
    ) -> Fetched | NotModified | URL:
        headers: dict[str, str] = {}
        if limits.accept != _ACCEPT:
            headers["Accept"] = limits.accept
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        where = f"{target.host}:{target.port}"
        slot_wait_s = limits.deadline_s * SLOT_WAIT_DEADLINES
        async with self._slots.hold(target.host or "", slot_wait_s):
            if deadline.when() is None:
                deadline.reschedule(asyncio.get_running_loop().time() + limits.deadline_s)
            try:
                async with session.get(target, headers=headers, allow_redirects=False) as resp:
                    return await self._handle(resp, original, target, limits)
            except aiohttp.ClientConnectorDNSError as exc:
                raise FetchError(f"DNS lookup failed for {target.host}: {exc.os_error}",
                                 unreachable=True) from exc
            except aiohttp.ClientSSLError as exc:
                raise FetchError(f"TLS error with {where}: {exc}") from exc
            except aiohttp.ClientConnectorError as exc:
                raise FetchError(f"could not connect to {where}: {exc.os_error}",
                                 unreachable=True) from exc
            except aiohttp.ServerTimeoutError as exc:
                raise FetchError(f"timed out talking to {where}: {exc}", unreachable=True) from exc
            except aiohttp.ClientPayloadError as exc:
                raise FetchError(f"body from {where} was cut off or badly encoded: {exc}") from exc
            except aiohttp.ClientResponseError as exc:
                raise FetchError(f"invalid HTTP response from {where}: {exc.message}") from exc
            except aiohttp.ClientError as exc:
                raise FetchError(f"HTTP error with {where}: {type(exc).__name__}: {exc}") from exc
            except OSError as exc:
                raise FetchError(f"network error with {where}: {exc}", unreachable=True) from exc

    async def _handle(
        self, resp: aiohttp.ClientResponse, original: str, target: URL, limits: FetchLimits
    ) -> Fetched | NotModified | URL:
        headers = _header_dict(resp.headers)
        status = resp.status
        if status in _REDIRECT_STATUSES:
            location = headers.get("location", "").strip()
            if not location:
                raise FetchError(f"HTTP {status} redirect from {display_url(target)} has no "
                                 "Location header")
            try:
                return target.join(URL(location))
            except (ValueError, TypeError) as exc:
                raise FetchError(f"HTTP {status} redirect to an invalid URL: {exc}") from exc
        if status == 304:
            return NotModified(url=original, max_age_s=parse_max_age(headers))
        if not 200 <= status < 300:
            reason = f" {resp.reason}" if resp.reason else ""
            raise FetchError(f"HTTP {status}{reason} from {display_url(target)}",
                             retry_after=parse_retry_after(headers), status=status)
        _check_content_type(headers, limits.content_types)
        body = await self._read_capped(resp, headers, limits.max_body_bytes)
        return Fetched(
            url=original,
            final_url=str(target),
            status=status,
            body=body,
            headers=headers,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            max_age_s=parse_max_age(headers),
        )

    async def _read_capped(self, resp: aiohttp.ClientResponse, headers: Mapping[str, str],
                           cap: int) -> bytes:
        declared = resp.content_length
        identity = headers.get("content-encoding", "identity").strip().lower() in ("", "identity")
        # Without compression the declared length is the decoded length: refuse without reading.
        if identity and declared is not None and declared > cap:
            raise FetchError(f"body too large: {declared} bytes announced, the limit is {cap}",
                             kind="too_large")
        chunks: list[bytes] = []
        total = 0
        # resp.content yields *decoded* bytes, so this counter also stops decompression bombs.
        async for chunk in resp.content.iter_chunked(_CHUNK):
            total += len(chunk)
            if total > cap:
                raise FetchError(f"body too large: more than {cap} bytes after decoding",
                                 kind="too_large")
            chunks.append(chunk)
        return b"".join(chunks)
