"""Feeds, guild subscriptions and the polling schedule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)

from bot.core.durations import AUTO_INTERVAL_S
from bot.core.errors import StoreError
from bot.store.database import Database, Prepared
from bot.store.dialect import db_now, relaxed_commit, upsert
from bot.store.mapping import feed_from_row
from bot.store.rows import FeedRow, Subscription
from bot.store.schema import feeds, processes, subscriptions, websub_subscriptions
from bot.store.types import StoredText

_sub = subscriptions.alias("first_sub")
# A feed is fetched once for every guild; it shows under its first subscription's name and
# is polled at the shortest interval any guild asked for.
FEED_COLUMNS = (
    *feeds.c,
    select(_sub.c.name).where(_sub.c.feed_id == feeds.c.id)
    .order_by(_sub.c.guild_id, _sub.c.id).limit(1).scalar_subquery().label("sub_name"),
    select(func.min(_sub.c.interval_s)).where(_sub.c.feed_id == feeds.c.id,
                                              _sub.c.interval_s > AUTO_INTERVAL_S)
    .scalar_subquery().label("sub_interval"),
    select(func.count()).where(_sub.c.feed_id == feeds.c.id, _sub.c.interval_s == AUTO_INTERVAL_S)
    .scalar_subquery().label("sub_auto"),
    select(websub_subscriptions.c.lease_until).where(
        websub_subscriptions.c.feed_id == feeds.c.id, websub_subscriptions.c.state == "active")
    .scalar_subquery().label("pushed_until"),
)



def held_by(lease: int | None) -> Any:
    """The guard of a poll's feed-row writes: the row is still under the poll's claim.

    ``lease`` is the claim's fencing token (``FeedRow.lease_token``); None writes unguarded
    (a command, not a poll). A newer claim (another process took the feed after this one's
    lease ran out) has a greater token, so a paused or stalled poll's late write is refused.
    """
    return true() if lease is None else feeds.c.lease_token == lease


# The poll's own claim: either no token (unguarded) or the one it was claimed with.
_LEASE_HELD = or_(bindparam("p_lease", type_=Integer).is_(None),
                  feeds.c.lease_token == bindparam("p_lease", type_=Integer))
# The 304 path of most polls: built and compiled once, one UPDATE per call.
_UNCHANGED = Prepared(update(feeds).where(feeds.c.id == bindparam("p_id"), _LEASE_HELD).values(
    error_count=0, last_error=None, last_success=bindparam("p_now"),
    last_polled=bindparam("p_now"), next_check=bindparam("p_next"), lease_until=0,
    paused=false(), etag=func.coalesce(bindparam("p_etag", type_=StoredText), feeds.c.etag),
    last_modified=func.coalesce(bindparam("p_modified", type_=StoredText),
                                feeds.c.last_modified),
    body_hash=func.coalesce(bindparam("p_hash", type_=StoredText), feeds.c.body_hash)))


def feed_id_for_url(conn: Connection, url: str, now: float) -> int:
    """The feed row of ``url``, created if new."""
    # Look first: INSERT … ON CONFLICT burns a PostgreSQL identity value even when the row
    # exists, and sync_config re-subscribes every configured feed at each start.
    found = select(feeds.c.id).where(feeds.c.url == url)
    feed_id = conn.execute(found).scalar()
    if feed_id is None:
        conn.execute(upsert(conn, feeds).values(url=url, next_check=now, created_at=now)
                     .on_conflict_do_nothing(index_elements=["url"]))
        feed_id = conn.execute(found).scalar()
    if feed_id is None:  # only if the row vanished between two statements of one transaction
        raise StoreError(f"feed {url!r} could not be created")
    return int(feed_id)


def subscribe_in(conn: Connection, guild_id: int, url: str, name: str, interval_s: float,
                 source: str, now: float) -> None:
    """Subscribe ``guild_id`` to ``url`` as ``name`` inside the caller's transaction."""
    feed_id = feed_id_for_url(conn, url, now)
    # One subscription per feed and guild: a renamed (or URL-swapped) entry replaces the old
    # one instead of colliding with it. The feed row, and so its items, stay.
    conn.execute(delete(subscriptions).where(
        subscriptions.c.guild_id == guild_id, subscriptions.c.feed_id == feed_id,
        subscriptions.c.name != name))
    insert = upsert(conn, subscriptions).values(
        guild_id=guild_id, feed_id=feed_id, name=name, interval_s=interval_s, source=source,
        created_at=now)
    conn.execute(insert.on_conflict_do_update(
        index_elements=["guild_id", "name"],
        set_={"feed_id": insert.excluded.feed_id, "interval_s": insert.excluded.interval_s,
              "source": insert.excluded.source}))


