"""The PostgreSQL store: the second implementation of ``bot.store.base.Store``.

Chosen by a ``postgresql://`` (or ``postgres://``) WIREWATCH_DATABASE_URL. Needs the optional
``postgres`` extra (psycopg 3). Several bot processes may share one database: feeds are
claimed with ``FOR UPDATE SKIP LOCKED`` and migrations run behind an advisory lock.
"""

from __future__ import annotations

from bot.config import Config
from bot.store.postgres_base import pg_text
from bot.store.postgres_feeds import FeedQueries
from bot.store.postgres_watches import WatchQueries
from bot.store.rows import CONFIG_GUILD, NewWatch


class PostgresStore(FeedQueries, WatchQueries):
    """Feeds, watches, items and the outbox in PostgreSQL (``open(url)``, then ``close()``)."""

    async def sync_config(self, config: Config, now: float) -> None:
        """Make the config file's feeds and watches (guild 0) exactly those in ``config``."""
        async with self.transaction() as conn:
            for feed in config.feeds:
                await self._subscribe(conn, CONFIG_GUILD, feed.url, feed.name, feed.interval,
                                      "config", now)
            # <> ALL of an empty array is true: an empty file removes every config feed.
            await conn.execute(
                "DELETE FROM subscriptions WHERE guild_id = %s AND source = 'config'"
                " AND name <> ALL(%s::text[])",
                (CONFIG_GUILD, [pg_text(feed.name) for feed in config.feeds]))
            await self._drop_orphan_feeds(conn)
            for watch in config.watches:
                await self._upsert_watch(conn, NewWatch(
                    guild_id=CONFIG_GUILD, name=watch.name, query=watch.query,
                    channel_id=watch.channel, webhook_url=watch.webhook, role_id=watch.role,
                    feed_names=watch.feeds, color=watch.color,
                    collapse_after=watch.collapse_after, source="config"), now)
            await conn.execute(
                "DELETE FROM watches WHERE guild_id = %s AND source = 'config'"
                " AND name <> ALL(%s::text[])",
                (CONFIG_GUILD, [pg_text(watch.name) for watch in config.watches]))
