"""SQLite queries for watches and the delivery outbox."""

from __future__ import annotations

import json
import sqlite3

from bot.store.mapping import delivery_from_row, watch_from_row
from bot.store.rows import Delivery, NewWatch, OutboxCounts, WatchRow, visible_watches
from bot.store.sqlite_base import SqliteDatabase, in_db_thread


def _watch(row: sqlite3.Row) -> WatchRow:
    return watch_from_row(row, json.loads(row["feed_names"]) if row["feed_names"] else None)


# Each target (channel, webhook, console) sends in order and at most 5 per 5 s on Discord,
# so one pass needs only its head; more would let one backlog crowd out every other target.
PER_TARGET = 50


class WatchQueries(SqliteDatabase):
    """Watches and the outbox."""

    def _upsert_watch(self, conn: sqlite3.Connection, watch: NewWatch, now: float) -> None:
        feed_names = json.dumps(list(watch.feed_names)) if watch.feed_names is not None else None
        conn.execute(
            "INSERT INTO watches (guild_id, name, query, channel_id, webhook_url, role_id,"
            " feed_names, color, collapse_after, source, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, name) DO UPDATE SET"
            " query = excluded.query, channel_id = excluded.channel_id,"
            " webhook_url = excluded.webhook_url, role_id = excluded.role_id,"
            " feed_names = excluded.feed_names, color = excluded.color,"
            " collapse_after = excluded.collapse_after, source = excluded.source,"
            # A restart after fixing a config watch's target ends an automatic pause.
            " paused = 0, paused_reason = NULL",
            (watch.guild_id, watch.name, watch.query, watch.channel_id, watch.webhook_url,
             watch.role_id, feed_names, watch.color, watch.collapse_after, watch.source, now))

    @in_db_thread
    def add_watch(self, watch: NewWatch, now: float) -> WatchRow:
        """Create or replace the guild's watch of that name."""
        with self.transaction() as conn:
            self._upsert_watch(conn, watch, now)
        row = self.conn.execute("SELECT * FROM watches WHERE guild_id = ? AND name = ?",
                                (watch.guild_id, watch.name)).fetchone()
        return _watch(row)

    @in_db_thread
    def remove_watch(self, guild_id: int, name: str) -> bool:
        """Delete a watch (its pending deliveries go with it)."""
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM watches WHERE guild_id = ? AND name = ?",
                                  (guild_id, name))
        return cursor.rowcount > 0

    @in_db_thread
    def set_watch_paused(self, guild_id: int, name: str, paused: bool,
                         reason: str | None = None) -> bool:
        """Pause or resume a watch; a paused watch matches nothing and sends nothing."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE watches SET paused = ?, paused_reason = ? WHERE guild_id = ? AND name = ?",
                (int(paused), reason if paused else None, guild_id, name))
        return cursor.rowcount > 0

    @in_db_thread
    def watches(self, guild_id: int | None = None) -> list[WatchRow]:
        """All watches, or one guild's, by name."""
        rows = self.conn.execute(
            "SELECT * FROM watches WHERE (? IS NULL OR guild_id = ?) ORDER BY guild_id, name",
            (guild_id, guild_id)).fetchall()
        return [_watch(row) for row in rows]

    @in_db_thread
    def watches_for_feed(self, feed_id: int) -> list[tuple[WatchRow, str]]:
        """Active watches that see this feed, each with the feed's name in the watch's guild.

        A guild's watches see its own feeds and the config file's (guild 0).
        """
        rows = self.conn.execute(
            "SELECT w.*, s.name AS feed_name FROM subscriptions s JOIN watches w"
            " ON (w.guild_id = s.guild_id OR s.guild_id = 0) WHERE s.feed_id = ?"
            " AND w.paused = 0 ORDER BY w.id, s.guild_id = 0",
            (feed_id,)).fetchall()
        return visible_watches((_watch(row), str(row["feed_name"])) for row in rows)

    @in_db_thread
    def pending_deliveries(self, limit: int) -> list[tuple[Delivery, float]]:
        """Pending deliveries of active watches in queue order (at most PER_TARGET of each
        target), each with its next attempt time."""
        rows = self.conn.execute(
            "SELECT * FROM (SELECT d.*, w.name AS watch_name, w.guild_id, w.channel_id,"
            " w.webhook_url, ROW_NUMBER() OVER (PARTITION BY COALESCE(CAST(w.channel_id AS"
            " TEXT), w.webhook_url, '') ORDER BY d.id) AS place"
            " FROM deliveries d JOIN watches w ON w.id = d.watch_id"
            " WHERE d.status = 'pending' AND w.paused = 0)"
            " WHERE place <= ? ORDER BY id LIMIT ?",
            (PER_TARGET, limit)).fetchall()
        return [(delivery_from_row(row), float(row["next_attempt"])) for row in rows]

    @in_db_thread
    def mark_sent(self, delivery_id: int, message_id: str | None, now: float) -> None:
        """The alert is in Discord (or printed): never send it again."""
        with self.transaction() as conn:
            conn.execute("UPDATE deliveries SET status = 'sent', message_id = ?, sent_at = ?,"
                         " attempts = attempts + 1, first_attempt = COALESCE(first_attempt, ?)"
                         " WHERE id = ?", (message_id, now, now, delivery_id))

    @in_db_thread
    def mark_attempt(self, delivery_id: int, now: float) -> None:
        """Note that a send is about to start (for the nonce window check after a crash)."""
        with self.transaction() as conn:
            conn.execute("UPDATE deliveries SET first_attempt = COALESCE(first_attempt, ?)"
                         " WHERE id = ?", (now, delivery_id))

    @in_db_thread
    def mark_retry(self, delivery_id: int, error: str, next_attempt: float, now: float) -> None:
        """A transient failure: try again at ``next_attempt``."""
        with self.transaction() as conn:
            conn.execute("UPDATE deliveries SET attempts = attempts + 1, last_error = ?,"
                         " next_attempt = ?, first_attempt = COALESCE(first_attempt, ?)"
                         " WHERE id = ?", (error[:500], next_attempt, now, delivery_id))

    @in_db_thread
    def mark_failed(self, delivery_id: int, error: str, now: float) -> None:
        """A permanent failure: keep the reason, never retry."""
        with self.transaction() as conn:
            conn.execute("UPDATE deliveries SET status = 'failed', attempts = attempts + 1,"
                         " last_error = ?, first_attempt = COALESCE(first_attempt, ?)"
                         " WHERE id = ?", (error[:500], now, delivery_id))

    @in_db_thread
    def prune_deliveries(self, before: float) -> int:
        """Forget sent and failed deliveries older than ``before``; pending ones always stay.

        Safe for dedupe: what is new is decided by the items table, not by deliveries.
        """
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM deliveries WHERE status IN ('sent', 'failed')"
                " AND COALESCE(sent_at, created_at) < ?", (before,))
        return cursor.rowcount

    @in_db_thread
    def outbox_counts(self, guild_id: int | None = None) -> OutboxCounts:
        """Pending, failed and sent deliveries, and when the last one was sent."""
        row = self.conn.execute(
            "SELECT SUM(d.status = 'pending'), SUM(d.status = 'failed'),"
            " SUM(d.status = 'sent'), MAX(d.sent_at) FROM deliveries d"
            " JOIN watches w ON w.id = d.watch_id WHERE (? IS NULL OR w.guild_id = ?)",
            (guild_id, guild_id)).fetchone()
        return OutboxCounts(row[0] or 0, row[1] or 0, row[2] or 0, row[3])

    @in_db_thread
    def delivery_errors(self, guild_id: int, limit: int) -> list[tuple[str, str, str]]:
        """(watch name, status, last error) of a guild's failed or retrying deliveries, newest
        first: the reasons /status shows."""
        rows = self.conn.execute(
            "SELECT w.name, d.status, d.last_error FROM deliveries d"
            " JOIN watches w ON w.id = d.watch_id WHERE w.guild_id = ?"
            " AND d.status != 'sent' AND d.last_error IS NOT NULL ORDER BY d.id DESC LIMIT ?",
            (guild_id, limit)).fetchall()
        return [(str(row[0]), str(row[1]), str(row[2])) for row in rows]
