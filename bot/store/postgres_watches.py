"""PostgreSQL queries for watches and the delivery outbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.errors import StoreError
from bot.store.mapping import delivery_from_row, watch_from_row
from bot.store.postgres_base import Connection, PostgresDatabase, pg_text
from bot.store.rows import Delivery, NewWatch, OutboxCounts, WatchRow, visible_watches


def _watch(row: Mapping[str, Any]) -> WatchRow:
    return watch_from_row(row, row["feed_names"])


def _opt(value: str | None) -> str | None:
    return pg_text(value) if value is not None else None


# Each target (channel, webhook, console) sends in order and at most 5 per 5 s on Discord,
# so one pass needs only its head; more would let one backlog crowd out every other target.
PER_TARGET = 50


class WatchQueries(PostgresDatabase):
    """Watches and the outbox."""

    async def _upsert_watch(self, conn: Connection, watch: NewWatch, now: float) -> None:
        feed_names = ([pg_text(name) for name in watch.feed_names]
                      if watch.feed_names is not None else None)
        await conn.execute(
            "INSERT INTO watches (guild_id, name, query, channel_id, webhook_url, role_id,"
            " feed_names, color, collapse_after, source, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s::text[], %s, %s, %s, %s)"
            " ON CONFLICT (guild_id, name) DO UPDATE SET"
            " query = excluded.query, channel_id = excluded.channel_id,"
            " webhook_url = excluded.webhook_url, role_id = excluded.role_id,"
            " feed_names = excluded.feed_names, color = excluded.color,"
            " collapse_after = excluded.collapse_after, source = excluded.source,"
            # A restart after fixing a config watch's target ends an automatic pause.
            " paused = FALSE, paused_reason = NULL",
            (watch.guild_id, pg_text(watch.name), pg_text(watch.query), watch.channel_id,
             _opt(watch.webhook_url), watch.role_id, feed_names, watch.color,
             watch.collapse_after, watch.source, now))

    async def add_watch(self, watch: NewWatch, now: float) -> WatchRow:
        """Create or replace the guild's watch of that name."""
        async with self.transaction() as conn:
            await self._upsert_watch(conn, watch, now)
            cursor = await conn.execute(
                "SELECT * FROM watches WHERE guild_id = %s AND name = %s",
                (watch.guild_id, pg_text(watch.name)))
            row = await cursor.fetchone()
        if row is None:  # cannot happen: written in this very transaction
            raise StoreError(f"watch {watch.name!r} was not stored")
        return _watch(row)

    async def remove_watch(self, guild_id: int, name: str) -> bool:
        """Delete a watch (its pending deliveries go with it)."""
        async with self.session() as conn:
            cursor = await conn.execute("DELETE FROM watches WHERE guild_id = %s AND name = %s",
                                        (guild_id, pg_text(name)))
        return cursor.rowcount > 0

    async def set_watch_paused(self, guild_id: int, name: str, paused: bool,
                               reason: str | None = None) -> bool:
        """Pause or resume a watch; a paused watch matches nothing and sends nothing."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "UPDATE watches SET paused = %s, paused_reason = %s"
                " WHERE guild_id = %s AND name = %s",
                (paused, _opt(reason) if paused else None, guild_id, pg_text(name)))
        return cursor.rowcount > 0

    async def watches(self, guild_id: int | None = None) -> list[WatchRow]:
        """All watches, or one guild's, by name."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "SELECT * FROM watches WHERE (%s::bigint IS NULL OR guild_id = %s)"
                " ORDER BY guild_id, name", (guild_id, guild_id))
            return [_watch(row) for row in await cursor.fetchall()]

    async def watches_for_feed(self, feed_id: int) -> list[tuple[WatchRow, str]]:
        """Active watches that see this feed, each with the feed's name in the watch's guild.

        A guild's watches see its own feeds and the config file's (guild 0).
        """
        async with self.session() as conn:
            cursor = await conn.execute(
                "SELECT w.*, s.name AS feed_name FROM subscriptions s JOIN watches w"
                " ON (w.guild_id = s.guild_id OR s.guild_id = 0) WHERE s.feed_id = %s"
                " AND NOT w.paused ORDER BY w.id, s.guild_id = 0",
                (feed_id,))
            rows = await cursor.fetchall()
        return visible_watches((_watch(row), str(row["feed_name"])) for row in rows)

    async def pending_deliveries(self, limit: int) -> list[tuple[Delivery, float]]:
        """Pending deliveries of active watches in queue order, each with its next attempt time."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "SELECT * FROM (SELECT d.*, w.name AS watch_name, w.guild_id, w.channel_id,"
                " w.webhook_url, ROW_NUMBER() OVER (PARTITION BY COALESCE(w.channel_id::text,"
                " w.webhook_url, '') ORDER BY d.id) AS place"
                " FROM deliveries d JOIN watches w ON w.id = d.watch_id"
                " WHERE d.status = 'pending' AND NOT w.paused) AS queued"
                " WHERE place <= %s ORDER BY id LIMIT %s",
                (PER_TARGET, limit))
            rows = await cursor.fetchall()
        return [(delivery_from_row(row), float(row["next_attempt"])) for row in rows]

    async def mark_sent(self, delivery_id: int, message_id: str | None, now: float) -> None:
        """The alert is in Discord (or printed): never send it again."""
        async with self.session() as conn:
            await conn.execute(
                "UPDATE deliveries SET status = 'sent', message_id = %s, sent_at = %s,"
                " attempts = attempts + 1, first_attempt = COALESCE(first_attempt, %s)"
                " WHERE id = %s", (_opt(message_id), now, now, delivery_id))

    async def mark_attempt(self, delivery_id: int, now: float) -> None:
        """Note that a send is about to start (for the nonce window check after a crash)."""
        async with self.session() as conn:
            await conn.execute(
                "UPDATE deliveries SET first_attempt = COALESCE(first_attempt, %s)"
                " WHERE id = %s", (now, delivery_id))

    async def mark_retry(self, delivery_id: int, error: str, next_attempt: float,
                         now: float) -> None:
        """A transient failure: try again at ``next_attempt``."""
        async with self.session() as conn:
            await conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = %s,"
                " next_attempt = %s, first_attempt = COALESCE(first_attempt, %s)"
                " WHERE id = %s", (pg_text(error[:500]), next_attempt, now, delivery_id))

    async def mark_failed(self, delivery_id: int, error: str, now: float) -> None:
        """A permanent failure: keep the reason, never retry."""
        async with self.session() as conn:
            await conn.execute(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1,"
                " last_error = %s, first_attempt = COALESCE(first_attempt, %s)"
                " WHERE id = %s", (pg_text(error[:500]), now, delivery_id))

    async def prune_deliveries(self, before: float) -> int:
        """Forget sent and failed deliveries older than ``before``; pending ones always stay.

        Safe for dedupe: what is new is decided by the items table, not by deliveries.
        """
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM deliveries WHERE status IN ('sent', 'failed')"
                " AND COALESCE(sent_at, created_at) < %s", (before,))
            return cursor.rowcount

    async def outbox_counts(self, guild_id: int | None = None) -> OutboxCounts:
        """Pending, failed and sent deliveries, and when the last one was sent."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "SELECT COUNT(*) FILTER (WHERE d.status = 'pending') AS pending,"
                " COUNT(*) FILTER (WHERE d.status = 'failed') AS failed,"
                " COUNT(*) FILTER (WHERE d.status = 'sent') AS sent,"
                " MAX(d.sent_at) AS last_sent_at FROM deliveries d"
                " JOIN watches w ON w.id = d.watch_id"
                " WHERE (%s::bigint IS NULL OR w.guild_id = %s)", (guild_id, guild_id))
            row = await cursor.fetchone()
        if row is None:  # an aggregate always returns one row
            return OutboxCounts(0, 0, 0, None)
        return OutboxCounts(int(row["pending"]), int(row["failed"]), int(row["sent"]),
                            row["last_sent_at"])

    async def delivery_errors(self, guild_id: int, limit: int) -> list[tuple[str, str, str]]:
        """(watch name, status, last error) of a guild's failed or retrying deliveries, newest
        first: the reasons /status shows."""
        async with self.session() as conn:
            cursor = await conn.execute(
                "SELECT w.name, d.status, d.last_error FROM deliveries d"
                " JOIN watches w ON w.id = d.watch_id WHERE w.guild_id = %s"
                " AND d.status <> 'sent' AND d.last_error IS NOT NULL"
                " ORDER BY d.id DESC LIMIT %s", (guild_id, limit))
            rows = await cursor.fetchall()
        return [(str(row["name"]), str(row["status"]), str(row["last_error"])) for row in rows]
