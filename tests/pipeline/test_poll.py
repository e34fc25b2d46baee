"""One poll, step by step, with real parts: feed server, fetcher, isolated parser, SQLite."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import Outcome, PollDeps, poll_feed
from bot.store import SqlStore, open_store
from bot.store.rows import FeedRow, NewWatch
from tests.e2e.harness import rss
from tests.fakes.feed_server import FeedServer

GUILD = 111


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    deps: PollDeps
    store: SqlStore
    feeds: FeedServer
    clock: Clock
    queued: list[int]

    async def feed(self, url: str) -> FeedRow:
        [sub] = [s for s in await self.store.subscriptions(GUILD) if s.feed.url == url]
        return sub.feed

    async def poll(self, url: str) -> Outcome:
        return (await poll_feed(await self.feed(url), self.deps)).outcome


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    guard = AddressGuard((ipaddress.ip_network("127.0.0.0/8"),))
    fetcher = Fetcher(FetchLimits(deadline_s=5), guard)
    parser = IsolatedParser(workers=1, timeout_s=10)
    clock, queued = Clock(), []
    deps = PollDeps(store=store, fetcher=fetcher, parser=parser, clock=clock,
                    rng=random.Random(1), on_queued=queued.append)
    async with FeedServer() as feeds:
        yield Rig(deps, store, feeds, clock, queued)
    await fetcher.close()
    await parser.close()
    await store.close()


async def subscribe(rig: Rig, path: str, body: bytes, **serve: str) -> str:
    rig.feeds.serve(path, body, **serve)
    url = rig.feeds.url(path)
    await rig.store.subscribe(GUILD, url, path.strip("/"), 60, rig.clock.now)
    return url


async def test_first_poll_silent_then_new_matches_queue(rig: Rig) -> None:
    await rig.store.add_watch(NewWatch(guild_id=GUILD, name="t", query="tariffs",
                                       channel_id=5), rig.clock.now)
    url = await subscribe(rig, "/a", rss([("1", "Tariffs rise"), ("2", "Weather")]))
    assert await rig.poll(url) == Outcome.INGESTED
    assert await rig.store.pending_deliveries(10) == []
    rig.feeds.serve("/a", rss([("3", "New tariffs on steel"), ("4", "Taxi strike"),
                               ("1", "Tariffs rise"), ("2", "Weather")]))
    result = await poll_feed(await rig.feed(url), rig.deps)
    assert (result.outcome, result.new_items, result.deliveries) == (Outcome.INGESTED, 2, 1)
    [(delivery, _)] = await rig.store.pending_deliveries(10)
    assert delivery.alert.title == "New tariffs on steel"
    assert delivery.alert.feed_name == "a" and delivery.alert.matched_terms
    assert rig.queued == [1]


async def test_conditional_get_same_body_and_known_ids_skip_the_parser(rig: Rig) -> None:
    url = await subscribe(rig, "/etag", rss([("1", "One")]), etag='"v1"')
    assert await rig.poll(url) == Outcome.INGESTED
    assert await rig.poll(url) == Outcome.NOT_MODIFIED
    url2 = await subscribe(rig, "/plain", rss([("1", "One")]))
    assert await rig.poll(url2) == Outcome.INGESTED
    assert await rig.poll(url2) == Outcome.UNCHANGED
    # Rewritten body (new title text) but the same item ids: the pre-scan says nothing is new.
    rig.feeds.serve("/plain", rss([("1", "One, updated")]))
    assert await rig.poll(url2) == Outcome.KNOWN


async def test_failure_is_recorded_with_backoff_and_success_heals(rig: Rig) -> None:
    url = await subscribe(rig, "/flaky", b"")
    rig.feeds.status("/flaky", 500)
    first = await poll_feed(await rig.feed(url), rig.deps)
    assert first.outcome == Outcome.FAILED and "500" in (first.error or "")
    feed = await rig.feed(url)
    assert feed.error_count == 1 and feed.next_check > rig.clock.now + 50
    await poll_feed(feed, rig.deps)
    again = await rig.feed(url)
    assert again.error_count == 2
    assert again.next_check - rig.clock.now > feed.next_check - rig.clock.now
    rig.feeds.serve("/flaky", rss([("1", "Back")]))
    assert await rig.poll(url) == Outcome.INGESTED
    healed = await rig.feed(url)
    assert healed.error_count == 0 and healed.last_error is None


async def test_not_a_feed_is_a_failure_not_an_empty_feed(rig: Rig) -> None:
    url = await subscribe(rig, "/html", b"<html><body>Just a moment...</body></html>",
                          content_type="text/html")
    result = await poll_feed(await rig.feed(url), rig.deps)
    assert result.outcome == Outcome.FAILED
    assert (await rig.feed(url)).error_count == 1


async def test_retry_after_pushes_the_next_check(rig: Rig) -> None:
    url = await subscribe(rig, "/busy", b"")
    rig.feeds.status("/busy", 429, headers={"Retry-After": "3600"})
    await poll_feed(await rig.feed(url), rig.deps)
    assert (await rig.feed(url)).next_check >= rig.clock.now + 3600


async def test_a_feed_failing_many_times_is_paused_once_and_a_success_resumes_it(
        rig: Rig) -> None:
    paused: list[tuple[str, str]] = []

    async def on_paused(feed: FeedRow, reason: str) -> None:
        paused.append((feed.name, reason))

    rig.deps.on_feed_paused = on_paused
    rig.deps.pause_after = 3
    url = await subscribe(rig, "/dead", b"")
    rig.feeds.status("/dead", 404)
    for _ in range(5):
        await poll_feed(await rig.feed(url), rig.deps)
    feed = await rig.feed(url)
    assert feed.paused and feed.error_count == 5
    assert feed.next_check >= rig.clock.now + 86400
    assert len(paused) == 1 and paused[0][0] == "dead" and "404" in paused[0][1]
    rig.feeds.serve("/dead", rss([("1", "Alive again")]))
    assert await rig.poll(url) == Outcome.INGESTED
    assert not (await rig.feed(url)).paused


async def test_resume_command_path_makes_the_feed_due_now(rig: Rig) -> None:
    url = await subscribe(rig, "/p", b"")
    feed = await rig.feed(url)
    await rig.store.pause_feed(feed.id, rig.clock.now + 86400)
    assert await rig.store.claim_due_feeds(rig.clock.now + 10, 10, 60) == []
    assert await rig.store.resume_feed(GUILD, "p", rig.clock.now)
    assert [f.id for f in await rig.store.claim_due_feeds(rig.clock.now, 10, 60)] == [feed.id]
    assert not await rig.store.resume_feed(GUILD, "nope", rig.clock.now)


async def test_a_corrected_headline_of_an_alerted_item_is_not_hidden_by_the_prescan(
        rig: Rig) -> None:
    await rig.store.add_watch(NewWatch(guild_id=GUILD, name="t", query="tariffs",
                                       channel_id=5), rig.clock.now)
    url = await subscribe(rig, "/a", rss([("1", "Weather")]))
    assert await rig.poll(url) == Outcome.INGESTED  # primes silently
    rig.feeds.serve("/a", rss([("3", "New tariffs on steel"), ("1", "Weather")]))
    assert await rig.poll(url) == Outcome.INGESTED
    [(alert, _)] = await rig.store.pending_deliveries(10)
    await rig.store.mark_sent(alert.id, "42", rig.clock.now)
    # Same ids, one changed word: a plain "nothing new" body skips the parse ...
    rig.feeds.serve("/a", rss([("3", "New tariffs on steel"), ("1", "Weather today")]))
    # ... but here item 3, which was alerted, is in it, so the body is parsed and compared.
    assert await rig.poll(url) == Outcome.INGESTED
    assert await rig.store.pending_deliveries(10) == []  # no correction: nothing to edit
    rig.feeds.serve("/a", rss([("3", "New tariffs on steel and aluminium"), ("1", "Weather")]))
    assert await rig.poll(url) == Outcome.INGESTED
    [(edit, _)] = await rig.store.pending_deliveries(10)
    assert (edit.edit_of, edit.edit_message_id) == (alert.id, "42")
    assert edit.alert.title == "New tariffs on steel and aluminium" and edit.alert.updated
    # Without alerted items in it, an all-known body still skips the parser.
    url2 = await subscribe(rig, "/b", rss([("9", "Weather")]))
    assert await rig.poll(url2) == Outcome.INGESTED
    rig.feeds.serve("/b", rss([("9", "Weather today")]))
    assert await rig.poll(url2) == Outcome.KNOWN
async def test_an_offline_machine_does_not_pause_its_feeds(rig: Rig) -> None:
    from bot.service.reporting import ConsoleReporter

    reporter = ConsoleReporter(2)
    rig.deps.on_result, rig.deps.failure_level = reporter.on_result, reporter.failure_level
    rig.deps.pause_after = 3
    urls = []
    for path in ("/x", "/y"):
        await rig.store.subscribe(GUILD, f"http://127.0.0.1:9{path}", path.strip("/"), 60,
                                  rig.clock.now)  # port 9: nothing listens, connect refused
        urls.append(f"http://127.0.0.1:9{path}")
    for _ in range(4):
        for url in urls:
            assert await rig.poll(url) == Outcome.FAILED
    assert reporter.reach.state == "offline"
    assert not any([(await rig.feed(url)).paused for url in urls])
    assert (await rig.feed(urls[0])).error_count == 4
