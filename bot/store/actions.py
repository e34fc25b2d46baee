"""What the buttons under an alert change (issue 22): claims, story mutes, timed pauses and
follow roles.

Every method is one short transaction, safe with several processes: a click is claimed by
inserting its interaction id (the first insert wins, so a click delivered to several
gateway sessions is handled once); a follow role is recorded only if none is yet (two
processes creating one at once keep the first, and the other deletes its own).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update

from bot.store.database import Database
from bot.store.dialect import upsert
from bot.store.mapping import watch_from_row
from bot.store.rows import AlertStory, WatchRow
from bot.store.schema import (
    component_clicks,
    deliveries,
    story_items,
    story_mutes,
    story_posts,
    watches,
)
from bot.store.stories import target_key

MUTED_REASON = "story muted"


def _watch(conn: Connection, watch_id: int) -> WatchRow | None:
    row = conn.execute(select(watches).where(watches.c.id == watch_id)).mappings().first()
    return watch_from_row(row, row["feed_names"]) if row is not None else None


class Actions(Database):
    """Claims of component clicks, story mutes, timed pauses, follow roles."""

    async def claim_click(self, interaction_id: int, now: float) -> bool:
        """True for the first caller with this interaction id, False for every later one."""
        def claim(conn: Connection) -> bool:
            # RETURNING, not rowcount: through SQLAlchemy, psycopg reports -1 for this INSERT
            # whether or not a row went in (measured here).
            statement = upsert(conn, component_clicks).values(
                interaction_id=interaction_id, at=now).on_conflict_do_nothing().returning(
                component_clicks.c.interaction_id)
            return conn.execute(statement).first() is not None
        return await self.write(claim)

    async def watch_by_id(self, watch_id: int) -> WatchRow | None:
        """One watch by id (a button names its watch by id)."""
        return await self.read(lambda conn: _watch(conn, watch_id))

    async def alert_story(self, delivery_id: int) -> AlertStory | None:
        """The story of the alert a delivery posted; None when either is gone (pruned)."""
        def look(conn: Connection) -> AlertStory | None:
            # The story is the one of the watch's guild's book (one book per guild).
            found = conn.execute(
                select(deliveries.c.watch_id, story_items.c.story_id)
                .join_from(deliveries, watches, watches.c.id == deliveries.c.watch_id)
                .join(story_items, (story_items.c.feed_id == deliveries.c.feed_id)
                      & (story_items.c.item_key == deliveries.c.item_key)
                      & (story_items.c.book == watches.c.guild_id))
                .where(deliveries.c.id == delivery_id)).first()
            if found is None:
                return None
            watch = _watch(conn, int(found.watch_id))
            if watch is None:
                return None
            return AlertStory(watch, str(found.story_id),
                              target_key(watch.channel_id, watch.webhook_url))
        return await self.read(look)

    async def toggle_story_mute(self, story: AlertStory, user_id: int, now: float) -> bool:
        """Mute the story on its target, or unmute it if it was; True when muted now.

        Muting also drops the story's edit and thread posts that have not started yet.
        """
        def toggle(conn: Connection) -> bool:
            removed = conn.execute(delete(story_mutes).where(
                story_mutes.c.story_id == story.story_id,
                story_mutes.c.target == story.target)).rowcount
            if removed:
                return False
            conn.execute(upsert(conn, story_mutes).values(
                story_id=story.story_id, target=story.target, guild_id=story.watch.guild_id,
                muted_by=user_id, at=now).on_conflict_do_nothing())
            posts = select(story_posts.c.delivery_id).where(
                story_posts.c.story_id == story.story_id, story_posts.c.target == story.target)
            conn.execute(update(deliveries).where(
                deliveries.c.edit_of.in_(posts), deliveries.c.status == "pending",
                deliveries.c.first_attempt.is_(None)).values(
                status="failed", last_error=MUTED_REASON))
            return True
        return await self.write(toggle)

    async def pause_watch_until(self, watch_id: int, until: float | None, reason: str) -> bool:
        """Pause a watch until ``until`` (Unix time; None: until resumed)."""
        statement = update(watches).where(watches.c.id == watch_id).values(
            paused=True, paused_until=until, paused_reason=reason)
        return await self.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def claim_follow_role(self, watch_id: int, role_id: int) -> int | None:
        """Record ``role_id`` as the watch's follow role unless it has one; the one in force
        (None: the watch is gone)."""
        def claim(conn: Connection) -> int | None:
            conn.execute(update(watches).where(
                watches.c.id == watch_id, watches.c.follow_role_id.is_(None)).values(
                follow_role_id=role_id))
            found = conn.execute(select(watches.c.follow_role_id).where(
                watches.c.id == watch_id)).scalar()
            return int(found) if found is not None else None
        return await self.write(claim)

    async def set_watch_follow_ups(self, guild_id: int, name: str, mode: str) -> bool:
        """What a watch's stories do with later sources: "edit", "thread" or "off"."""
        statement = update(watches).where(watches.c.guild_id == guild_id,
                                          watches.c.name == name).values(follow_ups=mode)
        return await self.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def forget_follow_role(self, watch_id: int, role_id: int) -> None:
        """The role was deleted in Discord: the next Follow creates a new one."""
        statement = update(watches).where(
            watches.c.id == watch_id, watches.c.follow_role_id == role_id).values(
            follow_role_id=None)
        await self.write(lambda conn: conn.execute(statement))

    async def prune_actions(self, before: float, mutes_before: float | None = None) -> int:
        """Forget claims of clicks made before ``before`` (Discord never resends them), and
        story mutes made before ``mutes_before`` (their stories are long closed)."""
        def prune(conn: Connection) -> int:
            removed = int(conn.execute(delete(component_clicks).where(
                component_clicks.c.at < before)).rowcount)
            if mutes_before is not None:
                conn.execute(delete(story_mutes).where(story_mutes.c.at < mutes_before))
            return removed
        return await self.write(prune)
