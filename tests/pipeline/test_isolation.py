"""IsolatedParser: real child processes, real limits, a responsive event loop."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.errors import ParseError
from bot.pipeline.fields import MAX_ITEMS
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.parse import parse_feed
from bot.pipeline.preview import preview_matches
from bot.pipeline.worker import feed_from_wire, feed_to_wire
from bot.store.rows import WatchRow
from tests.fakes.feed_server import entity_bomb, rss

SMALL = rss(5)
HEAVY = rss(3_000)  # ~3.4 MB: about 1-3 s of feedparser CPU on this kind of machine


@pytest.fixture
async def parser() -> AsyncIterator[IsolatedParser]:
    isolated = IsolatedParser(timeout_s=10.0, workers=2)
    yield isolated
    await isolated.close()


async def test_result_equals_in_process_parse(parser: IsolatedParser) -> None:
    body = rss(50)
    isolated = await parser.parse(body, {"Content-Type": "application/rss+xml"}, "https://x/")
    assert isolated == parse_feed(body, {"Content-Type": "application/rss+xml"}, "https://x/")
    assert len(isolated.entries) == 50 and isolated.entries[0].published is not None


@pytest.mark.parametrize("queries", [
    ["tariffs", "word3 NEAR/2 word4", "title:(Headline AND 7)", "nothing-matches-this"],
    ["/[unclosed/"],  # a watch that cannot compile previews nothing, the parse still counts
])
async def test_a_first_polls_preview_is_found_in_the_worker(parser: IsolatedParser,
                                                            queries: list[str]) -> None:
    """The worker's preview equals the in-process one (the matching alerts are made of)."""
    body = rss(50)
    watches = [(WatchRow(n + 1, 7, f"w{n}", q), "Feed") for n, q in enumerate(queries)]
    watches.append((WatchRow(99, 7, "paused", "tariffs", paused=True), "Feed"))
    feed, previews = await parser.parse_first(body, {"Content-Type": "application/rss+xml"},
                                              "https://x/", watches)
    assert feed == parse_feed(body, {"Content-Type": "application/rss+xml"}, "https://x/")
    if queries[0].startswith("/["):
        assert previews == ()
        return
    assert previews == preview_matches("Feed", 50, feed.entries, watches).watches
    assert {p.watch_id for p in previews} == {1, 2, 3} and previews[0].count == 50


def test_wire_format_round_trips() -> None:
    feed = parse_feed(rss(3), {}, "https://x/")
    assert feed_from_wire(json.loads(json.dumps(feed_to_wire(feed)))) == feed


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "empty body"), (b"<html><body>hi</body></html>", "HTML page"),
     (entity_bomb(), "declares XML entities")],
)
async def test_parse_errors_cross_the_boundary(parser: IsolatedParser, body: bytes,
                                               message: str) -> None:
    with pytest.raises(ParseError, match=message):
        await parser.parse(body, {}, "https://x/")
    assert len((await parser.parse(SMALL, {}, "u")).entries) == 5  # worker still usable


async def test_timeout_kills_only_the_slow_parse() -> None:
    parser = IsolatedParser(timeout_s=0.5, workers=2)
    try:
        await asyncio.gather(parser.parse(SMALL, {}, "u"), parser.parse(SMALL, {}, "u"))  # warm
        started = time.perf_counter()
        slow = asyncio.create_task(parser.parse(HEAVY, {}, "u"))
        await asyncio.sleep(0.05)
        healthy = await parser.parse(SMALL, {}, "u")
        healthy_s = time.perf_counter() - started
        with pytest.raises(ParseError, match=r"^parser killed after 0\.5 s$"):
            await slow
        killed_s = time.perf_counter() - started
        assert len(healthy.entries) == 5
        assert healthy_s < 0.45  # finished while the slow one was still running
        assert 0.45 < killed_s < 2.0
        # The pool works after the kill, with a replacement that was started right away.
        again = await asyncio.gather(*(parser.parse(SMALL, {}, "u") for _ in range(4)))
        assert all(len(feed.entries) == 5 for feed in again)
    finally:
        await parser.close()


async def test_cpu_limit_kills_a_spinning_parse() -> None:
    parser = IsolatedParser(timeout_s=30.0, cpu_s=0.5, workers=1)
    try:
        with pytest.raises(ParseError, match=r"parser killed after using 0\.5 s of CPU"):
            await parser.parse(rss(30_000), {}, "u")  # feedparser alone needs seconds
        assert len((await parser.parse(SMALL, {}, "u")).entries) == 5
    finally:
        await parser.close()


async def test_memory_limit_ends_as_parse_error() -> None:
    items = [{"id": str(i), "content_text": "x"} for i in range(300_000)]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()
    parser = IsolatedParser(timeout_s=30.0, memory_bytes=128 * 1024 * 1024, workers=1)
    try:
        with pytest.raises(ParseError, match=r"^parser ran out of memory$"):
            await parser.parse(body, {}, "u")
        assert len((await parser.parse(SMALL, {}, "u")).entries) == 5
    finally:
        await parser.close()


async def test_event_loop_stays_responsive_during_a_heavy_parse(parser: IsolatedParser) -> None:
    await parser.parse(SMALL, {}, "u")  # warm a worker
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - before - 0.01)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    feed = await parser.parse(HEAVY, {}, "u")
    parse_s = time.perf_counter() - started
    done.set()
    await tick
    assert len(feed.entries) == MAX_ITEMS and feed.dropped == 3_000 - MAX_ITEMS
    # In-process this parse would block the loop for its whole duration (seconds).
    assert parse_s > 0.3 and worst < 0.15, (parse_s, worst)


async def test_cancelled_parse_does_not_poison_the_pool() -> None:
    parser = IsolatedParser(timeout_s=10.0, workers=1)
    try:
        task = asyncio.create_task(parser.parse(HEAVY, {}, "u"))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len((await parser.parse(SMALL, {}, "u")).entries) == 5
    finally:
        await parser.close()


async def test_closed_parser_refuses_work() -> None:
    parser = IsolatedParser(workers=1)
    await parser.parse(SMALL, {}, "u")
    await parser.close()
    with pytest.raises(ParseError, match="shut down"):
        await parser.parse(SMALL, {}, "u")


async def test_one_worker_gives_every_job_a_fresh_cpu_budget() -> None:
    # Budgets accumulate over the worker's life (RLIMIT_CPU counts all of it): jobs that
    # together use far more CPU than one budget must each still get theirs.
    parser = IsolatedParser(timeout_s=30.0, cpu_s=0.5, workers=1)
    try:
        for _ in range(8):
            assert len((await parser.parse(rss(600), {}, "u")).entries) == MAX_ITEMS
    finally:
        await parser.close()


def worker_environments() -> dict[int, bytes]:
    """The environment of every parser worker this process started (read from /proc)."""
    found: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone, or not ours
        parent = next(line.split()[1] for line in status.splitlines()
                      if line.startswith("PPid:"))
        if int(parent) == os.getpid() and b"bot.pipeline.worker" in cmdline:
            found[int(entry.name)] = environ
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
async def test_workers_start_with_an_empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "canary-token-for-the-worker-test")
    monkeypatch.setenv("WIREWATCH_DATABASE_URL", "postgresql://u:canary@db/x")
    parser = IsolatedParser(workers=1)
    try:
        assert len((await parser.parse(SMALL, {}, "u")).entries) == 5  # it works without env
        environments = worker_environments()
    finally:
        await parser.close()
    assert environments, "no parser worker found under /proc"
    for environ in environments.values():
        assert b"canary" not in environ and b"DISCORD_TOKEN" not in environ
        assert environ == b""