def drop_orphan_feeds(conn: Connection) -> None:
    """Delete feeds nobody subscribes to (their items go with them)."""
    conn.execute(delete(feeds).where(~select(subscriptions.c.id).where(
        subscriptions.c.feed_id == feeds.c.id).exists()))


def subscription_rows(conn: Connection, guild_id: int | None,
                      name: str | None) -> list[Subscription]:
    """Subscriptions with their feed, for one guild (and name) or all."""
    query: Select[Any] = select(
        subscriptions.c.guild_id.label("s_guild"), subscriptions.c.name.label("s_name"),
        subscriptions.c.source.label("s_source"), subscriptions.c.interval_s.label("s_interval"),
        *FEED_COLUMNS).join_from(subscriptions, feeds, feeds.c.id == subscriptions.c.feed_id)
    if guild_id is not None:
        query = query.where(subscriptions.c.guild_id == guild_id)
    if name is not None:
        query = query.where(subscriptions.c.name == name)
    rows = conn.execute(query.order_by(subscriptions.c.guild_id, subscriptions.c.name))
    return [Subscription(row["s_guild"], row["s_name"], row["s_source"], row["s_interval"],
                         feed_from_row(row)) for row in rows.mappings()]


def feed_rows(conn: Connection, ids: Sequence[int]) -> list[FeedRow]:
    """The feeds with these ids, soonest due first."""
    if not ids:
        return []
    rows = conn.execute(select(*FEED_COLUMNS).where(feeds.c.id.in_(ids))
                        .order_by(feeds.c.next_check, feeds.c.id))
    return [feed_from_row(row) for row in rows.mappings()]


