"""The poll schedule: the database says which feeds are due; a tick polls them, bounded.

APScheduler fires the tick every second. A tick leases due feeds (so an overlapping tick
cannot take them too) and starts one tracked task per feed, never more than the configured
concurrency. A failing feed is data on its row; an unexpected exception is logged with the
feed's name and never stops the tick.
"""

from __future__ import annotations

import asyncio
import logging
import time

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.delivery.digests import flush_digests
from bot.pipeline.poll import PollDeps, PollResult, poll_feed
from bot.store.rows import FeedRow, PruneResult

log = logging.getLogger(__name__)

LEASE_S = 120.0  # a crashed poll's feed becomes due again after this
DIGEST_CHECK_S = 2.0  # how late after its boundary a digest is made, at most (plus settling)
DELIVERY_RETENTION_S = 30 * 86400  # sent and failed deliveries are kept for /status this long
# An item's key is what stops a second alert: kept 90 days (and as long as its feed still lists
# it). Its body only serves /watch test (24 h) and soon article text: a week is plenty.
ITEM_KEY_RETENTION_S = 90 * 86400
ITEM_BODY_RETENTION_S = 7 * 86400


class Poller:
    """Runs due polls with bounded concurrency and remembers when it last ticked."""

    def __init__(self, deps: PollDeps, concurrency: int) -> None:
        self.deps = deps
        self.concurrency = concurrency
        self._tasks: set[asyncio.Task[PollResult | None]] = set()
        self.last_tick: float | None = None
        self.results: dict[str, int] = {}

    @property
    def in_flight(self) -> int:
        """Polls running now."""
        return len(self._tasks)

    async def tick(self) -> int:
        """Start polls for due feeds, up to the free slots; returns how many started."""
        self.last_tick = time.monotonic()
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        feeds = await self.deps.store.claim_due_feeds(self.deps.clock(), free, LEASE_S)
        for feed in feeds:
            self._start(feed)
        return len(feeds)

    def _start(self, feed: FeedRow) -> None:
        task = asyncio.create_task(self._guarded_poll(feed), name=f"poll {feed.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded_poll(self, feed: FeedRow) -> PollResult | None:
        try:
            result = await poll_feed(feed, self.deps)
        except Exception:
            log.exception("feed %r: poll crashed; it will be retried after its lease", feed.name,
                          extra={"feed": feed.name})
            return None
        self.results[result.outcome] = self.results.get(result.outcome, 0) + 1
        return result

    async def poll_all_once(self) -> list[PollResult | None]:
        """Poll every feed now, whatever its schedule (``wirewatch once``)."""
        feeds = await self.deps.store.claim_due_feeds(self.deps.clock(), 1_000_000, LEASE_S,
                                                      due_before=float("inf"))
        semaphore = asyncio.Semaphore(self.concurrency)

        async def bounded(feed: FeedRow) -> PollResult | None:
            async with semaphore:
                return await self._guarded_poll(feed)

        return list(await asyncio.gather(*(bounded(feed) for feed in feeds)))

    async def wait_idle(self, timeout: float) -> None:
        """Let in-flight polls finish (graceful shutdown), cancelling any still running after."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)


def start_scheduler(poller: Poller, tick_seconds: float = 1.0) -> AsyncIOScheduler:
    """Start APScheduler firing ``poller.tick``; the caller shuts it down."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(_tick, "interval", args=[poller], seconds=tick_seconds, max_instances=1,
                      coalesce=True, misfire_grace_time=30, id="poll-tick")
    scheduler.add_job(prune_outbox, "cron", args=[poller.deps], hour=4, minute=17,
                      coalesce=True, misfire_grace_time=3600, id="prune-outbox")
    scheduler.add_job(prune_items, "cron", args=[poller.deps], hour=4, minute=37,
                      coalesce=True, misfire_grace_time=3600, id="prune-items")
    # Digest boundaries are each watch's own (time zone, hourly/daily, quiet hours), so one
    # frequent check makes whatever has come due, and catches up at start.
    scheduler.add_job(make_due_digests, "interval", args=[poller.deps], seconds=DIGEST_CHECK_S,
                      max_instances=1, coalesce=True, misfire_grace_time=30, id="digests")
    scheduler.start()
    return scheduler


async def prune_outbox(deps: PollDeps) -> int:
    """Daily: drop sent and failed deliveries past the retention, so the outbox stays small."""
    try:
        removed = await deps.store.prune_deliveries(deps.clock() - DELIVERY_RETENTION_S)
    except Exception:
        log.exception("pruning old deliveries failed; tomorrow's run retries")
        return 0
    if removed:
        log.info("pruned %d deliveries older than %d days", removed,
                 DELIVERY_RETENTION_S // 86400)
    try:  # digests made as long ago, with the matches they listed
        await deps.store.prune_digests(deps.clock() - DELIVERY_RETENTION_S)
    except Exception:
        log.exception("pruning old digests failed; tomorrow's run retries")
    return removed


async def prune_items(deps: PollDeps) -> PruneResult | None:
    """Daily: empty item bodies past ITEM_BODY_RETENTION_S and forget keys past
    ITEM_KEY_RETENTION_S (never those still in their feed's latest body)."""
    now = deps.clock()
    try:
        result = await deps.store.prune_items(keys_before=now - ITEM_KEY_RETENTION_S,
                                              bodies_before=now - ITEM_BODY_RETENTION_S)
    except Exception:
        log.exception("pruning old items failed; tomorrow's run retries")
        return None
    if result.keys or result.bodies:
        log.info("pruned %d item bodies older than %d days and %d item keys older than %d "
                 "days", result.bodies, ITEM_BODY_RETENTION_S // 86400, result.keys,
                 ITEM_KEY_RETENTION_S // 86400)
    return result
async def make_due_digests(deps: PollDeps) -> int:
    """Queue the digests whose period has ended; the outbox sends them like any alert."""
    try:
        queued = await flush_digests(deps.store, deps.clock())
    except Exception:
        log.exception("making due digests failed; the next check retries")
        return 0
    if queued:
        deps.on_queued(queued)
    return queued


async def _tick(poller: Poller) -> None:
    try:
        await poller.tick()
    except Exception:
        log.exception("scheduler tick failed; the next tick retries")
