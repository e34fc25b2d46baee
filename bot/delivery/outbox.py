"""The outbox sender: pending deliveries are sent in order per target, then marked.

At-least-once attempted (a crash leaves rows pending, sent again on restart) and at most
once visible (channel messages carry a deterministic nonce; see ``discord_rest``).
Pacing follows Discord's per-route rate-limit headers (see ``discord_rest``).
Failures by class: transient → retry with backoff and jitter honouring ``retry_after``;
a bad payload → failed with the reason; a gone target → failed, watch paused, guild told once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.errors import PermanentDelivery, RetryableDelivery, TargetGone
from bot.store.base import Store
from bot.store.rows import Delivery

log = logging.getLogger(__name__)

BATCH = 500
MAX_RETRY_DELAY_S = 300.0


class Sender(Protocol):
    """Something that posts one delivery and returns its message id."""

    async def send(self, delivery: Delivery) -> str | None: ...




TargetGoneHook = Callable[[Delivery, str], Awaitable[None]]


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """The server's ``retry_after`` when it gave one, else exponential backoff; with jitter."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_DELAY_S) * rng.uniform(1.0, 1.1)
    return min(0.5 * 2.0 ** attempts, MAX_RETRY_DELAY_S) * rng.uniform(0.5, 1.0)


class OutboxSender:
    """Drains the outbox; ``run`` until stopped, or ``drain_once`` for one pass."""

    def __init__(self, store: Store, *, discord: Sender | None, console: Sender,
                 clock: Callable[[], float], on_target_gone: TargetGoneHook | None = None,
                 rng: random.Random | None = None) -> None:
        self._store = store
        self._discord = discord
        self._console = console
        self._clock = clock
        self.on_target_gone = on_target_gone
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.sent_total = 0
        self.outcomes: dict[str, int] = defaultdict(int)
        # `wirewatch once` ends with these per feed.
        self.sent_by_feed: dict[int, int] = defaultdict(int)
        self.failed_by_feed: dict[int, int] = defaultdict(int)

    def wake(self, _count: int = 0) -> None:
        """New deliveries were queued: drain soon."""
        self._wake.set()

    async def run(self) -> None:
        """Drain whenever woken (or every second) until ``stopping`` is set."""
        while not self.stopping.is_set():
            self._wake.clear()
            try:
                await self.drain_once()
            except Exception:
                log.exception("outbox pass failed; retrying")
            await _wait_any(self._wake, self.stopping, timeout=1.0)

    async def drain_once(self) -> int:
        """Send every due delivery, in order per target; returns how many were sent."""
        pending = await self._store.pending_deliveries(BATCH)
        queues: dict[str, list[tuple[Delivery, float]]] = defaultdict(list)
        for delivery, next_attempt in pending:
            queues[delivery.target].append((delivery, next_attempt))
        # Every target's task is awaited to the end, even when one fails: a sibling left
        # running past this pass would race the next pass over the same rows.
        results = await asyncio.gather(*(self._drain_target(t, q) for t, q in queues.items()),
                                       return_exceptions=True)
        sent = 0
        for target, result in zip(queues, results, strict=True):
            if isinstance(result, BaseException):
                log.error("outbox: sending to %s failed; the next pass retries", target,
                          exc_info=result)
            else:
                sent += result
        return sent

    async def _drain_target(self, target: str, queue: list[tuple[Delivery, float]]) -> int:
        sent = 0
        for delivery, next_attempt in queue:
            # Stop at the first one not yet due: later alerts must not overtake it.
            if self.stopping.is_set() or next_attempt > self._clock():
                break
            if not await self._send_one(delivery):
                break
            sent += 1
        return sent

    async def _send_one(self, delivery: Delivery) -> bool:
        """Send and mark; False when the target's queue must wait (a retry is scheduled)."""
        context = {"watch": delivery.watch_name, "guild": delivery.guild_id}
        sender = self._console if delivery.target == "console" else self._discord
        now = self._clock()
        try:
            if sender is None:
                raise PermanentDelivery("Discord delivery needs DISCORD_TOKEN or a webhook")
            await self._store.mark_attempt(delivery.id, now)
            message_id = await sender.send(delivery)
        except RetryableDelivery as exc:
            delay = retry_delay(delivery.attempts, exc.retry_after, self._rng)
            await self._store.mark_retry(delivery.id, str(exc), self._clock() + delay, now)
            log.warning("watch %r: delivery %d will retry in %.1fs: %s", delivery.watch_name,
                        delivery.id, delay, exc, extra=context)
            self.outcomes["retry"] += 1
            return False
        except TargetGone as exc:
            await self._target_gone(delivery, str(exc))
            return False
        except PermanentDelivery as exc:
            await self._store.mark_failed(delivery.id, str(exc), self._clock())
            log.error("watch %r: delivery %d failed: %s", delivery.watch_name, delivery.id, exc,
                      extra=context)
            self.outcomes["failed"] += 1
            self.failed_by_feed[delivery.feed_id] += 1
            return True
        await self._store.mark_sent(delivery.id, message_id, self._clock())
        self.sent_total += 1
        self.sent_by_feed[delivery.feed_id] += 1
        self.outcomes["sent"] += 1
        return True

    async def _target_gone(self, delivery: Delivery, reason: str) -> None:
        await self._store.mark_failed(delivery.id, reason, self._clock())
        await self._store.set_watch_paused(delivery.guild_id, delivery.watch_name, True, reason)
        log.error("watch %r paused: %s", delivery.watch_name, reason,
                  extra={"watch": delivery.watch_name, "guild": delivery.guild_id})
        self.outcomes["failed"] += 1
        self.failed_by_feed[delivery.feed_id] += 1
        if self.on_target_gone is not None:
            try:
                await self.on_target_gone(delivery, reason)
            except Exception:
                log.exception("could not tell guild %s that watch %r was paused",
                              delivery.guild_id, delivery.watch_name)


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
