"""What several processes on one database share: who is alive, named leases, the config in force.

Times here are the DATABASE clock (``dialect.db_now``): hosts' clocks may disagree, the
database's does not. A process row is live while its heartbeat is younger than the TTL the
caller names; a lease is held while ``expires_at`` is in the future.

Fencing (issue 20): each lease row carries a token that grows whenever a new holding starts
(another owner, or the same owner after the lease lapsed); a renewal keeps it. Lease rows are
expired, never deleted, so a token never repeats. Only a process whose row exists may take a
lease or claim feeds: one the others forgot must join again first (``register_process``), and
joining drops whatever it held before. Clean-ups skip rows another transaction has locked
(``SKIP LOCKED``): a process stopped inside a transaction never stalls another's heartbeat.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, delete, exists, or_, select, update

from bot.config.file import Config
from bot.store.config_sync import sync_in
from bot.store.database import Database
from bot.store.dialect import db_now, lock_config, upsert
from bot.store.rows import ProcessRow
from bot.store.schema import cluster_config, feeds, leases, processes

FORGET_AFTER_TTLS = 10  # a process silent this many TTLs is forgotten: its row is deleted


def _live(now: Any, ttl_s: float) -> Any:
    return processes.c.heartbeat_at > now - ttl_s


def _known(owner: str) -> Any:
    """True while ``owner`` has a process row (it was not forgotten)."""
    return exists().where(processes.c.id == owner)


def _drop_holdings(conn: Connection, owner: str) -> None:
    """End every lease and feed claim ``owner`` has: the next holding takes a new token."""
    conn.execute(update(feeds).where(feeds.c.lease_owner == owner)
                 .values(lease_until=0, lease_owner=None))
    conn.execute(update(leases).where(leases.c.owner == owner, leases.c.expires_at > 0)
                 .values(expires_at=0))


class Cluster(Database):
    """Process identity rows, named leases, feed-lease clean-up and the config hash."""

    async def register_process(self, process_id: str, host: str, pid: int, roles: str,
                               config_hash: str, generation: int = 1) -> float:
        """Insert this process's row; returns the database time (for the clock offset).

        Whatever leases and feed claims the id still had are dropped in the same
        transaction: a process joining again (``generation`` > 1, after the others forgot
        it) starts with nothing, and every lease it takes next has a new fencing token.
        """
        def query(conn: Connection) -> float:
            now = conn.execute(select(db_now(conn))).scalar_one()
            insert = upsert(conn, processes).values(
                id=process_id, host=host, pid=pid, roles=roles, config_hash=config_hash,
                started_at=now, heartbeat_at=now, generation=generation)
            conn.execute(insert.on_conflict_do_update(
                index_elements=["id"], set_={"heartbeat_at": insert.excluded.heartbeat_at,
                                             "generation": insert.excluded.generation}))
            _drop_holdings(conn, process_id)
            return float(now)
        return await self.write(query)

    async def heartbeat(self, process_id: str, ttl_s: float) -> float | None:
        """Renew this process's row and free what dead processes held; returns database time.

        None when the row is gone: the others forgot this process (it was silent for
        ``FORGET_AFTER_TTLS`` TTLs); it must drop what it holds and register again.
        A process killed mid-poll leaves feed claims that name it: once its heartbeat is
        older than ``ttl_s`` they are freed, so its feeds are polled again without waiting
        for the claim to run out (a late write of the dead poll is fenced by its token).
        Named leases are not freed early: they expire, so a paused holder's own deadline
        (its lease, not its heartbeat) stays the one that counts.
        """
        def query(conn: Connection) -> float | None:
            now = conn.execute(select(db_now(conn))).scalar_one()
            mine = conn.execute(update(processes).where(processes.c.id == process_id)
                                .values(heartbeat_at=now)).rowcount
            if not mine:
                return None
            live = select(processes.c.id).where(_live(now, ttl_s))
            orphaned = (select(feeds.c.id)
                        .where(feeds.c.lease_until > 0, feeds.c.lease_owner.is_not(None),
                               feeds.c.lease_owner.not_in(live))
                        .with_for_update(skip_locked=True))
            conn.execute(update(feeds).where(feeds.c.id.in_(orphaned))
                         .values(lease_until=0, lease_owner=None))
            forgotten = (select(processes.c.id)
                         .where(processes.c.heartbeat_at < now - FORGET_AFTER_TTLS * ttl_s)
                         .with_for_update(skip_locked=True))
            conn.execute(delete(processes).where(processes.c.id.in_(forgotten)))
            return float(now)
        return await self.write(query)

    async def deregister_process(self, process_id: str) -> None:
        """A clean stop: free this process's feed leases and lease rows, drop its row."""
        def query(conn: Connection) -> None:
            _drop_holdings(conn, process_id)
            conn.execute(delete(processes).where(processes.c.id == process_id))
        await self.write(query)

    async def forget_processes(self) -> None:
        """Drop every process row, end every lease, and free every feed lease.

        Only for a database one process may use (SQLite, whose lock file proves the others
        dead): a restart after SIGKILL then sends and polls at once instead of waiting for
        its predecessor's claims to expire.
        """
        def query(conn: Connection) -> None:
            conn.execute(update(feeds).where(feeds.c.lease_until > 0)
                         .values(lease_until=0, lease_owner=None))
            conn.execute(update(leases).where(leases.c.expires_at > 0).values(expires_at=0))
            conn.execute(delete(processes))
        await self.write(query)

    async def live_processes(self, ttl_s: float) -> list[ProcessRow]:
        """Processes whose heartbeat is younger than ``ttl_s``, with the leases they hold."""
        def query(conn: Connection) -> list[ProcessRow]:
            now = conn.execute(select(db_now(conn))).scalar_one()
            held: dict[str, list[str]] = {}
            for name, owner in conn.execute(select(leases.c.name, leases.c.owner)
                                            .where(leases.c.expires_at > now)
                                            .order_by(leases.c.name)):
                held.setdefault(owner, []).append(name)
            rows = conn.execute(select(processes).where(_live(now, ttl_s))
                                .order_by(processes.c.started_at)).mappings()
            return [ProcessRow(r["id"], r["host"], int(r["pid"]), r["roles"],
                               float(r["started_at"]), float(now - r["heartbeat_at"]),
                               tuple(held.get(r["id"], ()))) for r in rows]
        return await self.read(query)

    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> int | None:
        """Take or renew lease ``name`` until database now + ``ttl_s``: its fencing token, or
        None if another owner holds it unexpired or ``owner`` has no process row (forgotten,
        or never registered). One statement: the row lock decides between racers.

        The token stays the same while one holding is renewed in time, and grows when a new
        holding starts, so a side effect that names a token is refused once it is stale.
        """
        def query(conn: Connection) -> int | None:
            now = db_now(conn)
            if not conn.execute(select(_known(owner))).scalar():
                return None
            insert = upsert(conn, leases).values(name=name, owner=owner, token=1,
                                                 expires_at=now + ttl_s, acquired_at=now)
            renewal = (leases.c.owner == owner) & (leases.c.expires_at > now)
            statement = insert.on_conflict_do_update(
                index_elements=["name"],
                set_={"owner": insert.excluded.owner, "expires_at": insert.excluded.expires_at,
                      "acquired_at": case((renewal, leases.c.acquired_at),
                                          else_=insert.excluded.acquired_at),
                      "token": case((renewal, leases.c.token), else_=leases.c.token + 1)},
                where=or_(leases.c.owner == owner, leases.c.expires_at <= now))
            token = conn.execute(statement.returning(leases.c.token)).scalar()
            return None if token is None else int(token)
        return await self.write(query)

    async def release_lease(self, name: str, owner: str, token: int | None = None) -> None:
        """Give lease ``name`` up, if this owner still holds it (with ``token``: the same
        holding, not a later one). The row stays: its token must keep growing."""
        statement = update(leases).where(leases.c.name == name, leases.c.owner == owner,
                                         leases.c.expires_at > 0)
        if token is not None:
            statement = statement.where(leases.c.token == token)
        await self.write(lambda conn: conn.execute(statement.values(expires_at=0)))

    async def adopt_config(self, config: Config, config_hash: str, ttl_s: float,
                           now: float) -> str | None:
        """Make ``config`` (digest ``config_hash``) the one in force, synced once, under a lock.

        Returns None when adopted (or already in force: nothing is re-synced), else the hash
        in force, when live processes run a different config: the caller refuses to start.
        With no live process left, a new config replaces the old one (a rolling restart).
        """
        def query(conn: Connection) -> str | None:
            lock_config(conn)
            db = conn.execute(select(db_now(conn))).scalar_one()
            in_force = conn.execute(select(cluster_config.c.config_hash)
                                    .where(cluster_config.c.id == 1)).scalar()
            if in_force == config_hash:
                return None
            others = conn.execute(select(processes.c.id).where(
                _live(db, ttl_s), processes.c.config_hash != config_hash).limit(1)).first()
            if in_force is not None and others is not None:
                return str(in_force)
            sync_in(conn, config, now)
            insert = upsert(conn, cluster_config).values(id=1, config_hash=config_hash,
                                                         updated_at=db)
            conn.execute(insert.on_conflict_do_update(
                index_elements=["id"], set_={"config_hash": insert.excluded.config_hash,
                                             "updated_at": insert.excluded.updated_at}))
            return None
        return await self.write(query)
