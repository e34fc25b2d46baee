"""Digests: matches held for a watch's digest period, and the digest made once per period.

Ingest calls ``hold_in`` inside its transaction: drafts with ``hold_until`` become
``held_matches`` rows instead of deliveries (a draft whose digest was already made, because
its poll read the clock just before the boundary, goes out now instead: late, never lost).
At the boundary ``make_digest`` claims (watch, period) by the unique key of ``digests`` and
queues the rendered parts as ordinary deliveries in the same transaction, so the digest is
made exactly once, however many processes and restarts race for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, tuple_, update

from bot.store.base import RenderDigest
from bot.store.codec import alert_from_json, alert_to_json
from bot.store.database import Database
from bot.store.dialect import upsert
from bot.store.mapping import watch_from_row
from bot.store.rows import DeliveryDraft
from bot.store.schema import deliveries, digests, held_matches, watches

DIGEST_FEED_ID = 0  # deliveries of a digest belong to no single feed


def hold_in(conn: Connection, feed_id: int, now: float,
            drafts: Sequence[DeliveryDraft]) -> list[DeliveryDraft]:
    """Record the drafts to hold; return those to queue now (instant ones, and late ones)."""
    held = [draft for draft in drafts if draft.hold_until is not None]
    if not held:
        return list(drafts)
    periods = {(draft.watch_id, draft.hold_until) for draft in held}
    made = set(conn.execute(select(digests.c.watch_id, digests.c.period_end).where(
        tuple_(digests.c.watch_id, digests.c.period_end).in_(list(periods)))).tuples())
    keep = [draft for draft in held if (draft.watch_id, draft.hold_until) not in made]
    if keep:
        conn.execute(upsert(conn, held_matches).on_conflict_do_nothing(), [
            {"watch_id": draft.watch_id, "feed_id": feed_id, "item_key": draft.item_key,
             "nonce": draft.nonce, "payload": alert_to_json(draft.alert),
             "hold_until": draft.hold_until, "created_at": now} for draft in keep])
    return [draft for draft in drafts if draft.hold_until is None
            or (draft.watch_id, draft.hold_until) in made]


def _queue(conn: Connection, now: float, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(upsert(conn, deliveries).on_conflict_do_nothing(),
                     [{**row, "next_attempt": now, "created_at": now} for row in rows])


class Digests(Database):
    """Held matches and the digests made of them."""

    async def due_digests(self, before: float) -> list[tuple[int, float]]:
        """(watch id, period end) of every period ended by ``before`` with matches still held."""
        query = (select(held_matches.c.watch_id, held_matches.c.hold_until)
                 .where(held_matches.c.digest_id.is_(None),
                        held_matches.c.hold_until <= before)
                 .distinct().order_by(held_matches.c.hold_until, held_matches.c.watch_id))
        rows = await self.read(lambda conn: conn.execute(query).all())
        return [(int(watch_id), float(end)) for watch_id, end in rows]

    async def make_digest(self, watch_id: int, period_end: float, now: float,
                          render: RenderDigest) -> int:
        """Make the digest of (watch, period) once; returns how many deliveries it queued.

        Read, render on a worker thread, then one transaction claims the period and queues
        the parts; 0 when another process (or an earlier run) already made it. Matches held
        for a period whose digest exists (a straggling ingest) are queued as plain alerts.
        """
        def look(conn: Connection) -> tuple[Any, Any, list[Any]]:
            watch = conn.execute(select(watches).where(watches.c.id == watch_id)).mappings().first()
            taken = conn.execute(select(digests.c.id).where(
                digests.c.watch_id == watch_id, digests.c.period_end == period_end)).scalar()
            held = conn.execute(select(held_matches).where(
                held_matches.c.watch_id == watch_id, held_matches.c.hold_until == period_end,
                held_matches.c.digest_id.is_(None)).order_by(held_matches.c.id)).mappings().all()
            return watch, taken, list(held)

        watch_row, taken, held = await self.read(look)
        if watch_row is None or not held:
            return 0
        ids = [row["id"] for row in held]
        if taken is not None:
            return await self.write(lambda conn: self._stragglers(conn, taken, held, now))
        watch = watch_from_row(watch_row, watch_row["feed_names"])
        alerts = [alert_from_json(row["payload"]) for row in held]
        drafts = await asyncio.to_thread(render, watch, period_end, alerts)

        def claim(conn: Connection) -> int:
            digest_id = conn.execute(upsert(conn, digests).on_conflict_do_nothing().values(
                watch_id=watch_id, period_end=period_end, matches=len(held), created_at=now)
                .returning(digests.c.id)).scalar()
            if digest_id is None:  # another process made it first
                return 0
            _queue(conn, now, [{"watch_id": watch_id, "feed_id": DIGEST_FEED_ID,
                                "item_key": draft.item_key, "nonce": draft.nonce,
                                "payload": alert_to_json(draft.alert)} for draft in drafts])
            conn.execute(update(held_matches).where(held_matches.c.id.in_(ids))
                         .values(digest_id=digest_id))
            return len(drafts)
        return await self.write(claim)

    async def prune_digests(self, before: float) -> int:
        """Forget digests made before ``before`` and the matches they took; held ones stay.

        Safe for exactly-once: no poll can still hold a match for a period that old.
        """
        def prune(conn: Connection) -> int:
            old = select(digests.c.id).where(digests.c.created_at < before)
            conn.execute(delete(held_matches).where(held_matches.c.digest_id.in_(old)))
            return int(conn.execute(delete(digests).where(digests.c.created_at < before))
                       .rowcount)
        return await self.write(prune)

    @staticmethod
    def _stragglers(conn: Connection, digest_id: int, held: list[Any], now: float) -> int:
        # Queue exactly the rows this transaction marked: another process, whose read was
        # older or newer, may have taken some of them (and only some) meanwhile.
        marked = set(conn.execute(update(held_matches).where(
            held_matches.c.id.in_([row["id"] for row in held]),
            held_matches.c.digest_id.is_(None))
            .values(digest_id=digest_id).returning(held_matches.c.id)).scalars())
        mine = [row for row in held if row["id"] in marked]
        _queue(conn, now, [{"watch_id": row["watch_id"], "feed_id": row["feed_id"],
                            "item_key": row["item_key"], "nonce": row["nonce"],
                            "payload": row["payload"]} for row in mine])
        return len(mine)