class Feeds(Database):
    """Feeds, subscriptions and the schedule."""

    async def subscribe(self, guild_id: int, url: str, name: str, interval_s: float,
                        now: float) -> Subscription:
        """Subscribe a guild to a feed URL under a name (the URL is fetched once for all)."""
        def query(conn: Connection) -> Subscription:
            subscribe_in(conn, guild_id, url, name, interval_s, "command", now)
            return subscription_rows(conn, guild_id, name)[0]
        return await self.write(query)

    async def unsubscribe(self, guild_id: int, name: str) -> bool:
        """Remove a guild's subscription; the feed goes when nobody subscribes to it."""
        def query(conn: Connection) -> bool:
            gone = conn.execute(delete(subscriptions).where(
                subscriptions.c.guild_id == guild_id, subscriptions.c.name == name)).rowcount
            drop_orphan_feeds(conn)
            return gone > 0
        return await self.write(query)

    async def subscriptions(self, guild_id: int | None = None) -> list[Subscription]:
        """Subscriptions with their feed's health, for one guild or all."""
        return await self.read(lambda conn: subscription_rows(conn, guild_id, None))

    async def claim_due_feeds(self, now: float, limit: int, lease_s: float,
                              due_before: float | None = None) -> list[FeedRow]:
        """Lease up to ``limit`` due feeds so no other tick (or process) polls them meanwhile.

        Paused feeds are due too, at their slow probe schedule: a success resumes them.
        ``due_before`` (default ``now``) lets ``wirewatch once`` take feeds not yet due; the
        lease is always ``now + lease_s``. SKIP LOCKED (PostgreSQL): a feed another process
        is claiming right now is passed over; once that claim commits, its lease keeps it out.
        """
        due = (select(feeds.c.id)
               .where(feeds.c.next_check <= (now if due_before is None else due_before),
                      feeds.c.lease_until <= now)
               .order_by(feeds.c.next_check).limit(limit).with_for_update(skip_locked=True))

        def query(conn: Connection) -> list[FeedRow]:
            ids = conn.execute(update(feeds).where(feeds.c.id.in_(due))
                               .values(lease_until=now + lease_s,
                                       lease_token=feeds.c.lease_token + 1)
                               .returning(feeds.c.id))
            return feed_rows(conn, ids.scalars().all())
        return await self.write(query)

    async def claim_feeds(self, owner: str, limit: int,
                          lease_s: float) -> tuple[list[FeedRow], float, float | None]:
        """Lease up to ``limit`` feeds due now in ``owner``'s name.

        Returns them, the database's now, and the earliest due time of the feeds left
        unleased (the dispatcher sleeps until then), all from one transaction. Due and lease
        times are the database's clock. SKIP LOCKED: a feed another process is claiming
        right now is passed over, not waited for. Each claim takes the feed's next fencing
        token. A process the others forgot (no process row) claims nothing.
        """
        def query(conn: Connection) -> tuple[list[FeedRow], float, float | None]:
            relaxed_commit(conn)
            now = conn.execute(select(db_now(conn))).scalar_one()
            if not conn.execute(select(select(processes.c.id)
                                       .where(processes.c.id == owner).exists())).scalar():
                return [], float(now), None
            due = (select(feeds.c.id)
                   .where(feeds.c.next_check <= now, feeds.c.lease_until <= now)
                   .order_by(feeds.c.next_check).limit(limit).with_for_update(skip_locked=True))
            ids = conn.execute(update(feeds).where(feeds.c.id.in_(due))
                               .values(lease_until=now + lease_s, lease_owner=owner,
                                       lease_token=feeds.c.lease_token + 1)
                               .returning(feeds.c.id)).scalars().all()
            following = conn.execute(select(func.min(feeds.c.next_check))
                                     .where(feeds.c.lease_until <= now)).scalar()
            return (feed_rows(conn, ids), float(now),
                    None if following is None else float(following))
        return await self.write(query)

    async def release_leases(self) -> None:
        """Forget leases of polls that a stopped or crashed process never finished.

        With several processes this may also free a feed another one is polling right now;
        that costs one duplicate fetch, never a duplicate alert (items and deliveries are
        unique), and only happens when a process starts.
        """
        await self.write(lambda conn: conn.execute(
            update(feeds).where(feeds.c.lease_until > 0).values(lease_until=0)))

    async def feed(self, feed_id: int) -> FeedRow | None:
        """One feed by id."""
        found = await self.read(lambda conn: feed_rows(conn, [feed_id]))
        return found[0] if found else None

    async def record_unchanged(self, feed_id: int, now: float, next_check: float,
                               etag: str | None = None, last_modified: str | None = None,
                               body_hash: str | None = None, *,
                               lease: int | None = None) -> None:
        """A successful poll that found nothing new (304, same body, or only known items).

        With ``lease`` (the claim's token) nothing changes once a later claim took the feed.
        """
        params = {"p_id": feed_id, "p_now": now, "p_next": next_check, "p_etag": etag,
                  "p_modified": last_modified, "p_hash": body_hash, "p_lease": lease}
        def query(conn: Connection) -> None:
            relaxed_commit(conn)  # PostgreSQL only; SQLite keeps the prepared fast path
            _UNCHANGED.execute(conn, params)
        await self.write(query)

    async def record_failure(self, feed_id: int, now: float, error: str,
                             next_check: float, *, lease: int | None = None) -> int:
        """Record a failed poll; returns the consecutive error count (0 when ``lease`` is
        stale: a later claim took the feed and records its own result)."""
        statement = update(feeds).where(feeds.c.id == feed_id, held_by(lease)).values(
            error_count=feeds.c.error_count + 1, last_error=error[:500], last_error_at=now,
            last_polled=now, next_check=next_check, lease_until=0).returning(feeds.c.error_count)
        count = await self.write(lambda conn: conn.execute(statement).scalar())
        return int(count or 0)

    async def pause_feed(self, feed_id: int, next_check: float, *,
                         lease: int | None = None) -> bool:
        """Pause a failing feed (probed at ``next_check``); True if it was running until now."""
        statement = (update(feeds).where(feeds.c.id == feed_id, feeds.c.paused == false(),
                                         held_by(lease))
                     .values(paused=true(), next_check=next_check, lease_until=0))
        return await self.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def resume_feed(self, guild_id: int, name: str, now: float) -> bool:
        """Resume a guild's paused feed and check it now; False if there is no such feed."""
        subscribed = select(subscriptions.c.feed_id).where(
            subscriptions.c.guild_id == guild_id, subscriptions.c.name == name).scalar_subquery()
        statement = update(feeds).where(feeds.c.id == subscribed).values(
            paused=false(), error_count=0, next_check=now, lease_until=0)
        return await self.write(lambda conn: conn.execute(statement).rowcount > 0)
