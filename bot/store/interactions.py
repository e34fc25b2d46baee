"""Slash commands handled once (issue 20): each interaction id is claimed before it runs.

Discord delivers an interaction to every session of its shard, and a gateway holder paused by
its host replays the events buffered meanwhile when it wakes. Whoever runs a command first
inserts its id; every other attempt finds the row and does nothing. A process that runs the
gateway through a lease claims only while the database says it holds that lease, with the
fencing token of its own holding (a later holding, even its own after a lapse, is another),
under a share lock on the lease row, so the lease cannot pass on between the check and the
claim.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from bot.store.database import Database
from bot.store.dialect import db_now, upsert
from bot.store.schema import interactions, leases


class Interactions(Database):
    """The interactions this cluster has handled (kept a day)."""

    async def claim_interaction(self, interaction_id: int, owner: str, lease: str | None,
                                now: float, token: int | None = None) -> bool:
        """True for exactly one caller per ``interaction_id``: that caller runs the command.

        With ``lease``: only while ``owner`` holds it unexpired (the database's clock), and
        with fencing ``token``, when given, in that same holding.
        """
        def query(conn: Connection) -> bool:
            if lease is not None:
                held = select(leases.c.name).where(
                    leases.c.name == lease, leases.c.owner == owner,
                    leases.c.expires_at > db_now(conn))
                if token is not None:
                    held = held.where(leases.c.token == token)
                if conn.execute(held.with_for_update(read=True)).first() is None:
                    return False
            claim = upsert(conn, interactions).values(
                id=interaction_id, owner=owner, handled_at=now).on_conflict_do_nothing(
                index_elements=["id"]).returning(interactions.c.id)
            return conn.execute(claim).first() is not None
        return await self.write(query)

    async def prune_interactions(self, before: float) -> int:
        """Forget interactions handled before ``before`` (Discord drops them after 15 min)."""
        return await self.write(lambda conn: int(conn.execute(
            delete(interactions).where(interactions.c.handled_at < before)).rowcount))
