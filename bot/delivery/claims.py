"""A lane's claim on its target (issue 20): the lease's fencing token, and this process's own
deadline for it.

The database says who holds a target; only this process's clock says how long *it* may still
count on its claim: from the moment the renewal that proved it started, for the claim's life.
A paused process (SIGSTOP, a VM migration, a long GC) wakes up with its deadline passed and
sends nothing, whatever it read before the pause. A send starts only with ``budget_s`` +
``margin_s`` of claim left (the claim is renewed first otherwise), and its whole HTTP
exchange ends ``margin_s`` before the claim does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from bot.store.base import Store

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class ClaimTimes:
    """How long a claim lives, and how much of it a send may use."""

    ttl_s: float = 30.0  # a target's claim; renewed while its lane sends
    # The whole HTTP deadline of one send (look-ups, rate-limit waits, the POST): the
    # sender's worst case (3 requests × 8 s plus waits) is cut here and retried later.
    budget_s: float = 20.0
    margin_s: float = 2.0  # a send ends this long before its claim does
    renew_s: float = 4.0  # a renewal not answered by then counts as failed

    def scaled(self, scale: float) -> ClaimTimes:
        """Every time multiplied by ``scale`` (``WIREWATCH_CLUSTER_TIME_SCALE``)."""
        return ClaimTimes(self.ttl_s * scale, self.budget_s * scale, self.margin_s * scale,
                          self.renew_s * scale)


@dataclass
class Claim:
    """One target's claim as this process knows it."""

    times: ClaimTimes = field(default_factory=ClaimTimes)
    claimed: float | None = None  # monotonic start of the renewal that last proved it
    token: int | None = None  # the lease's fencing token for this holding

    def left(self) -> float:
        """Seconds of claim left by this process's own clock (0 without a claim)."""
        if self.claimed is None:
            return 0.0
        return self.claimed + self.times.ttl_s - time.monotonic()

    def drop(self) -> None:
        """Count on this claim no more (lost, lapsed, or the process was forgotten)."""
        self.claimed = self.token = None

    def send_deadline(self) -> float:
        """When a send starting now must be over (``time.monotonic()``)."""
        budget = time.monotonic() + self.times.budget_s
        if self.claimed is None:
            return budget
        return min(budget, self.claimed + self.times.ttl_s - self.times.margin_s)

    async def ensure(self, store: Store, lease: str, owner: str) -> bool:
        """Hold ``lease`` with enough life left for a whole send, renewing it under its own
        deadline when less is left; False when another process holds it (or the renewal
        did not answer in time, or this process was forgotten)."""
        times = self.times
        if self.left() >= times.budget_s + times.margin_s:
            return True
        started = time.monotonic()
        try:
            token = await asyncio.wait_for(store.acquire_lease(lease, owner, times.ttl_s),
                                           times.renew_s)
        except TimeoutError:
            log.warning("outbox: %s was not renewed within %.1fs; its alerts wait", lease,
                        times.renew_s)
            token = None
        if token is None:
            self.drop()
            return False
        self.claimed, self.token = started, token
        return True
