"""The delivery outbox: queued alerts, their attempts, and what became of them."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Select, Text, case, cast, delete, func, select, update

from bot.core.model import Alert
from bot.store.codec import alert_from_json
from bot.store.database import Database
from bot.store.dialect import db_now
from bot.store.mapping import delivery_from_row
from bot.store.rows import Delivery, OutboxCounts
from bot.store.schema import deliveries, leases, watches
from bot.store.stories import edit_done, edit_sent
from bot.store.watches import ACTIVE

# Each target (channel, webhook, console) sends in order and at most 5 per 5 s on Discord,
# so one pass needs only its head; more would let one backlog crowd out every other target.
PER_TARGET = 50

_target = func.coalesce(cast(watches.c.channel_id, Text), watches.c.webhook_url, "")
# An edit (issue 14) carries what it needs of the message it edits: its id, status, nonce.
_original = deliveries.alias("original")
_queued = (select(deliveries, watches.c.name.label("watch_name"), watches.c.guild_id,
                  watches.c.channel_id, watches.c.webhook_url, watches.c.follow_role_id,
                  _original.c.message_id.label("edit_message_id"),
                  _original.c.status.label("edit_status"),
                  _original.c.nonce.label("edit_nonce"),
                  func.row_number().over(partition_by=_target, order_by=deliveries.c.id)
                  .label("place"))
           .join_from(deliveries, watches, watches.c.id == deliveries.c.watch_id)
           .outerjoin(_original, _original.c.id == deliveries.c.edit_of)
           .where(deliveries.c.status == "pending", ACTIVE)
           .subquery("queued"))


def _update(delivery_id: int, owner: str | None = None, token: int | None = None,
            **values: Any) -> Any:
    # Guarded: only a pending row changes (a sent row never takes a failure), with an owner
    # only the row that owner is sending, and with a token only under the target claim the
    # attempt started with: a sender that paused while another took the row over and
    # started its own attempt (a newer token) changes nothing.
    guard = update(deliveries).where(deliveries.c.id == delivery_id,
                                     deliveries.c.status == "pending")
    if owner is not None:
        guard = guard.where(deliveries.c.claimed_by == owner)
    if token is not None:
        guard = guard.where(deliveries.c.claim_token == token)
    return guard.values(**values)


def _first_attempt(now: float) -> Any:
    return func.coalesce(deliveries.c.first_attempt, now)


class Outbox(Database):
    """Queued deliveries and their fate."""

    async def pending_deliveries(self, limit: int) -> list[tuple[Delivery, float]]:
        """Pending deliveries of active watches in queue order (at most PER_TARGET of each
        target), each with its next attempt time."""
        query = (select(_queued).where(_queued.c.place <= PER_TARGET)
                 .order_by(_queued.c.id).limit(limit))
        rows = await self.read(lambda conn: conn.execute(
            query, {"p_now": time.time()}).mappings().all())
        return [(delivery_from_row(row), float(row["next_attempt"])) for row in rows]

    async def _execute(self, statement: Any) -> int:
        return await self.write(lambda conn: int(conn.execute(statement).rowcount))

    async def mark_attempt(self, delivery_id: int, now: float) -> None:
        """Note that a send is about to start (for the nonce window check after a crash)."""
        await self._execute(_update(delivery_id, first_attempt=_first_attempt(now)))

    async def start_attempt(self, delivery_id: int, owner: str, lease: str, now: float,
                            token: int | None = None) -> bool:
        """Take a pending delivery for sending, if ``owner`` holds its target's ``lease``
        (with fencing ``token``, when given: the same holding, not a later one).

        False when it is no longer pending (another process sent it meanwhile) or the lease
        was lost: the caller must not send it. Read fresh, under the row lock of the update.
        The token is recorded on the row; the marks that follow name it.
        """
        def query(conn: Connection) -> bool:
            held = select(leases.c.name).where(leases.c.name == lease, leases.c.owner == owner,
                                               leases.c.expires_at > db_now(conn))
            if token is not None:
                held = held.where(leases.c.token == token)
            return conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, deliveries.c.status == "pending",
                       held.exists())
                .values(claimed_by=owner, claim_token=token,
                        first_attempt=_first_attempt(now))).rowcount > 0
        return await self.write(query)

    async def delivery_alert(self, delivery_id: int) -> Alert | None:
        """The alert a delivery holds now (None if it is gone).

        A pending story edit is refreshed with new sources, and a pending post rewritten by a
        correction, until its first attempt; a sender that read it earlier reads it again
        once its attempt has started.
        """
        payload = await self.read(lambda conn: conn.execute(
            select(deliveries.c.payload).where(deliveries.c.id == delivery_id)).scalar())
        return None if payload is None else alert_from_json(payload)

    async def edit_superseded(self, delivery_id: int) -> bool:
        """Whether an edit is older than what its message shows already (issue 20): a newer
        revision was sent while this one waited (a retry), so sending it would step back."""
        edit = deliveries.alias("edit")
        query = (select(edit.c.revision, deliveries.c.shown_revision)
                 .join_from(edit, deliveries, deliveries.c.id == edit.c.edit_of)
                 .where(edit.c.id == delivery_id))
        row = await self.read(lambda conn: conn.execute(query).first())
        return row is not None and 0 < row.revision <= row.shown_revision

    async def mark_sent(self, delivery_id: int, message_id: str | None, now: float, *,
                        owner: str | None = None, token: int | None = None) -> bool:
        """The alert is in Discord (or printed): never send it again.

        False when the row was not this sender's to mark (another process sent it, or it is
        no longer pending): whatever this sender just posted may be a duplicate.
        """
        def write(conn: Connection) -> bool:
            marked = conn.execute(_update(
                delivery_id, owner, token, status="sent", message_id=message_id, sent_at=now,
                attempts=deliveries.c.attempts + 1, first_attempt=_first_attempt(now)))
            if marked.rowcount:  # not a stale sender's: the row is its to mark
                edit_sent(conn, delivery_id, now)  # nothing for a new message or thread post
            return bool(marked.rowcount)
        return await self.write(write)

    async def shown_alert(self, original_id: int) -> Alert | None:
        """What the message ``original_id`` posted shows now: the sent edit of its highest
        revision (None when no edit of it was sent)."""
        edit = deliveries.alias("edit")
        query = (select(edit.c.payload)
                 .join_from(edit, deliveries, deliveries.c.id == edit.c.edit_of)
                 .where(deliveries.c.id == original_id, edit.c.status == "sent",
                        edit.c.revision == deliveries.c.shown_revision,
                        edit.c.revision > 0, edit.c.message_id.is_not(None)))
        payload = await self.read(lambda conn: conn.execute(query).scalar())
        return None if payload is None else alert_from_json(payload)

    async def mark_superseded(self, delivery_id: int, now: float, *,
                              owner: str | None = None) -> None:
        """An edit older than its message's content is done without being sent."""
        def write(conn: Connection) -> None:
            marked = conn.execute(_update(
                delivery_id, owner, status="sent", sent_at=now,
                last_error="superseded by a newer edit", first_attempt=_first_attempt(now)))
            if marked.rowcount:
                edit_done(conn, delivery_id)
        await self.write(write)

    async def sent_message(self, delivery_id: int) -> str | None:
        """The message id recorded for a sent delivery (None if none is recorded)."""
        return await self.read(lambda conn: conn.execute(
            select(deliveries.c.message_id).where(deliveries.c.id == delivery_id,
                                                   deliveries.c.status == "sent")).scalar())

    async def mark_retry(self, delivery_id: int, error: str, next_attempt: float,
                         now: float, *, owner: str | None = None,
                         token: int | None = None) -> None:
        """A transient failure: try again at ``next_attempt``."""
        await self._execute(_update(
            delivery_id, owner, token, attempts=deliveries.c.attempts + 1, last_error=error[:500],
            next_attempt=next_attempt, first_attempt=_first_attempt(now)))

    async def mark_failed(self, delivery_id: int, error: str, now: float, *,
                          owner: str | None = None, token: int | None = None) -> None:
        """A permanent failure: keep the reason, never retry."""
        await self._execute(_update(
            delivery_id, owner, token, status="failed", attempts=deliveries.c.attempts + 1,
            last_error=error[:500], first_attempt=_first_attempt(now)))

    async def prune_deliveries(self, before: float) -> int:
        """Forget sent and failed deliveries older than ``before``; pending ones always stay.

        Safe for dedupe: what is new is decided by the items table, not by deliveries.
        """
        return await self._execute(delete(deliveries).where(
            deliveries.c.status.in_(["sent", "failed"]),
            func.coalesce(deliveries.c.sent_at, deliveries.c.created_at) < before))

    async def outbox_counts(self, guild_id: int | None = None) -> OutboxCounts:
        """Pending, failed and sent deliveries, and when the last one was sent."""
        def count(status: str) -> Any:
            return func.coalesce(func.sum(case((deliveries.c.status == status, 1), else_=0)), 0)

        query: Select[Any] = select(count("pending"), count("failed"), count("sent"),
                                    func.max(deliveries.c.sent_at)).join_from(
            deliveries, watches, watches.c.id == deliveries.c.watch_id)
        if guild_id is not None:
            query = query.where(watches.c.guild_id == guild_id)

        def read(conn: Connection) -> OutboxCounts:
            pending, failed, sent, last = conn.execute(query).one()
            return OutboxCounts(int(pending), int(failed), int(sent), last)
        return await self.read(read)

    async def delivery_errors(self, guild_id: int, limit: int) -> list[tuple[str, str, str]]:
        """(watch name, status, last error) of a guild's failed or retrying deliveries, newest
        first: the reasons /status shows."""
        query = (select(watches.c.name, deliveries.c.status, deliveries.c.last_error)
                 .join_from(deliveries, watches, watches.c.id == deliveries.c.watch_id)
                 .where(watches.c.guild_id == guild_id, deliveries.c.status != "sent",
                        deliveries.c.last_error.is_not(None))
                 .order_by(deliveries.c.id.desc()).limit(limit))
        rows = await self.read(lambda conn: conn.execute(query).all())
        return [(str(name), str(status), str(error)) for name, status, error in rows]
