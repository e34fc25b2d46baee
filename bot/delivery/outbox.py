"""The outbox sender: pending deliveries are sent in order per target, then marked.

Each target (channel, webhook, console) has its own lane: a queue and a task that drains it,
so a backlog or a rate limit on one channel never holds up another. A lane's life is
claim → drain → release (``_run_lane``); a cross-process claim in the database fits there.
At-least-once attempted (a crash leaves rows pending, sent again on restart) and at most
once visible (a deterministic nonce, and a marker found in history; see ``discord_rest``).
Pacing follows Discord's per-route rate-limit headers (see ``discord_rest``).
Failures by class: transient → retry with backoff and jitter honouring ``retry_after``;
a bad payload → failed with the reason; a gone target → failed, watch paused, guild told once.

Fencing (issue 20): a lane's claim (``claims.Claim``) carries the lease's token and this
process's own deadline for it. A send is checked against that deadline once more right after
its attempt is recorded, and its whole HTTP exchange ends before the claim does. Attempts and
marks name the token, so a sender paused past its claim changes nothing another did meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from bot.core.errors import MessageGone, PermanentDelivery, RetryableDelivery, TargetGone
from bot.delivery import fence
from bot.delivery.claims import Claim, ClaimTimes
from bot.delivery.duplicates import remove_late_copy
from bot.delivery.lanes import (
    EditSuperseded,
    Lane,
    Sender,
    TargetGoneHook,
    retry_delay,
    target_lease,
)
from bot.store.base import Store
from bot.store.rows import Delivery

__all__ = ["Lane", "OutboxSender", "Sender", "retry_delay", "target_lease"]

log = logging.getLogger(__name__)

BATCH = 500


class OutboxSender:
    """Drains the outbox; ``run`` until stopped, or ``drain_once`` for one pass.

    One batched store read feeds one lane per target; lanes send concurrently, so a slow or
    rate-limited channel delays only its own alerts, and each target keeps its own order.
    """

    def __init__(self, store: Store, *, discord: Sender | None, console: Sender,
                 clock: Callable[[], float], on_target_gone: TargetGoneHook | None = None,
                 rng: random.Random | None = None, sends_channels: bool = True) -> None:
        self._store = store
        # Without a bot token this process cannot post to channels: it leaves those alerts
        # pending for a process that can, instead of failing them for good.
        self.sends_channels = sends_channels
        # With several processes: this process's id. A lane then claims its target in the
        # database (one sender per target) and every update is guarded by owner and status.
        self.owner: str | None = None
        self.claim_times = ClaimTimes()  # scaled by WIREWATCH_CLUSTER_TIME_SCALE
        self._left: set[str] = set()
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
        self._lanes: dict[str, Lane] = {}
        self._read_lock = asyncio.Lock()
        # Ids a lane let go of while a store read was in flight (→ True if finished): that
        # read may predate the lane's last write, so its copy of these rows is stale.
        self._stale: dict[int, bool] | None = None

    def wake(self, _count: int = 0) -> None:
        """New deliveries were queued: drain soon."""
        self._wake.set()

    async def run(self) -> None:
        """Feed the lanes whenever woken (or every second) until ``stopping`` is set."""
        try:
            while not self.stopping.is_set():
                self._wake.clear()
                try:
                    await self.refill()
                except Exception:
                    log.exception("outbox read failed; retrying")
                await _wait_any(self._wake, self.stopping, timeout=1.0)
            await self._wait_lanes()  # lanes stop before their next send once stopping is set
        finally:
            for lane in list(self._lanes.values()):
                if lane.task is not None:
                    lane.task.cancel()

    async def drain_once(self) -> int:
        """Send every due delivery, in order per target; returns how many were sent."""
        before = self.sent_total
        await self.refill()
        await self._wait_lanes()
        return self.sent_total - before

    async def refill(self) -> None:
        """Read due deliveries once and hand each to its target's lane (started if needed)."""
        async with self._read_lock:
            self._stale = {}
            try:
                pending = await self._store.pending_deliveries(BATCH)
            finally:
                stale, self._stale = self._stale, None
        now = self._clock()
        held: set[str] = set()  # targets whose next row must wait: nothing may overtake it
        for delivery, next_attempt in pending:
            target = delivery.target
            if delivery.channel_id and not self.sends_channels:
                self._leave(delivery)
                continue
            lane = self._lanes.get(target)
            if target in held or (lane is not None and delivery.id in lane.ids) or \
                    stale.get(delivery.id):
                continue  # queued already, or finished while we read
            if lane is None and next_attempt > now and delivery.edit_of is not None:
                continue  # a story edit waiting out its gap holds back no alert behind it
            if delivery.id in stale or (lane is None and next_attempt > now):
                held.add(target)  # let go unfinished while we read, or not due yet
                continue
            if lane is None:
                lane = self._lanes[target] = Lane(target, claim=Claim(self.claim_times))
                lane.task = asyncio.create_task(self._run_lane(lane),
                                                name=f"outbox {delivery.id}")
            lane.add(delivery, next_attempt)

    def _leave(self, delivery: Delivery) -> None:
        if delivery.target not in self._left:
            self._left.add(delivery.target)
            log.warning("outbox: alerts for %s wait for a process with DISCORD_TOKEN",
                        delivery.target, extra={"guild": delivery.guild_id})

    async def _wait_lanes(self) -> None:
        while tasks := [lane.task for lane in self._lanes.values() if lane.task is not None]:
            await asyncio.wait(tasks)

    async def _run_lane(self, lane: Lane) -> None:
        try:
            await self._drain_lane(lane)
        except Exception:
            log.exception("outbox: sending to a %s target failed; the next pass retries",
                          lane.target.split(":", 1)[0])
        finally:
            self._release(lane)

    async def _claim(self, lane: Lane) -> bool:
        """Hold the lane's target with enough life left for a whole send; True without an
        owner. False: another process sends this target; the rows stay pending."""
        if self.owner is None:
            return True
        return await lane.claim.ensure(self._store, target_lease(lane.target), self.owner)

    def forget_claims(self) -> None:
        """This process was forgotten by the others: no claim it had counts any more."""
        for lane in self._lanes.values():
            lane.claim.drop()

    async def _drain_lane(self, lane: Lane) -> None:
        while lane.queue:
            place = self._next_due(lane)
            if place is None:
                return
            delivery, _ = lane.queue[place]
            if not await self._claim(lane) or not await self._send_one(delivery, lane):
                return
            del lane.queue[place]
            self._forget(lane, delivery.id, finished=True)

    def _next_due(self, lane: Lane) -> int | None:
        """Where the next due delivery is: the head, or one behind story edits that wait.

        A new alert not yet due stops the lane (later alerts must not overtake it); a story
        edit waiting out its 10 s gap does not hold back the alerts behind it.
        """
        if self.stopping.is_set():
            return None
        now = self._clock()
        for place, (delivery, next_attempt) in enumerate(lane.queue):
            if next_attempt <= now:
                return place
            if delivery.edit_of is None:
                return None
        return None

    def _release(self, lane: Lane) -> None:
        # Synchronous: no read can hand this lane a row between its last check and here.
        if self._lanes.get(lane.target) is lane:
            del self._lanes[lane.target]
        for delivery, _ in lane.queue:
            self._forget(lane, delivery.id, finished=False)
        lane.queue.clear()

    def _forget(self, lane: Lane, delivery_id: int, *, finished: bool) -> None:
        lane.ids.discard(delivery_id)
        if self._stale is not None:
            self._stale[delivery_id] = finished

    async def _send_one(self, delivery: Delivery, lane: Lane) -> bool:
        """Send and mark; False when the target's queue must wait (a retry is scheduled)."""
        context = {"watch": delivery.watch_name, "guild": delivery.guild_id}
        sender = self._console if delivery.target == "console" else self._discord
        now, token = self._clock(), lane.claim.token
        try:
            if sender is None:
                raise PermanentDelivery("Discord delivery needs DISCORD_TOKEN or a webhook")
            if not await self._attempt(delivery, now, token):
                return False
            deadline = lane.claim.send_deadline()
            if deadline - time.monotonic() < lane.claim.times.margin_s:
                # Paused (or slow) since the claim was checked: another process may hold the
                # target by now. The row stays pending for whoever holds it.
                log.warning("watch %r: delivery %d not sent: the target's claim ran out",
                            delivery.watch_name, delivery.id, extra=context)
                lane.claim.drop()
                return False
            message_id = await self._within(deadline, sender, delivery)
        except EditSuperseded:
            await self._store.mark_superseded(delivery.id, self._clock(), owner=self.owner)
            log.info("watch %r: edit %d skipped: its message shows a newer revision",
                     delivery.watch_name, delivery.id, extra=context)
            self.outcomes["superseded"] += 1
            return True
        except MessageGone as exc:
            # The story's message was deleted: nothing to edit any more; the watch is fine.
            await self._store.mark_failed(delivery.id, str(exc), self._clock(),
                                          owner=self.owner, token=token)
            log.info("watch %r: the message of delivery %d is gone; edit dropped",
                     delivery.watch_name, delivery.edit_of, extra=context)
            self.outcomes["gone"] += 1
            return True
        except RetryableDelivery as exc:
            delay = retry_delay(delivery.attempts, exc.retry_after, self._rng)
            await self._store.mark_retry(delivery.id, str(exc), self._clock() + delay, now,
                                         owner=self.owner, token=token)
            log.warning("watch %r: delivery %d will retry in %.1fs: %s", delivery.watch_name,
                        delivery.id, delay, exc, extra=context)
            self.outcomes["retry"] += 1
            return False
        except TargetGone as exc:
            await self._target_gone(delivery, str(exc), token)
            return False
        except PermanentDelivery as exc:
            await self._store.mark_failed(delivery.id, str(exc), self._clock(),
                                          owner=self.owner, token=token)
            log.error("watch %r: delivery %d failed: %s", delivery.watch_name, delivery.id, exc,
                      extra=context)
            self.outcomes["failed"] += 1
            self.failed_by_feed[delivery.feed_id] += 1
            return True
        if not await self._store.mark_sent(delivery.id, message_id, self._clock(),
                                           owner=self.owner, token=token):
            # Posted, but no longer ours to mark: another process sent it meanwhile.
            self.outcomes["lost_mark"] += 1
            self.outcomes["duplicate_deleted"] += await remove_late_copy(
                self._store, sender, delivery, message_id)
            return True
        self.sent_total += 1
        self.sent_by_feed[delivery.feed_id] += 1
        self.outcomes["sent"] += 1
        return True

    async def _attempt(self, delivery: Delivery, now: float, token: int | None) -> bool:
        """Note the attempt; with an owner, only if the row is still pending and ours to send
        under this very claim (a read may be stale: another process may have sent it since)."""
        if self.owner is None:
            await self._store.mark_attempt(delivery.id, now)
            return True
        return await self._store.start_attempt(delivery.id, self.owner,
                                               target_lease(delivery.target), now, token)

    async def _within(self, deadline: float, sender: Sender, delivery: Delivery) -> str | None:
        """Send (or edit) so that every request is over by ``deadline`` (monotonic)."""
        try:
            with fence.send_deadline(deadline):
                async with asyncio.timeout(deadline - time.monotonic()):
                    return await (sender.send(await self._fresh(delivery))
                                  if delivery.edit_of is None else self._edit(sender, delivery))
        except TimeoutError:
            raise RetryableDelivery("no answer before the target's claim ran out") from None

    async def _fresh(self, delivery: Delivery) -> Delivery:
        """A new post as its row is now that its attempt started: a correction may have
        rewritten it after the lane read it (issue 20). Nobody saw the old text, so the
        post carries no "updated" marker (an edit queued by a later correction adds it)."""
        alert = await self._store.delivery_alert(delivery.id)
        return delivery if alert is None else replace(delivery,
                                                      alert=replace(alert, updated=False))

    async def _edit(self, sender: Sender, delivery: Delivery) -> str | None:
        """A story edit: the edited message's id once it is posted (an edit waits for it);
        a thread post: the id of its message in the thread."""
        if delivery.edit_status == "pending":
            raise RetryableDelivery("the message to edit is not posted yet", retry_after=1.0)
        if delivery.edit_status != "sent":
            raise MessageGone("the message to edit was never posted")
        # New sources refresh the row until its attempt started (just now): the lane's copy
        # may predate them, so send the row as it is from here on.
        if delivery.in_thread:  # a further source, posted once into the story's thread
            return await sender.thread_post(delivery, delivery.edit_message_id)
        alert = await self._store.delivery_alert(delivery.id)
        # A newer revision may have gone out while this one waited for a retry: never step
        # the message back (issue 20). One lane per target orders the check and the PATCH.
        if await self._store.edit_superseded(delivery.id):
            raise EditSuperseded
        await sender.edit(delivery if alert is None else replace(delivery, alert=alert),
                          delivery.edit_message_id)
        if await self._store.edit_superseded(delivery.id):
            # A newer revision went out while this PATCH was on its way (this process was
            # paused past its claim): it may have stepped the message back; put back the
            # newest content sent (PATCH sets the whole state, so a repeat is harmless).
            newest = await self._store.shown_alert(delivery.edit_of or 0)
            if newest is not None:
                await sender.edit(replace(delivery, alert=newest), delivery.edit_message_id)
                self.outcomes["edit_restored"] += 1
        return delivery.edit_message_id

    async def _target_gone(self, delivery: Delivery, reason: str, token: int | None) -> None:
        await self._store.mark_failed(delivery.id, reason, self._clock(), owner=self.owner,
                                      token=token)
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
