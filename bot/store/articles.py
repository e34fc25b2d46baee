"""Full text per subscription and article-fetch counts per feed (issue 13)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, select, update

from bot.store.database import Database
from bot.store.dialect import upsert
from bot.store.schema import article_stats, feeds, subscriptions

FULL_TEXT_MODES = ("auto", "always", "never")


def strongest(modes: Sequence[str]) -> str:
    """The mode a feed is polled with: any "always" wins, then "auto"; "never" needs all."""
    for mode in ("always", "auto", "never"):
        if mode in modes:
            return mode
    return "auto"


class Articles(Database):
    """Full-text settings and article-fetch statistics."""

    async def set_full_text(self, guild_id: int, modes: Mapping[str, str]) -> int:
        """Set the full-text mode of a guild's subscriptions by name; how many were found.

        One transaction for all, so the config file's feeds are set in one go at start-up.
        """
        for mode in modes.values():
            if mode not in FULL_TEXT_MODES:
                raise ValueError(f"full_text must be one of {', '.join(FULL_TEXT_MODES)}, "
                                 f"not {mode!r}")

        def query(conn: Connection) -> int:
            found = 0
            for name, mode in modes.items():
                found += conn.execute(update(subscriptions).where(
                    subscriptions.c.guild_id == guild_id, subscriptions.c.name == name)
                    .values(full_text=mode)).rowcount
            return found
        return await self.write(query)

    async def full_text_mode(self, feed_id: int) -> str:
        """The feed's mode: the strongest any of its subscriptions asks for (default auto)."""
        def query(conn: Connection) -> str:
            modes = conn.execute(select(subscriptions.c.full_text).where(
                subscriptions.c.feed_id == feed_id)).scalars().all()
            return strongest([str(mode) for mode in modes])
        return await self.read(query)

    async def full_text_modes(self, feed_id: int) -> dict[int, str]:
        """Each follower's mode for the feed: guild id (CONFIG_GUILD for the file) → mode."""
        def query(conn: Connection) -> dict[int, str]:
            rows = conn.execute(select(subscriptions.c.guild_id, subscriptions.c.full_text)
                                .where(subscriptions.c.feed_id == feed_id)).all()
            return {int(guild): str(mode) for guild, mode in rows}
        return await self.read(query)

    async def record_articles(self, feed_id: int, counts: Mapping[str, int]) -> None:
        """Add one poll's article outcomes (reason → count) to the feed's totals."""
        rows = [{"feed_id": feed_id, "reason": reason, "count": n}
                for reason, n in counts.items() if n > 0]
        if not rows:
            return

        def query(conn: Connection) -> None:
            # The feed may have been removed while its poll ran: nothing to count then.
            if conn.execute(select(feeds.c.id).where(feeds.c.id == feed_id)).first() is None:
                return
            insert = upsert(conn, article_stats).values(rows)
            conn.execute(insert.on_conflict_do_update(
                index_elements=["feed_id", "reason"],
                set_={"count": article_stats.c.count + insert.excluded.count}))
        await self.write(query)

    async def article_stats(self, feed_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Article outcomes so far, per feed id and reason."""
        if not feed_ids:
            return {}

        def query(conn: Connection) -> dict[int, dict[str, int]]:
            found: dict[int, dict[str, int]] = {}
            rows = conn.execute(select(article_stats).where(
                article_stats.c.feed_id.in_(list(feed_ids))))
            for row in rows.mappings():
                found.setdefault(int(row["feed_id"]), {})[str(row["reason"])] = int(row["count"])
            return found
        return await self.read(query)
