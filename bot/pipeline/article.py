"""Article pages for full-text matching (issue 13): fetch one page, extract its main text.

The page URL comes from a feed, so it is as untrusted as the feed: it goes through the same
``Fetcher`` (connect-time SSRF guard on every hop, at most 5 redirects, http(s) only, the same
User-Agent, no cookies, the same per-host slots as polls), with tighter limits of its own
(``ARTICLE_LIMITS``: 3 MiB decoded, HTML only). The main text is extracted in the killable
worker pool (``IsolatedParser.extract``), never on the event loop.

Every way this can go wrong ends as an ``Article`` with a reason (``ArticleReason``), never
an exception: the caller then matches on the feed's own text, as before. One deadline covers
waiting for a slot, the fetch and the extraction, so an alert is held at most that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.core.errors import FeedError, FetchError
from bot.pipeline.fetch import Fetcher, FetchLimits, NotModified
from bot.pipeline.isolation import IsolatedParser

log = logging.getLogger(__name__)

MIB = 1024 * 1024
HTML_TYPES = ("text/html", "application/xhtml+xml")
ARTICLE_LIMITS = FetchLimits(
    deadline_s=10.0, max_body_bytes=3 * MIB, max_redirects=5,
    accept="text/html, application/xhtml+xml;q=0.9, */*;q=0.1", content_types=HTML_TYPES)
# Text of a useful article: a cookie wall or an error page that slips through extracts less.
MIN_TEXT = 200


class ArticleReason(StrEnum):
    """How one article fetch ended (a metrics label, and what /feed list counts)."""

    OK = "ok"
    PAYWALL = "paywall"  # 401, 402, 403
    NOT_FOUND = "not_found"  # 404, 410
    TIMEOUT = "timeout"
    NOT_HTML = "not_html"
    EMPTY = "empty"  # fetched, but no main text worth matching
    ERROR = "error"  # anything else: refused address, too large, 5xx, redirects, crash


@dataclass(frozen=True, slots=True)
class Article:
    """The outcome of one article fetch: ``text`` is set only when ``reason`` is OK."""

    reason: ArticleReason
    text: str = ""
    detail: str = ""


def describe_stats(counts: Mapping[str, int]) -> str:
    """``"articles: 92 % ok; 3 paywall, 1 timeout"`` for /feed list; "" before any fetch.

    Reasons other than ok are listed most frequent first, with their metric names.
    """
    total = sum(max(0, n) for n in counts.values())
    if total == 0:
        return ""
    ok = max(0, counts.get(ArticleReason.OK.value, 0))
    rest = sorted(((n, reason) for reason, n in counts.items()
                   if reason != ArticleReason.OK.value and n > 0), key=lambda p: (-p[0], p[1]))
    text = f"articles: {round(100 * ok / total)} % ok"
    if rest:
        text += "; " + ", ".join(f"{n} {reason.replace('_', ' ')}" for n, reason in rest)
    return text


def classify(exc: FeedError) -> ArticleReason:
    """The reason for a failed fetch or extraction."""
    if isinstance(exc, FetchError):
        if exc.kind == "timeout":
            return ArticleReason.TIMEOUT
        if exc.kind == "content_type":
            return ArticleReason.NOT_HTML
        if exc.status in (401, 402, 403):
            return ArticleReason.PAYWALL
        if exc.status in (404, 410):
            return ArticleReason.NOT_FOUND
    return ArticleReason.ERROR


class ArticleFetcher:
    """Fetches and extracts article pages; at most ``concurrency`` at a time in this process."""

    def __init__(self, fetcher: Fetcher, extractor: IsolatedParser, *,
                 limits: FetchLimits = ARTICLE_LIMITS, concurrency: int = 8,
                 extract_timeout_s: float = 5.0) -> None:
        self._fetcher = fetcher
        self._extractor = extractor
        self.limits = limits
        self._extract_timeout_s = extract_timeout_s
        self._gate = asyncio.Semaphore(max(1, concurrency))

    @property
    def deadline_s(self) -> float:
        """The most one ``get`` can take, waiting included: the fetch deadline."""
        return self.limits.deadline_s

    async def get(self, url: str, share: asyncio.Semaphore | None = None,
                  private: bool | None = None) -> Article:
        """Fetch ``url`` and extract its main text; the outcome as data, never an exception.

        ``share`` bounds one caller's (one feed's) fetches, so a feed full of slow pages
        cannot take every slot of this process; waiting for it counts towards the deadline.
        ``private``: may the page reach the allowed private networks (its feed's allowance).
        """
        try:
            async with asyncio.timeout(self.deadline_s):
                async with share or contextlib.nullcontext(), self._gate:
                    return await self._get(url, private)
        except TimeoutError:
            return Article(ArticleReason.TIMEOUT,
                           detail=f"no text within the {self.deadline_s:g} s deadline")
        except FeedError as exc:
            return Article(classify(exc), detail=str(exc)[:300])

    async def _get(self, url: str, private: bool | None) -> Article:
        response = await self._fetcher.fetch(url, limits=self.limits, private=private)
        if isinstance(response, NotModified):  # we sent no validators; a broken server
            return Article(ArticleReason.ERROR, detail="304 to an unconditional request")
        if not response.body.strip():
            return Article(ArticleReason.EMPTY, detail="empty page")
        text = await self._extractor.extract(response.body, response.headers,
                                             response.final_url,
                                             timeout_s=self._extract_timeout_s)
        if len(text) < MIN_TEXT:
            return Article(ArticleReason.EMPTY, detail=f"{len(text)} characters of main text")
        return Article(ArticleReason.OK, text=text)
