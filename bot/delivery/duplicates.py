"""Reconcile what could not be prevented (issue 20): the late copy of an alert.

A sender paused between its claim check and its POST (SIGSTOP, a VM migration, a long GC)
can wake after its claim ran out and another process sent the same alert. Discord dedupes a
channel message's nonce only for a few minutes, a webhook's never. The late sender learns it
when it cannot mark the row sent; it then deletes the copy the database does not record.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.core import metrics
from bot.core.errors import DeliveryError, StoreError
from bot.store.rows import Delivery

log = logging.getLogger(__name__)


class Copies(Protocol):
    """A sender that can delete the extra copies of a delivery's message."""

    async def remove_duplicates(self, delivery: Delivery, posted: str | None,
                                keep: str | None) -> int:
        """Delete copies of ``delivery``'s message but ``keep``; how many went."""


class SentMessages(Protocol):
    """The store's record of which message a sent delivery is."""

    async def sent_message(self, delivery_id: int) -> str | None: ...


async def remove_late_copy(store: SentMessages, sender: Copies, delivery: Delivery,
                           posted: str | None) -> int:
    """``posted`` went out after another process sent ``delivery``: delete every copy but the
    recorded one (later edits go to it); returns how many were deleted (also a metric)."""
    context = {"watch": delivery.watch_name, "guild": delivery.guild_id}
    log.warning("watch %r: delivery %d was sent by another process meanwhile; looking for a "
                "duplicate", delivery.watch_name, delivery.id, extra=context)
    if delivery.edit_of is not None or posted is None:
        return 0  # an edit sets the whole state: a repeat doubles nothing
    try:
        keep = await store.sent_message(delivery.id)
        deleted = await sender.remove_duplicates(delivery, posted, keep)
    except (DeliveryError, StoreError) as exc:
        log.warning("watch %r: duplicates of delivery %d not checked: %s",
                    delivery.watch_name, delivery.id, exc, extra=context)
        return 0
    if deleted:
        metrics.count_duplicates_deleted(deleted)
        log.warning("watch %r: deleted %d duplicate(s) of delivery %d", delivery.watch_name,
                    deleted, delivery.id, extra=context)
    return deleted
