"""APScheduler's jobs: the daily outbox prune and a watchdog over the poll dispatcher.

Polls themselves are started by ``bot.service.dispatcher.Dispatcher`` as soon as they are due; the
watchdog restarts the dispatcher's loop if it ever died, so a bug cannot silently stop polling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core import metrics
from bot.delivery.digests import flush_digests
from bot.pipeline.poll import PollDeps
from bot.service.dispatcher import Dispatcher
from bot.service.websub import SUBSCRIBE_EVERY_S, request_subscriptions
from bot.store.rows import PruneResult

log = logging.getLogger(__name__)

DIGEST_CHECK_S = 2.0  # how late after its boundary a digest is made, at most (plus settling)
DELIVERY_RETENTION_S = 30 * 86400  # sent and failed deliveries are kept for /status this long
INTERACTION_RETENTION_S = 86400  # handled interaction ids: long past any replay
WATCHDOG_S = 10.0
# An item's key is what stops a second alert: kept 90 days (and as long as its feed still lists
# it). Its body only serves /watch test (24 h) and soon article text: a week is plenty.
ITEM_KEY_RETENTION_S = 90 * 86400
ITEM_BODY_RETENTION_S = 7 * 86400


P = ParamSpec("P")
R = TypeVar("R")
# Room for the skipping run beside the running one: APScheduler never refuses a run itself
# (which it logs as a WARNING every time, e.g. every 2 s for a slow digest check).
JOB_INSTANCES = 3


def one_at_a_time(job: str, run: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | None]]:
    """``run`` as a job that, while its previous run is still going, skips at once (None).

    The skip is counted in ``wirewatch_jobs_skipped{job}`` and logged at DEBUG: a slow run is
    normal under load (a busy database), and the next trigger catches up.
    """
    running = False

    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R | None:
        nonlocal running
        if running:
            metrics.count_job_skipped(job)
            log.debug("job %s: previous run still going; this one is skipped", job)
            return None
        running = True
        try:
            return await run(*args, **kwargs)
        finally:
            running = False

    guarded.__name__ = getattr(run, "__name__", job)
    return guarded


class DispatchLoop:
    """The dispatcher's task, restarted by the watchdog when it ended while it should run."""

    def __init__(self, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
        self.dispatcher = dispatcher
        self.stop = stop
        self.task: asyncio.Task[None] | None = None
        self.restarts = 0

    def ensure_running(self) -> bool:
        """Start the loop unless it runs; True when it had to be (re)started."""
        if self.stop.is_set() or (self.task is not None and not self.task.done()):
            return False
        if self.task is not None:
            self.restarts += 1
            error = None if self.task.cancelled() else self.task.exception()
            log.error("poll dispatcher stopped unexpectedly (%r); restarting it", error)
        self.task = asyncio.create_task(self.dispatcher.run(self.stop), name="dispatch")
        return True


def start_scheduler(deps: PollDeps, loop: DispatchLoop | None = None,
                    public_url: str | None = None) -> AsyncIOScheduler:
    """Start APScheduler with the prune jobs (and the watchdog over ``loop``, and the WebSub
    subscriptions when hubs can reach us at ``public_url``)."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(one_at_a_time("prune-outbox", prune_outbox), "cron", args=[deps],
                      hour=4, minute=17, coalesce=True, misfire_grace_time=3600,
                      max_instances=JOB_INSTANCES, id="prune-outbox")
    if loop is not None:
        loop.ensure_running()
        # A coroutine job: APScheduler runs it on the event loop, not in a thread.
        scheduler.add_job(one_at_a_time("dispatch-watchdog", _watchdog), "interval",
                          args=[loop], seconds=WATCHDOG_S, max_instances=JOB_INSTANCES,
                          coalesce=True, id="dispatch-watchdog")
    scheduler.add_job(one_at_a_time("prune-items", prune_items), "cron", args=[deps],
                      hour=4, minute=37, coalesce=True, misfire_grace_time=3600,
                      max_instances=JOB_INSTANCES, id="prune-items")
    # Digest boundaries are each watch's own (time zone, hourly/daily, quiet hours), so one
    # frequent check makes whatever has come due, and catches up at start.
    scheduler.add_job(one_at_a_time("digests", make_due_digests), "interval", args=[deps],
                      seconds=DIGEST_CHECK_S, max_instances=JOB_INSTANCES, coalesce=True,
                      misfire_grace_time=30, id="digests")
    if public_url is not None:
        scheduler.add_job(one_at_a_time("websub", request_subscriptions), "interval",
                          args=[deps.store, deps.fetcher, public_url, deps.clock],
                          seconds=SUBSCRIBE_EVERY_S, max_instances=JOB_INSTANCES,
                          coalesce=True, id="websub")
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
    try:  # claims of clicks (a day is plenty) and mutes of stories closed long ago
        await deps.store.prune_actions(deps.clock() - 86400.0,
                                       deps.clock() - DELIVERY_RETENTION_S)
    except Exception:
        log.exception("pruning old clicks and story mutes failed; tomorrow's run retries")
    try:  # slash commands handled: a day is far past any replay (Discord's tokens last 15 min)
        await deps.store.prune_interactions(deps.clock() - INTERACTION_RETENTION_S)
    except Exception:
        log.exception("pruning handled interactions failed; tomorrow's run retries")
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


async def _watchdog(loop: DispatchLoop) -> None:
    loop.ensure_running()
