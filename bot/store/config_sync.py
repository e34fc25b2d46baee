"""The config file's feeds and watches (guild 0), made exactly so at each start."""

from __future__ import annotations

from sqlalchemy import Connection, delete

from bot.config.file import Config
from bot.store.database import Database
from bot.store.feeds import drop_orphan_feeds, subscribe_in
from bot.store.rows import CONFIG_GUILD, NewWatch
from bot.store.schema import subscriptions, watches
from bot.store.watches import upsert_watch


def sync_in(conn: Connection, config: Config, now: float) -> None:
    """Subscribe and upsert what the file says, delete the config rows it no longer has."""
    for feed in config.feeds:
        subscribe_in(conn, CONFIG_GUILD, feed.url, feed.name, feed.interval, "config", now)
    # NOT IN of an empty list is true: an empty file removes every config feed.
    conn.execute(delete(subscriptions).where(
        subscriptions.c.guild_id == CONFIG_GUILD, subscriptions.c.source == "config",
        subscriptions.c.name.not_in([feed.name for feed in config.feeds])))
    drop_orphan_feeds(conn)
    for watch in config.watches:
        upsert_watch(conn, NewWatch(
            guild_id=CONFIG_GUILD, name=watch.name, query=watch.query,
            channel_id=watch.channel, webhook_url=watch.webhook, role_id=watch.role,
            feed_names=watch.feeds, color=watch.color,
            collapse_after=watch.collapse_after, stories=watch.stories, source="config",
            cadence=watch.cadence, follow_ups=watch.follow_ups), now)
    conn.execute(delete(watches).where(
        watches.c.guild_id == CONFIG_GUILD, watches.c.source == "config",
        watches.c.name.not_in([watch.name for watch in config.watches])))


class ConfigSync(Database):
    """Config file → database."""

    async def sync_config(self, config: Config, now: float) -> None:
        """Make the config file's feeds and watches (guild 0) exactly those in ``config``."""
        await self.write(lambda conn: sync_in(conn, config, now))
