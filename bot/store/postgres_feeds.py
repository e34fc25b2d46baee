"""PostgreSQL queries for feeds, subscriptions, the schedule and seen items."""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import StoreError
from bot.model import Entry
from bot.store.base import PlanDeliveries
from bot.store.codec import alert_to_json, entry_from_json, entry_to_json
from bot.store.mapping import feed_from_row
from bot.store.postgres_base import Connection, PostgresDatabase, pg_text
from bot.store.rows import DeliveryDraft, FeedRow, IngestResult, StoredItem, Subscription

_SELECT_FEEDS = """
    SELECT f.*,
    (SELECT s.name FROM subscriptions s WHERE s.feed_id = f.id
      ORDER BY s.guild_id, s.id LIMIT 1) AS sub_name,
    (SELECT MIN(s.interval_s) FROM subscriptions s WHERE s.feed_id = f.id) AS sub_interval
    FROM feeds f
"""



def _opt(value: str | None) -> str | None:
    return pg_text(value) if value is not None else None


class FeedQueries(PostgresDatabase):
    """Feeds, subscriptions, schedule and items."""

    async def _feed_id_for_url(self, conn: Connection, url: str, now: float) -> int:
        # Look first: INSERT … ON CONFLICT burns an identity value even when the row exists,
        # and sync_config re-subscribes every configured feed at each start.
        cursor = await conn.execute("SELECT id FROM feeds WHERE url = %s", (url,))
        row = await cursor.fetchone()
        if row is None:
            await conn.execute("INSERT INTO feeds (url, next_check, created_at)"
                               " VALUES (%s, %s, %s) ON CONFLICT (url) DO NOTHING",
                               (url, now, now))
            cursor = await conn.execute("SELECT id FROM feeds WHERE url = %s", (url,))
            row = await cursor.fetchone()
        if row is None:  # only if the row vanished between two statements of one transaction
            raise StoreError(f"feed {url!r} could not be created")
        return int(row["id"])

    async def _subscribe(self, conn: Connection, guild_id: int, url: str, name: str,
                         interval_s: float, source: str, now: float) -> None:
        url, name = pg_text(url), pg_text(name)
        feed_id = await self._feed_id_for_url(conn, url, now)
        # One subscription per feed and guild: a renamed (or URL-swapped) entry replaces the
        # old one instead of colliding with it. The feed row, and so its items, stay.
        await conn.execute("DELETE FROM subscriptions WHERE guild_id = %s AND feed_id = %s"
                           " AND name <> %s", (guild_id, feed_id, name))
        await conn.execute(
            "INSERT INTO subscriptions (guild_id, feed_id, name, interval_s, source, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (guild_id, name) DO UPDATE SET"
            " feed_id = excluded.feed_id, interval_s = excluded.interval_s,"
            " source = excluded.source",
            (guild_id, feed_id, name, interval_s, source, now))

    async def _drop_orphan_feeds(self, conn: Connection) -> None:
        await conn.execute("DELETE FROM feeds f WHERE NOT EXISTS"
                           " (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id)")

    async def subscribe(self, guild_id: int, url: str, name: str, interval_s: float,
                        now: float) -> Subscription:
        """Subscribe a guild to a feed URL under a name (the URL is fetched once for all)."""
        async with self.transaction() as conn:
            await self._subscribe(conn, guild_id, url, name, interval_s, "command", now)
            return (await self._subscriptions(conn, guild_id, pg_text(name)))[0]

    async def unsubscribe(self, guild_id: int, name: str) -> bool:
        """Remove a guild's subscription; the feed goes when nobody subscribes to it."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM subscriptions WHERE guild_id = %s AND name = %s",
                (guild_id, pg_text(name)))
            await self._drop_orphan_feeds(conn)
        return cursor.rowcount > 0

    async def subscriptions(self, guild_id: int | None = None) -> list[Subscription]:
        """Subscriptions with their feed's health, for one guild or all."""
        async with self.session() as conn:
            return await self._subscriptions(conn, guild_id, None)

    async def _subscriptions(self, conn: Connection, guild_id: int | None,
                             name: str | None) -> list[Subscription]:
        cursor = await conn.execute(
            "SELECT s.guild_id AS s_guild, s.name AS s_name, s.source AS s_source,"  # noqa: S608 - constant text only
            " s.interval_s AS s_interval, f.* FROM subscriptions s"
            " JOIN (" + _SELECT_FEEDS + ") f ON f.id = s.feed_id"
            " WHERE (%s::bigint IS NULL OR s.guild_id = %s)"
            " AND (%s::text IS NULL OR s.name = %s) ORDER BY s.guild_id, s.name",
            (guild_id, guild_id, name, name))
        return [Subscription(row["s_guild"], row["s_name"], row["s_source"], row["s_interval"],
                             feed_from_row(row)) for row in await cursor.fetchall()]

    async def claim_due_feeds(self, now: float, limit: int, lease_s: float,
                              due_before: float | None = None) -> list[FeedRow]:
        """Lease up to ``limit`` due feeds so no other tick (or process) polls them meanwhile.

        Paused feeds are due too, at their slow probe schedule: a success resumes them.
        SKIP LOCKED: a feed another process is claiming right now is passed over instead of
        waited for; once that claim commits, its lease keeps the feed out of ours.
        """
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE feeds SET lease_until = %s WHERE id IN (SELECT id FROM feeds"
                " WHERE next_check <= %s AND lease_until <= %s"
                " ORDER BY next_check LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
                (now + lease_s, now if due_before is None else due_before, now, limit))
            ids = [int(row["id"]) for row in await cursor.fetchall()]
            return await self._feeds(conn, ids)

    async def release_leases(self) -> None:
        """Forget leases of polls that a stopped or crashed process never finished.

        With several processes this may also free a feed another one is polling right now;
        that costs one duplicate fetch, never a duplicate alert (items and deliveries are
        unique), and only happens when a process starts.
        """
        async with self.transaction() as conn:
            await conn.execute("UPDATE feeds SET lease_until = 0 WHERE lease_until > 0")

    async def _feeds(self, conn: Connection, ids: Sequence[int]) -> list[FeedRow]:
        if not ids:
            return []
        cursor = await conn.execute(
            _SELECT_FEEDS + " WHERE f.id = ANY(%s) ORDER BY f.next_check, f.id", (list(ids),))
        return [feed_from_row(row) for row in await cursor.fetchall()]

    async def feed(self, feed_id: int) -> FeedRow | None:
        """One feed by id."""
        async with self.session() as conn:
            found = await self._feeds(conn, [feed_id])
        return found[0] if found else None

    async def record_unchanged(self, feed_id: int, now: float, next_check: float,
                               etag: str | None = None, last_modified: str | None = None,
                               body_hash: str | None = None) -> None:
        """A successful poll that found nothing new (304, same body, or only known items)."""
        async with self.session() as conn:
            await conn.execute(
                "UPDATE feeds SET error_count = 0, last_error = NULL, last_success = %s,"
                " last_polled = %s, next_check = %s, lease_until = 0, paused = FALSE,"
                " etag = COALESCE(%s, etag), last_modified = COALESCE(%s, last_modified),"
                " body_hash = COALESCE(%s, body_hash) WHERE id = %s",
                (now, now, next_check, _opt(etag), _opt(last_modified), _opt(body_hash),
                 feed_id))

    async def record_failure(self, feed_id: int, now: float, error: str,
                             next_check: float) -> int:
        """Record a failed poll; returns the consecutive error count."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "UPDATE feeds SET error_count = error_count + 1, last_error = %s,"
                " last_error_at = %s, last_polled = %s, next_check = %s, lease_until = 0"
                " WHERE id = %s RETURNING error_count",
                (pg_text(error[:500]), now, now, next_check, feed_id))
            row = await cursor.fetchone()
        return int(row["error_count"]) if row else 0

    async def pause_feed(self, feed_id: int, next_check: float) -> bool:
        """Pause a failing feed (probed at ``next_check``); True if it was running until now."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "UPDATE feeds SET paused = TRUE, next_check = %s, lease_until = 0"
                " WHERE id = %s AND NOT paused", (next_check, feed_id))
        return cursor.rowcount > 0

    async def resume_feed(self, guild_id: int, name: str, now: float) -> bool:
        """Resume a guild's paused feed and check it now; False if there is no such feed."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "UPDATE feeds SET paused = FALSE, error_count = 0, next_check = %s,"
                " lease_until = 0 WHERE id = (SELECT feed_id FROM subscriptions"
                " WHERE guild_id = %s AND name = %s)", (now, guild_id, pg_text(name)))
        return cursor.rowcount > 0

    async def known_keys(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` this feed has already recorded."""
        stored = {pg_text(key): key for key in keys}
        async with self.session() as conn:
            cursor = await conn.execute(
                "SELECT key FROM items WHERE feed_id = %s AND key = ANY(%b::text[])",
                (feed_id, list(stored)))
            return {stored[row["key"]] for row in await cursor.fetchall()}

    async def ingest(self, feed_id: int, entries: Sequence[Entry], *, now: float,
                     next_check: float, title: str | None, etag: str | None,
                     last_modified: str | None, body_hash: str | None,
                     plan: PlanDeliveries) -> IngestResult:
        """Record items and, for a primed feed, queue deliveries for the new ones: atomically.

        ``plan`` runs inside the transaction, so the items and their deliveries commit together
        or not at all (a crash in between can neither lose nor repeat an alert).
        """
        async with self.transaction() as conn:
            # FOR UPDATE: two ingests of one feed (a lease that ran out) take turns.
            cursor = await conn.execute("SELECT primed FROM feeds WHERE id = %s FOR UPDATE",
                                        (feed_id,))
            row = await cursor.fetchone()
            primed = bool(row and row["primed"])
            new_keys = await self._insert_items(conn, feed_id, entries, now)
            new_entries = [entry for entry in entries if pg_text(entry.key) in new_keys]
            drafts = list(plan(new_entries)) if primed and new_entries else []
            await self._insert_deliveries(conn, feed_id, drafts, now)
            await conn.execute(
                "UPDATE feeds SET primed = TRUE, error_count = 0, last_error = NULL,"
                " paused = FALSE, last_success = %s, last_polled = %s, next_check = %s,"
                " lease_until = 0,"
                " title = COALESCE(%s, title), etag = %s, last_modified = %s, body_hash = %s"
                " WHERE id = %s",
                (now, now, next_check, _opt(title), _opt(etag), _opt(last_modified),
                 _opt(body_hash), feed_id))
        return IngestResult(new_items=len(new_entries), deliveries=len(drafts))

    async def _insert_items(self, conn: Connection, feed_id: int,
                            entries: Sequence[Entry], now: float) -> set[str]:
        if not entries:
            return set()
        # One statement over parallel arrays: no bound-parameter limit, one round trip.
        # %b sends the arrays in binary: psycopg's text format escapes every element with a
        # regex, which made a 1000-item ingest 4x slower (JSON is full of quotes).
        cursor = await conn.execute(
            "INSERT INTO items (feed_id, key, title, link, published, first_seen, data)"
            " SELECT %s, u.key, u.title, u.link, u.published, %s, u.data FROM unnest("
            "%b::text[], %b::text[], %b::text[], %b::float8[], %b::text[])"
            " AS u (key, title, link, published, data)"
            " ON CONFLICT DO NOTHING RETURNING key",
            (feed_id, now,
             [pg_text(entry.key) for entry in entries],
             [pg_text(entry.title) for entry in entries],
             [pg_text(entry.link) for entry in entries],
             [entry.published.timestamp() if entry.published else None for entry in entries],
             [pg_text(entry_to_json(entry)) for entry in entries]))
        return {row["key"] for row in await cursor.fetchall()}

    async def _insert_deliveries(self, conn: Connection, feed_id: int,
                                 drafts: Sequence[DeliveryDraft], now: float) -> None:
        if not drafts:
            return
        await conn.execute(
            "INSERT INTO deliveries (watch_id, feed_id, item_key, nonce, payload,"
            " next_attempt, created_at) SELECT u.watch_id, %s, u.item_key, u.nonce, u.payload,"
            " %s, %s FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[])"
            " AS u (watch_id, item_key, nonce, payload) ON CONFLICT DO NOTHING",
            (feed_id, now, now,
             [draft.watch_id for draft in drafts],
             [pg_text(draft.item_key) for draft in drafts],
             [pg_text(draft.nonce) for draft in drafts],
             [pg_text(alert_to_json(draft.alert)) for draft in drafts]))

    async def recent_items(self, guild_id: int, since: float) -> list[StoredItem]:
        """Items first seen since ``since`` in the feeds a guild subscribes to, newest first."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "SELECT s.name, i.data, i.first_seen FROM items i JOIN subscriptions s"
                " ON s.feed_id = i.feed_id AND s.guild_id = %s WHERE i.first_seen >= %s"
                " ORDER BY i.first_seen DESC, i.published DESC NULLS LAST LIMIT 5000",
                (guild_id, since))
            rows = await cursor.fetchall()
        return [StoredItem(row["name"], entry_from_json(row["data"]), row["first_seen"])
                for row in rows]
