"""WebSub subscriptions: which hubs to ask, the callback's state, pushes that make a feed due.

Every step is claimed in the database, so any process may run the subscribe job or receive a
hub's callback: ``claim_websub`` moves ``next_attempt`` on in the same statement that reads
the row due, so two processes never ask a hub at once. A feed whose hub stopped being
advertised keeps its row until the lease ends; a removed feed's row goes with it (cascade) and
the hub's lease simply runs out.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select, update

from bot.store.database import Database
from bot.store.dialect import upsert
from bot.store.rows import WebSubClaim
from bot.store.schema import feeds, websub_subscriptions

_sub = websub_subscriptions
ACTIVE, REQUESTED, DENIED, FAILED = "active", "requested", "denied", "failed"


class WebSub(Database):
    """The WebSub subscription rows (one per feed whose hub is asked to push)."""

    async def claim_websub(self, now: float, hold_s: float, limit: int = 20) -> list[WebSubClaim]:
        """Subscriptions due for a (re)request, claimed until ``now + hold_s``.

        Due: a feed that advertises a hub with no row yet, a row whose ``next_attempt`` has
        come (renewal before the lease ends, a retry after a failure), or a hub or topic that
        changed since it was asked. New rows get a fresh callback token and secret.
        """
        def claim(conn: Connection) -> list[WebSubClaim]:
            topic = func.coalesce(feeds.c.websub_topic, feeds.c.url)
            rows = conn.execute(
                select(feeds.c.id, feeds.c.websub_hub, topic.label("topic"), _sub.c.feed_id,
                       _sub.c.hub, _sub.c.topic.label("asked_topic"))
                .select_from(feeds.outerjoin(_sub, _sub.c.feed_id == feeds.c.id))
                .where(feeds.c.websub_hub.is_not(None), or_(
                    _sub.c.feed_id.is_(None), _sub.c.next_attempt <= now,
                    _sub.c.hub != feeds.c.websub_hub, _sub.c.topic != topic))
                .order_by(feeds.c.id).limit(limit)).all()
            return [c for c in (_claim_one(conn, row, now, now + hold_s) for row in rows)
                    if c is not None]
        return await self.write(claim)

    async def websub_failed(self, feed_id: int, token: str, error: str,
                            next_attempt: float) -> None:
        """The hub refused or could not be reached: asked again at ``next_attempt``.

        (An accepted request writes nothing: its claim already holds the row until the
        verification is due, and the verification may arrive before the hub's answer does.)
        """
        statement = update(_sub).where(_sub.c.feed_id == feed_id, _sub.c.token == token)
        await self.write(lambda conn: conn.execute(statement.values(
            state=FAILED, next_attempt=next_attempt, last_error=error[:300])))

    async def websub_verify(self, token: str, mode: str, topic: str, lease_s: float,
                            now: float, renew_at: float) -> bool:
        """The hub's verification of intent: True if we asked for exactly this.

        ``subscribe`` makes the row active until ``now + lease_s`` (renewed at ``renew_at``);
        ``unsubscribe`` is confirmed only for a token we no longer hold.
        """
        def verify(conn: Connection) -> bool:
            row = conn.execute(select(_sub.c.feed_id, _sub.c.topic).where(
                _sub.c.token == token)).first()
            if mode == "unsubscribe":
                return row is None
            if row is None or mode != "subscribe" or row.topic != topic:
                return False
            conn.execute(update(_sub).where(_sub.c.token == token).values(
                state=ACTIVE, lease_until=now + lease_s, next_attempt=renew_at,
                last_error=None))
            return True
        return await self.write(verify)

    async def websub_denied(self, token: str, reason: str, retry_at: float) -> None:
        """The hub refused the subscription: asked again only at ``retry_at``."""
        statement = update(_sub).where(_sub.c.token == token).values(
            state=DENIED, lease_until=None, last_error=reason[:300], next_attempt=retry_at)
        await self.write(lambda conn: conn.execute(statement))

    async def websub_secret(self, token: str) -> tuple[int, str] | None:
        """The feed and secret behind a callback token (None: not ours)."""
        def query(conn: Connection) -> tuple[int, str] | None:
            row = conn.execute(select(_sub.c.feed_id, _sub.c.secret).where(
                _sub.c.token == token)).first()
            return None if row is None else (int(row.feed_id), str(row.secret))
        return await self.read(query)

    async def websub_pushed(self, feed_id: int, now: float) -> bool:
        """A signed push arrived: the feed is due now (its next poll fetches what changed)."""
        statement = update(feeds).where(feeds.c.id == feed_id, feeds.c.next_check > now,
                                        feeds.c.paused.is_(False)).values(next_check=now)
        return await self.write(lambda conn: conn.execute(statement).rowcount > 0)


def _claim_one(conn: Connection, row: Row[Any], now: float, until: float) -> WebSubClaim | None:
    """Claim one due row in the caller's transaction; None if another process was first."""
    feed_id, hub, topic = row.id, row.websub_hub, row.topic
    if row.feed_id is None or row.hub != hub or row.asked_topic != topic:
        # A new callback for a new (hub, topic): a stale hub's pushes no longer verify.
        fresh = {"hub": hub, "topic": topic, "token": secrets.token_urlsafe(24),
                 "secret": secrets.token_hex(32), "state": REQUESTED, "lease_until": None,
                 "next_attempt": until, "last_error": None}
        if row.feed_id is None:
            done = conn.execute(upsert(conn, _sub).values(feed_id=feed_id, **fresh)
                                .on_conflict_do_nothing(index_elements=["feed_id"])
                                .returning(_sub.c.feed_id)).first()
        else:
            done = conn.execute(update(_sub).where(
                _sub.c.feed_id == feed_id, or_(_sub.c.hub != hub, _sub.c.topic != topic))
                .values(**fresh).returning(_sub.c.feed_id)).first()
        return None if done is None else WebSubClaim(feed_id, hub, topic, fresh["token"],
                                                     fresh["secret"])
    claimed = conn.execute(update(_sub).where(
        and_(_sub.c.feed_id == feed_id, _sub.c.next_attempt <= now)).values(
        next_attempt=until).returning(_sub.c.token, _sub.c.secret)).first()
    return None if claimed is None else WebSubClaim(feed_id, hub, topic, claimed.token,
                                                   claimed.secret)
