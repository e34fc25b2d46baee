"""The poll dispatcher: start a poll as soon as a feed is due and a slot is free.

One loop per process. Each pass leases the feeds due now, at most as many as there are free
slots, and starts one tracked task per feed. Then it sleeps until the earliest of: the next
due time the schedule knows, a poll finishing (when every slot was busy), ``wake()`` (a feed
was added), or ``idle_s``. A pass that filled every free slot runs again at once: there may
be more due. Gaps (``min_gap_s``) batch claims, so 67 polls/s cost ~5 claims/s, not 67.

A failing feed is data on its row; an unexpected exception is logged with the feed's name and
never stops the loop. Schedule lag (how late a feed was when it was claimed) is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from bot.core import metrics
from bot.pipeline.next_check import JITTER_FRACTION, feed_interval
from bot.pipeline.poll import PollDeps, PollResult, poll_feed
from bot.service.membership import ClusterStore, DbClock
from bot.store.base import Store
from bot.store.rows import FeedRow

log = logging.getLogger(__name__)

LEASE_S = 120.0  # a crashed poll's feed becomes due again after this
IDLE_S = 0.25  # without a known next due time, look again this often (lag <= this)
MIN_GAP_S = 0.2  # due times closer than this are claimed together (lag <= this)
FREED_GAP_S = 0.02  # polls finishing within this are replaced by one claim
LAG_WINDOW_S = 60.0


class DueFeeds(Protocol):
    """Where the dispatcher learns what is due: leases due feeds and names the next due time."""

    async def claim(self, limit: int) -> list[FeedRow]: ...
    async def next_due(self) -> float | None: ...


class StoreSchedule:
    """``DueFeeds`` over the store: ``claim_due_feeds`` with a lease of ``lease_s``."""

    def __init__(self, store: Store, clock: Callable[[], float], lease_s: float = LEASE_S) -> None:
        self.store = store
        self.clock = clock
        self.lease_s = lease_s

    async def claim(self, limit: int) -> list[FeedRow]:
        """Lease up to ``limit`` feeds due now."""
        return await self.store.claim_due_feeds(self.clock(), limit, self.lease_s)

    async def next_due(self) -> float | None:
        """The next due time, or None when unknown (the dispatcher then looks every idle_s)."""
        return None


class ClusterSchedule:
    """``DueFeeds`` for several processes: leases name their owner; times are the database's.

    Each answer carries the database's ``now``, which keeps ``clock`` (the poll's clock) on
    the database's time, so the due times this process writes compare right everywhere.
    """

    def __init__(self, store: ClusterStore, owner: str, clock: DbClock,
                 lease_s: float = LEASE_S) -> None:
        self.store, self.owner, self.clock, self.lease_s = store, owner, clock, lease_s
        self._next_due: float | None = None

    async def claim(self, limit: int) -> list[FeedRow]:
        """Lease up to ``limit`` feeds due now, in this process's name."""
        feeds, now, self._next_due = await self.store.claim_feeds(self.owner, limit,
                                                                  self.lease_s)
        self.clock.observe(now)
        return feeds

    async def next_due(self) -> float | None:
        """The earliest due time of a feed nobody holds (database clock), as the last claim
        saw it: one round trip per pass, not two."""
        return self._next_due


