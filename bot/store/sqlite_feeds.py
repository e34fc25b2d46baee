"""SQLite queries for feeds, subscriptions, the schedule and seen items."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from bot.model import Entry
from bot.store.base import PlanDeliveries
from bot.store.codec import alert_to_json, entry_from_json, entry_to_json
from bot.store.mapping import feed_from_row
from bot.store.rows import FeedRow, IngestResult, StoredItem, Subscription
from bot.store.sqlite_base import SqliteDatabase, in_db_thread

_FEED_COLUMNS = """
    f.*,
    (SELECT s.name FROM subscriptions s WHERE s.feed_id = f.id
      ORDER BY s.guild_id, s.id LIMIT 1) AS sub_name,
    (SELECT MIN(s.interval_s) FROM subscriptions s WHERE s.feed_id = f.id) AS sub_interval
"""
_ROWS_PER_INSERT = 400  # stays far below SQLite's bound-variable limit



class FeedQueries(SqliteDatabase):
    """Feeds, subscriptions, schedule and items."""

    def _feed_id_for_url(self, conn: sqlite3.Connection, url: str, now: float) -> int:
        conn.execute("INSERT INTO feeds (url, next_check, created_at) VALUES (?, ?, ?)"
                     " ON CONFLICT (url) DO NOTHING", (url, now, now))
        row = conn.execute("SELECT id FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(row[0])

    def _subscribe(self, conn: sqlite3.Connection, guild_id: int, url: str, name: str,
                   interval_s: float, source: str, now: float) -> None:
        feed_id = self._feed_id_for_url(conn, url, now)
        # One subscription per feed and guild: a renamed (or URL-swapped) entry replaces the
        # old one instead of colliding with it. The feed row, and so its items, stay.
        conn.execute("DELETE FROM subscriptions WHERE guild_id = ? AND feed_id = ? AND name <> ?",
                     (guild_id, feed_id, name))
        conn.execute(
            "INSERT INTO subscriptions (guild_id, feed_id, name, interval_s, source, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, name) DO UPDATE SET"
            " feed_id = excluded.feed_id, interval_s = excluded.interval_s,"
            " source = excluded.source",
            (guild_id, feed_id, name, interval_s, source, now))

    def _drop_orphan_feeds(self, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM feeds WHERE id NOT IN (SELECT feed_id FROM subscriptions)")

    @in_db_thread
    def subscribe(self, guild_id: int, url: str, name: str, interval_s: float,
                  now: float) -> Subscription:
        """Subscribe a guild to a feed URL under a name (the URL is fetched once for all)."""
        with self.transaction() as conn:
            self._subscribe(conn, guild_id, url, name, interval_s, "command", now)
        return self._subscriptions_blocking(guild_id, name)[0]

    @in_db_thread
    def unsubscribe(self, guild_id: int, name: str) -> bool:
        """Remove a guild's subscription; the feed goes when nobody subscribes to it."""
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM subscriptions WHERE guild_id = ? AND name = ?",
                                  (guild_id, name))
            self._drop_orphan_feeds(conn)
        return cursor.rowcount > 0

    @in_db_thread
    def subscriptions(self, guild_id: int | None = None) -> list[Subscription]:
        """Subscriptions with their feed's health, for one guild or all."""
        return self._subscriptions_blocking(guild_id, None)

    def _subscriptions_blocking(self, guild_id: int | None, name: str | None) -> list[Subscription]:
        rows = self.conn.execute(
            f"SELECT s.guild_id AS s_guild, s.name AS s_name, s.source AS s_source,"  # noqa: S608 - constant columns
            f" s.interval_s AS s_interval, {_FEED_COLUMNS} FROM subscriptions s"
            " JOIN feeds f ON f.id = s.feed_id"
            " WHERE (? IS NULL OR s.guild_id = ?) AND (? IS NULL OR s.name = ?)"
            " ORDER BY s.guild_id, s.name",
            (guild_id, guild_id, name, name)).fetchall()
        return [Subscription(row["s_guild"], row["s_name"], row["s_source"], row["s_interval"],
                             feed_from_row(row)) for row in rows]

    @in_db_thread
    def claim_due_feeds(self, now: float, limit: int, lease_s: float,
                        due_before: float | None = None) -> list[FeedRow]:
        """Lease up to ``limit`` due feeds so no other tick polls them meanwhile.

        Paused feeds are due too, at their slow probe schedule: a success resumes them.
        ``due_before`` (default ``now``) lets ``wirewatch once`` take feeds not yet due; the
        lease is always ``now + lease_s``.
        """
        with self.transaction() as conn:
            ids = [row[0] for row in conn.execute(
                "UPDATE feeds SET lease_until = ? WHERE id IN (SELECT id FROM feeds"
                " WHERE next_check <= ? AND lease_until <= ?"
                " ORDER BY next_check LIMIT ?) RETURNING id",
                (now + lease_s, now if due_before is None else due_before, now, limit))]
        return self._feeds_blocking(ids)

    def _feeds_blocking(self, ids: Sequence[int]) -> list[FeedRow]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds f WHERE f.id IN ({marks})"  # noqa: S608 - placeholders only
            " ORDER BY f.next_check", tuple(ids)).fetchall()
        return [feed_from_row(row) for row in rows]

    @in_db_thread
    def release_leases(self) -> None:
        """Forget leases of polls that a stopped or crashed process never finished."""
        with self.transaction() as conn:
            conn.execute("UPDATE feeds SET lease_until = 0 WHERE lease_until > 0")

    @in_db_thread
    def feed(self, feed_id: int) -> FeedRow | None:
        """One feed by id."""
        found = self._feeds_blocking([feed_id])
        return found[0] if found else None

    @in_db_thread
    def record_unchanged(self, feed_id: int, now: float, next_check: float,
                         etag: str | None = None, last_modified: str | None = None,
                         body_hash: str | None = None) -> None:
        """A successful poll that found nothing new (304, same body, or only known items)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE feeds SET error_count = 0, last_error = NULL, last_success = ?,"
                " last_polled = ?, next_check = ?, lease_until = 0, paused = 0,"
                " etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified),"
                " body_hash = COALESCE(?, body_hash) WHERE id = ?",
                (now, now, next_check, etag, last_modified, body_hash, feed_id))

    @in_db_thread
    def record_failure(self, feed_id: int, now: float, error: str, next_check: float) -> int:
        """Record a failed poll; returns the consecutive error count."""
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE feeds SET error_count = error_count + 1, last_error = ?,"
                " last_error_at = ?, last_polled = ?, next_check = ?, lease_until = 0"
                " WHERE id = ? RETURNING error_count",
                (error[:500], now, now, next_check, feed_id)).fetchone()
        return int(row[0]) if row else 0

    @in_db_thread
    def pause_feed(self, feed_id: int, next_check: float) -> bool:
        """Pause a failing feed (probed at ``next_check``); True if it was running until now."""
        with self.transaction() as conn:
            cursor = conn.execute("UPDATE feeds SET paused = 1, next_check = ?, lease_until = 0"
                                  " WHERE id = ? AND paused = 0", (next_check, feed_id))
        return cursor.rowcount > 0

    @in_db_thread
    def resume_feed(self, guild_id: int, name: str, now: float) -> bool:
        """Resume a guild's paused feed and check it now; False if there is no such feed."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE feeds SET paused = 0, error_count = 0, next_check = ?, lease_until = 0"
                " WHERE id = (SELECT feed_id FROM subscriptions WHERE guild_id = ? AND name = ?)",
                (now, guild_id, name))
        return cursor.rowcount > 0

    @in_db_thread
    def known_keys(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` this feed has already recorded."""
        known: set[str] = set()
        for start in range(0, len(keys), _ROWS_PER_INSERT):
            chunk = keys[start:start + _ROWS_PER_INSERT]
            marks = ",".join("?" * len(chunk))
            known.update(row[0] for row in self.conn.execute(
                f"SELECT key FROM items WHERE feed_id = ? AND key IN ({marks})",  # noqa: S608
                (feed_id, *chunk)))
        return known

    @in_db_thread
    def ingest(self, feed_id: int, entries: Sequence[Entry], *, now: float,
               next_check: float, title: str | None, etag: str | None,
               last_modified: str | None, body_hash: str | None,
               plan: PlanDeliveries) -> IngestResult:
        """Record items and, for a primed feed, queue deliveries for the new ones: atomically."""
        with self.transaction() as conn:
            primed = bool(conn.execute("SELECT primed FROM feeds WHERE id = ?",
                                       (feed_id,)).fetchone()[0])
            new_keys = self._insert_items(conn, feed_id, entries, now)
            new_entries = [entry for entry in entries if entry.key in new_keys]
            drafts = plan(new_entries) if primed and new_entries else []
            conn.executemany(
                "INSERT INTO deliveries (watch_id, feed_id, item_key, nonce, payload,"
                " next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(d.watch_id, feed_id, d.item_key, d.nonce, alert_to_json(d.alert), now, now)
                 for d in drafts])
            conn.execute(
                "UPDATE feeds SET primed = 1, error_count = 0, last_error = NULL, paused = 0,"
                " last_success = ?, last_polled = ?, next_check = ?, lease_until = 0,"
                " title = COALESCE(?, title), etag = ?, last_modified = ?, body_hash = ?"
                " WHERE id = ?",
                (now, now, next_check, title, etag, last_modified, body_hash, feed_id))
        return IngestResult(new_items=len(new_entries), deliveries=len(drafts))

    def _insert_items(self, conn: sqlite3.Connection, feed_id: int,
                      entries: Sequence[Entry], now: float) -> set[str]:
        new_keys: set[str] = set()
        for start in range(0, len(entries), _ROWS_PER_INSERT):
            chunk = entries[start:start + _ROWS_PER_INSERT]
            values = ",".join("(?, ?, ?, ?, ?, ?, ?)" for _ in chunk)
            params: list[object] = []
            for entry in chunk:
                published = entry.published.timestamp() if entry.published else None
                params += [feed_id, entry.key, entry.title, entry.link, published, now,
                           entry_to_json(entry)]
            new_keys.update(row[0] for row in conn.execute(
                "INSERT INTO items (feed_id, key, title, link, published, first_seen, data)"  # noqa: S608
                f" VALUES {values} ON CONFLICT DO NOTHING RETURNING key", params))
        return new_keys

    @in_db_thread
    def recent_items(self, guild_id: int, since: float) -> list[StoredItem]:
        """Items first seen since ``since`` in the feeds a guild subscribes to, newest first."""
        rows = self.conn.execute(
            "SELECT s.name, i.data, i.first_seen FROM items i JOIN subscriptions s"
            " ON s.feed_id = i.feed_id AND s.guild_id = ? WHERE i.first_seen >= ?"
            " ORDER BY i.first_seen DESC, i.published DESC LIMIT 5000",
            (guild_id, since)).fetchall()
        return [StoredItem(row[0], entry_from_json(row[1]), row[2]) for row in rows]
