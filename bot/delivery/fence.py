"""The deadline of the send in progress: a request that would start past it is not made.

The outbox sets it from its target claim (issue 20): a send's whole HTTP deadline ends before
the claim does, and a sender that was paused (SIGSTOP, a VM migration, a long GC) between its
look-ups and its POST finds the deadline passed and posts nothing, instead of posting an alert
another process may have taken over and sent meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("wirewatch_send_deadline", default=None)


@contextmanager
def send_deadline(at: float) -> Iterator[None]:
    """Requests made inside must start before ``at`` (``time.monotonic()``)."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def expired() -> bool:
    """True when the send in progress has run past its deadline (False outside a send)."""
    at = _deadline.get()
    return at is not None and time.monotonic() >= at