class LagWindow:
    """How late claimed feeds were, over the last minute (for /status and /healthz)."""

    def __init__(self, window_s: float = LAG_WINDOW_S, size: int = 4096) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque(maxlen=size)

    def add(self, at: float, lag: float) -> None:
        """Record one claimed feed's lag (seconds past its due time)."""
        self._samples.append((at, lag))

    def summary(self, now: float) -> dict[str, float]:
        """Count, p50, p95 and max lag in seconds over the window (zeros when empty)."""
        recent = sorted(lag for at, lag in self._samples if now - at <= self.window_s)
        if not recent:
            return {"claimed": 0, "p50_s": 0.0, "p95_s": 0.0, "max_s": 0.0}
        last = len(recent) - 1
        return {"claimed": len(recent), "p50_s": round(recent[last // 2], 3),
                "p95_s": round(recent[int(last * 0.95)], 3), "max_s": round(recent[last], 3)}


class Dispatcher:
    """Runs due polls with bounded concurrency, as soon as they are due."""

    def __init__(self, deps: PollDeps, concurrency: int, *, schedule: DueFeeds | None = None,
                 idle_s: float = IDLE_S, min_gap_s: float = MIN_GAP_S) -> None:
        self.deps = deps
        self.concurrency = concurrency
        self.schedule: DueFeeds = schedule or StoreSchedule(deps.store, deps.clock)
        self.idle_s = idle_s
        self.min_gap_s = min_gap_s
        self._tasks: set[asyncio.Task[PollResult | None]] = set()
        # For each poll in flight: the earliest its feed can be due again (start + the
        # interval less jitter). The store cannot know it yet; the sleep must not pass it.
        self._soonest: dict[asyncio.Task[PollResult | None], float] = {}
        self._finished: list[asyncio.Task[PollResult | None]] = []
        self._wake = asyncio.Event()
        self.last_tick: float | None = None  # monotonic time of the last pass (health)
        self.results: dict[str, int] = {}
        self.lag = LagWindow()

    @property
    def in_flight(self) -> int:
        """Polls running now."""
        return len(self._tasks)

    def wake(self) -> None:
        """Something became due (a feed was added): look now instead of at the next due time."""
        self._wake.set()

    async def tick(self) -> int:
        """One pass: start polls for due feeds, up to the free slots; returns how many."""
        self.last_tick = time.monotonic()
        for task in self._finished:  # their due times are in the store by now
            self._soonest.pop(task, None)
        self._finished.clear()
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        feeds = await self.schedule.claim(free)
        now = self.deps.clock()
        for feed in feeds:
            lag = max(now - feed.next_check, 0.0)
            self.lag.add(self.last_tick, lag)
            metrics.observe_schedule_lag(lag)
            self._start(feed)
        return len(feeds)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; a failing pass is logged and retried."""
        while not stop.is_set():
            self._wake.clear()
            free = self.concurrency - len(self._tasks)
            try:
                started = await self.tick()
                delay = await self._delay(started, free)
            except Exception:
                log.exception("dispatch pass failed; retrying in %.0fs", self.idle_s)
                delay = self.idle_s
            await self._sleep(delay, stop)

    async def _delay(self, started: int, free: int) -> float:
        """How long to sleep after a pass that started ``started`` polls of ``free`` slots."""
        if len(self._tasks) >= self.concurrency:
            return self.idle_s  # every slot busy: a finishing poll wakes us (see _done)
        if free > 0 and started >= free:
            return 0.0  # the pass filled every free slot: more may be due right now
        due = [d for d in (await self.schedule.next_due(), *self._soonest.values())
               if d is not None]
        if not due:
            return self.idle_s
        return min(max(min(due) - self.deps.clock(), self.min_gap_s), self.idle_s)

    async def _sleep(self, delay: float, stop: asyncio.Event) -> None:
        if delay <= 0:
            await asyncio.sleep(0)  # let finished polls' callbacks and other tasks run
            return
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._wake.is_set() and not stop.is_set() and self.min_gap_s > 0:
            # Polls finishing together are claimed for together.
            await asyncio.sleep(FREED_GAP_S)

    def _start(self, feed: FeedRow) -> None:
        task = asyncio.create_task(self._guarded_poll(feed), name=f"poll {feed.name}")
        self._tasks.add(task)
        now = self.deps.clock()
        interval = feed_interval(feed, now, self.deps.interval_bounds).seconds
        self._soonest[task] = now + interval * (1 - JITTER_FRACTION)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[PollResult | None]) -> None:
        full = len(self._tasks) >= self.concurrency
        self._tasks.discard(task)
        # Its bound stays until the next pass, whose claim then knows the real due time.
        self._finished.append(task)
        if full:
            self._wake.set()

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
