"""Saved real news feeds (``../shared/corpus/real-news``) through every layer of the bot.

In-process parse and render, the isolated parser (same result as in-process), and a whole
poll against a local feed server: the first poll records every item silently, the same
body again is nothing new, and a rewritten body with the same items is nothing new either.
Files whose SOURCES.txt note starts with NEGATIVE (an empty body, a sitemap) must fail as a
ParseError everywhere. Without ``../shared`` (a fresh clone) these tests skip.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.errors import ParseError
from bot.core.model import ParsedFeed
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.match import compile_query, document_from_entry
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.parse import parse_feed
from bot.pipeline.poll import Outcome, PollDeps, poll_feed
from bot.pipeline.prescan import prescan_keys
from bot.store import open_store
from bot.store.rows import FeedRow, NewWatch
from tests.fakes.corpus import real_news_dir, real_news_notes, render_problems
from tests.fakes.feed_server import FeedServer

HEADERS = {"content-type": "application/xml"}  # no charset: the documents declare their own
FEED_URL = "https://news.example/feed"
GUILD = 7
MAX_FILE_S = 5.0  # CNN's 247 KB feed takes ~0.1 s here
EVERYTHING = "the OR a OR de OR der OR die OR e"


@dataclass(frozen=True)
class Sample:
    name: str
    body: bytes
    negative: bool  # not a feed on purpose (SOURCES.txt says NEGATIVE)


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    news = real_news_dir()
    if news is None:
        pytest.skip("../shared/corpus/real-news is absent (a fresh clone has no ../shared)")
    notes = real_news_notes(news)
    found = [Sample(path.name, path.read_bytes(), notes.get(path.name, "").startswith("NEGATIVE"))
             for path in sorted(news.iterdir()) if path.name != "SOURCES.txt"]
    assert len(found) >= 20 and any(s.negative for s in found), "corpus looks incomplete"
    return found


def expected(sample: Sample) -> ParsedFeed | str:
    """The in-process result: the parsed feed, or the ParseError message."""
    try:
        return parse_feed(sample.body, HEADERS, FEED_URL)
    except ParseError as exc:
        return str(exc)


def test_parses_in_process_and_every_entry_renders_within_discord_limits(
        samples: list[Sample]) -> None:
    failures: list[str] = []
    for sample in samples:
        started = time.perf_counter()
        result = expected(sample)
        if sample.negative != isinstance(result, str):
            failures.append(f"{sample.name}: negative={sample.negative}, got {result!r:.200}")
            continue
        if isinstance(result, str):
            continue
        if not result.entries:
            failures.append(f"{sample.name}: no entries")
        if len({e.key for e in result.entries}) != len(result.entries):
            failures.append(f"{sample.name}: duplicate item keys")
        for entry in result.entries:
            failures += [f"{sample.name}: {p}" for p in render_problems(entry, result.title)]
        if time.perf_counter() - started > MAX_FILE_S:
            failures.append(f"{sample.name}: took more than {MAX_FILE_S} s")
    assert not failures, "\n".join(failures)


async def test_isolated_parser_gives_the_in_process_result(samples: list[Sample]) -> None:
    parser = IsolatedParser(workers=2, timeout_s=20)

    async def isolated(sample: Sample) -> ParsedFeed | str:
        try:
            return await parser.parse(sample.body, HEADERS, FEED_URL)
        except ParseError as exc:
            return str(exc)

    try:
        results = await asyncio.gather(*(isolated(sample) for sample in samples))
    finally:
        await parser.close()
    for sample, result in zip(samples, results, strict=True):
        assert result == expected(sample), sample.name


@pytest.fixture
async def deps(tmp_path: Path) -> AsyncIterator[PollDeps]:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    guard = AddressGuard((ipaddress.ip_network("127.0.0.1/32"),))
    deps = PollDeps(store=store, fetcher=Fetcher(FetchLimits(deadline_s=10), guard),
                    parser=IsolatedParser(workers=2, timeout_s=20), clock=lambda: 1.8e9,
                    rng=random.Random(1))
    # Matches nearly every English, German or Portuguese item: a first poll that were not
    # silent, or an unstable item key, would queue alerts.
    await store.add_watch(NewWatch(guild_id=GUILD, name="everything", channel_id=5,
                                   query=EVERYTHING), 0)
    yield deps
    await deps.fetcher.close()
    await deps.parser.close()
    await store.close()


async def _feed(deps: PollDeps, url: str) -> FeedRow:
    [sub] = [s for s in await deps.store.subscriptions(GUILD) if s.feed.url == url]
    return sub.feed


async def test_whole_poll_first_silent_then_nothing_new(
        samples: list[Sample], deps: PollDeps) -> None:
    async with FeedServer() as server:
        for sample in samples:
            path = f"/{sample.name}"
            server.serve(path, sample.body, content_type=HEADERS["content-type"])
            await deps.store.subscribe(GUILD, server.url(path), sample.name, 60, 0)
            want = expected(sample)
            first = await poll_feed(await _feed(deps, server.url(path)), deps)
            if isinstance(want, str):
                assert first.outcome == Outcome.FAILED and first.error == want, sample.name
                row = await _feed(deps, server.url(path))
                assert row.error_count == 1 and row.last_error == want, sample.name
                continue
            assert (first.outcome, first.new_items, first.deliveries) == (
                Outcome.INGESTED, len(want.entries), 0), sample.name

            again = await poll_feed(await _feed(deps, server.url(path)), deps)
            assert (again.outcome, again.new_items) == (Outcome.UNCHANGED, 0), sample.name

            # Same items, different bytes: the pre-scan should settle it without a parse.
            server.serve(path, sample.body + b"\n<!-- rewritten -->\n",
                         content_type=HEADERS["content-type"])
            rewritten = await poll_feed(await _feed(deps, server.url(path)), deps)
            cheap = prescan_keys(sample.body, HEADERS) is not None
            assert rewritten.outcome == (Outcome.KNOWN if cheap else Outcome.INGESTED), sample.name
            assert (rewritten.new_items, rewritten.deliveries) == (0, 0), sample.name
    assert await deps.store.pending_deliveries(100) == []
    # The silence above means something only if the watch would have matched.
    query = compile_query(EVERYTHING)
    entries = [e for s in samples if isinstance(f := expected(s), ParsedFeed) for e in f.entries]
    matching = sum(query.matches(document_from_entry(e, "feed")) for e in entries)
    assert matching > len(entries) // 2
