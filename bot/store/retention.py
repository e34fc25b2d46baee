"""Item retention: bodies go after days, identity keys after months, current keys never.

``items`` holds one row per item ever seen: the key that stops a second alert, and the entry's
JSON (``data``, soon with the article text) for ``/watch test``. Without pruning both grow
forever. The daily job (``bot.service.jobs``) empties ``data`` past the body retention and deletes
rows past the key retention, except the keys of each feed's latest ingested body
(``feeds.latest_keys``): an item a feed still lists must stay known, or it would be alerted
again. A feed not ingested since the upgrade has no ``latest_keys`` yet and keeps every key.
An item's decision trail (``item_trail``, issue 21) goes with its key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, and_, delete, exists, select, update

from bot.store.database import Database
from bot.store.dialect import patient, stored_text
from bot.store.rows import PruneResult
from bot.store.schema import feeds, item_trail, items

_FEEDS_PER_WRITE = 50  # short write transactions: polls keep ingesting while this runs


class Retention(Database):
    """The daily prune of the items table."""

    async def prune_items(self, keys_before: float, bodies_before: float) -> PruneResult:
        """Drop bodies first seen before ``bodies_before`` and keys first seen before
        ``keys_before``, keeping every key still in its feed's latest body."""
        def drop_bodies(conn: Connection) -> int:
            patient(conn, lock_s=30.0, statement_s=600.0)  # one statement over the table
            return int(conn.execute(
                update(items).where(items.c.first_seen < bodies_before, items.c.data != "")
                .values(data="", vector=None)).rowcount)

        bodies = await self.write(drop_bodies)
        old = (select(feeds.c.id, feeds.c.latest_keys)
               .where(feeds.c.latest_keys.is_not(None),
                      exists().where(items.c.feed_id == feeds.c.id,
                                     items.c.first_seen < keys_before))
               .order_by(feeds.c.id))
        candidates = await self.read(lambda conn: conn.execute(old).all())
        keys = 0
        for start in range(0, len(candidates), _FEEDS_PER_WRITE):
            batch = [(int(feed_id), list(latest))
                     for feed_id, latest in candidates[start:start + _FEEDS_PER_WRITE]]
            keys += await self.write(_pruner(batch, keys_before))
        return PruneResult(keys=keys, bodies=bodies)


def _pruner(batch: list[tuple[int, list[str]]], keys_before: float
            ) -> Callable[[Connection], int]:
    def prune(conn: Connection) -> int:
        return sum(_prune_feed(conn, feed_id, latest, keys_before) for feed_id, latest in batch)
    return prune


def _prune_feed(conn: Connection, feed_id: int, latest: Sequence[str],
                keys_before: float) -> int:
    statement = delete(items).where(items.c.feed_id == feed_id,
                                    items.c.first_seen < keys_before)
    keep = [stored_text(conn, key) for key in latest]
    if keep:
        statement = statement.where(items.c.key.not_in(keep))
    removed = int(conn.execute(statement).rowcount)
    if removed:  # the decision trail follows its items (issue 21)
        conn.execute(delete(item_trail).where(
            item_trail.c.feed_id == feed_id, ~exists().where(and_(
                items.c.feed_id == item_trail.c.feed_id, items.c.key == item_trail.c.item_key))))
    return removed
