"""Watches: a guild's named queries and where their alerts go."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, false, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from bot.config.cadence import Cadence
from bot.core.errors import StoreError
from bot.store.database import Database
from bot.store.dialect import upsert
from bot.store.mapping import watch_from_row
from bot.store.rows import NewWatch, WatchRow, visible_watches
from bot.store.schema import subscriptions, watches
from bot.store.types import Time

# Not paused, or paused until a time that has passed (issue 22: a timed pause ends by itself,
# with no job to lift it). ``p_now`` is the caller's Unix time.
ACTIVE: ColumnElement[bool] = or_(
    watches.c.paused == false(), watches.c.paused_until <= bindparam("p_now", type_=Time))

# Once per poll that found new items: built once.
_FOR_FEED = (select(watches, subscriptions.c.name.label("feed_name"))
             .join_from(subscriptions, watches, or_(
                 watches.c.guild_id == subscriptions.c.guild_id, subscriptions.c.guild_id == 0))
             .where(subscriptions.c.feed_id == bindparam("p_feed"), ACTIVE)
             .order_by(watches.c.id, subscriptions.c.guild_id == 0))


CADENCE_COLUMNS = ("deliver", "timezone", "quiet", "urgent")


def _cadence(cadence: Cadence) -> dict[str, str | None]:
    return {"deliver": cadence.deliver, "timezone": cadence.timezone, "quiet": cadence.quiet,
            "urgent": cadence.urgent}


def upsert_watch(conn: Connection, watch: NewWatch, now: float) -> None:
    """Create or replace the guild's watch of that name inside the caller's transaction."""
    insert = upsert(conn, watches).values(
        guild_id=watch.guild_id, name=watch.name, query=watch.query,
        channel_id=watch.channel_id, webhook_url=watch.webhook_url, role_id=watch.role_id,
        feed_names=watch.feed_names, color=watch.color, collapse_after=watch.collapse_after,
        stories=watch.stories, source=watch.source, created_at=now,
        follow_ups=watch.follow_ups, **_cadence(watch.cadence))
    changed = ("query", "channel_id", "webhook_url", "role_id", "feed_names", "color",
               "collapse_after", "stories", "source", "follow_ups", *CADENCE_COLUMNS)
    conn.execute(insert.on_conflict_do_update(
        index_elements=["guild_id", "name"],
        # A restart after fixing a config watch's target ends an automatic pause.
        set_={**{name: insert.excluded[name] for name in changed},
              "paused": false(), "paused_reason": None, "paused_until": None}))


class Watches(Database):
    """Watches."""

    async def add_watch(self, watch: NewWatch, now: float) -> WatchRow:
        """Create or replace the guild's watch of that name."""
        def query(conn: Connection) -> WatchRow:
            upsert_watch(conn, watch, now)
            row = conn.execute(select(watches).where(
                watches.c.guild_id == watch.guild_id, watches.c.name == watch.name)).first()
            if row is None:  # cannot happen: written in this very transaction
                raise StoreError(f"watch {watch.name!r} was not stored")
            return watch_from_row(row._mapping, row.feed_names)
        return await self.write(query)

    async def remove_watch(self, guild_id: int, name: str) -> bool:
        """Delete a watch (its pending deliveries go with it)."""
        statement = delete(watches).where(watches.c.guild_id == guild_id,
                                          watches.c.name == name)
        return await self.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def set_watch_paused(self, guild_id: int, name: str, paused: bool,
                               reason: str | None = None) -> bool:
        """Pause or resume a watch; a paused watch matches nothing and sends nothing."""
        statement = (update(watches).where(watches.c.guild_id == guild_id,
                                           watches.c.name == name)
                     .values(paused=paused, paused_reason=reason if paused else None,
                             paused_until=None))
        return await self.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def set_watch_cadence(self, guild_id: int, name: str, cadence: Cadence) -> bool:
        """Change when a watch's matches go out; matches held already keep their period."""
        statement = (update(watches).where(watches.c.guild_id == guild_id,
                                           watches.c.name == name)
                     .values(**_cadence(cadence)))
        return await self.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def watches(self, guild_id: int | None = None) -> list[WatchRow]:
        """All watches, or one guild's, by name."""
        query: Select[Any] = select(watches).order_by(watches.c.guild_id, watches.c.name)
        if guild_id is not None:
            query = query.where(watches.c.guild_id == guild_id)
        rows = await self.read(lambda conn: conn.execute(query).mappings().all())
        return [watch_from_row(row, row["feed_names"]) for row in rows]

    async def watches_for_feed(self, feed_id: int) -> list[tuple[WatchRow, str]]:
        """Active watches that see this feed, each with the feed's name in the watch's guild.

        A guild's watches see its own feeds and the config file's (guild 0).
        """
        rows = await self.read(
            lambda conn: conn.execute(_FOR_FEED, {"p_feed": feed_id, "p_now": time.time()})
            .mappings().all())
        return visible_watches((watch_from_row(row, row["feed_names"]), str(row["feed_name"]))
                               for row in rows)
