"""What the outbox sends through and in: senders, lanes per target, target leases, backoff.

A ``Lane`` is one target's queue (a channel, a webhook or the console), drained by its own
task in ``bot.delivery.outbox``; ``target_lease`` names the database lease that lets one
process at a time send to that target.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.delivery.claims import Claim
from bot.delivery.duplicates import Copies
from bot.store.rows import Delivery

MAX_RETRY_DELAY_S = 300.0
_WEBHOOK_ID = re.compile(r"/webhooks/(\d+)/")


def target_lease(target: str) -> str:
    """The lease name of a target: a webhook by its id only (the URL holds its token)."""
    if target.startswith("webhook:"):
        found = _WEBHOOK_ID.search(target)
        return f"target:webhook:{found.group(1) if found else 'unknown'}"
    return f"target:{target}"


class Sender(Copies, Protocol):
    """Something that posts one delivery and returns its message id."""

    async def send(self, delivery: Delivery) -> str | None: ...

    async def edit(self, delivery: Delivery, message_id: str | None) -> None:
        """Set the message ``delivery`` edits to its alert (a story edit, issue 14)."""

    async def thread_post(self, delivery: Delivery, message_id: str | None) -> str | None:
        """Post the alert into the thread of the story message (issue 22)."""


class EditSuperseded(Exception):
    """An edit older than what its message shows already: done without sending it."""


TargetGoneHook = Callable[[Delivery, str], Awaitable[None]]


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """The server's ``retry_after`` when it gave one, else exponential backoff; with jitter."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_DELAY_S) * rng.uniform(1.0, 1.1)
    return min(0.5 * 2.0 ** attempts, MAX_RETRY_DELAY_S) * rng.uniform(0.5, 1.0)


@dataclass(eq=False)
class Lane:
    """One target's queue (a channel, a webhook or the console), drained by its own task.

    A lane is claimed when it starts, drains its queue in order and is released when the queue
    is empty or its head must wait (a retry, a gone target, shutdown). Rows it did not finish
    stay pending in the store and come back with a later read.
    """

    target: str
    queue: deque[tuple[Delivery, float]] = field(default_factory=deque)
    ids: set[int] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    claim: Claim = field(default_factory=Claim)  # the target's claim (several processes)

    def add(self, delivery: Delivery, next_attempt: float) -> None:
        """Queue one more row behind the ones already queued."""
        self.queue.append((delivery, next_attempt))
        self.ids.add(delivery.id)
