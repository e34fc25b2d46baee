"""The SQLite store: the default implementation of ``bot.store.base.Store``."""

from __future__ import annotations

from bot.config import Config
from bot.store.rows import CONFIG_GUILD, NewWatch
from bot.store.sqlite_base import in_db_thread
from bot.store.sqlite_feeds import FeedQueries
from bot.store.sqlite_watches import WatchQueries


class SqliteStore(FeedQueries, WatchQueries):
    """Feeds, watches, items and the outbox in one SQLite file (WAL mode)."""

    @in_db_thread
    def sync_config(self, config: Config, now: float) -> None:
        """Make the config file's feeds and watches (guild 0) exactly those in ``config``."""
        with self.transaction() as conn:
            for feed in config.feeds:
                self._subscribe(conn, CONFIG_GUILD, feed.url, feed.name, feed.interval,
                                "config", now)
            names = [feed.name for feed in config.feeds]
            conn.execute(
                f"DELETE FROM subscriptions WHERE guild_id = ? AND source = 'config'"  # noqa: S608
                f" AND name NOT IN ({','.join('?' * len(names))})", (CONFIG_GUILD, *names))
            self._drop_orphan_feeds(conn)
            for watch in config.watches:
                self._upsert_watch(conn, NewWatch(
                    guild_id=CONFIG_GUILD, name=watch.name, query=watch.query,
                    channel_id=watch.channel, webhook_url=watch.webhook, role_id=watch.role,
                    feed_names=watch.feeds, color=watch.color,
                    collapse_after=watch.collapse_after, source="config"), now)
            names = [watch.name for watch in config.watches]
            conn.execute(
                f"DELETE FROM watches WHERE guild_id = ? AND source = 'config'"  # noqa: S608
                f" AND name NOT IN ({','.join('?' * len(names))})", (CONFIG_GUILD, *names))
