"""What several processes on one database share: who is alive, named leases, the config in force.

Times here are the DATABASE clock (``dialect.db_now``): hosts' clocks may disagree, the
database's does not. A process row is live while its heartbeat is younger than the TTL the
caller names; a lease is held while ``expires_at`` is in the future.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from bot.config.file import Config
from bot.store.config_sync import sync_in
from bot.store.database import Database
from bot.store.dialect import db_now, lock_config, upsert
from bot.store.rows import ProcessRow
from bot.store.schema import cluster_config, feeds, leases, processes


def _live(now: Any, ttl_s: float) -> Any:
    return processes.c.heartbeat_at > now - ttl_s


class Cluster(Database):
    """Process identity rows, named leases, feed-lease clean-up and the config hash."""

    async def register_process(self, process_id: str, host: str, pid: int, roles: str,
                               config_hash: str) -> float:
        """Insert this process's row; returns the database time (for the clock offset)."""
        def query(conn: Connection) -> float:
            now = conn.execute(select(db_now(conn))).scalar_one()
            conn.execute(upsert(conn, processes).values(
                id=process_id, host=host, pid=pid, roles=roles, config_hash=config_hash,
                started_at=now, heartbeat_at=now).on_conflict_do_nothing(index_elements=["id"]))
            return float(now)
        return await self.write(query)

    async def heartbeat(self, process_id: str, ttl_s: float) -> float:
        """Renew this process's row and free what dead processes held; returns database time.

        A process killed mid-poll leaves leases that name it: once its heartbeat is older than
        ``ttl_s`` they are freed, so its feeds are polled again without waiting for the
        lease to run out, and its lease rows (gateway, targets) can be taken.
        """
        def query(conn: Connection) -> float:
            now = conn.execute(select(db_now(conn))).scalar_one()
            conn.execute(update(processes).where(processes.c.id == process_id)
                         .values(heartbeat_at=now))
            live = select(processes.c.id).where(_live(now, ttl_s))
            conn.execute(update(feeds).where(feeds.c.lease_until > 0,
                                             feeds.c.lease_owner.is_not(None),
                                             feeds.c.lease_owner.not_in(live))
                         .values(lease_until=0, lease_owner=None))
            conn.execute(delete(leases).where(leases.c.owner.not_in(live)))
            conn.execute(delete(processes).where(processes.c.heartbeat_at < now - 10 * ttl_s))
            return float(now)
        return await self.write(query)

    async def deregister_process(self, process_id: str) -> None:
        """A clean stop: free this process's feed leases and lease rows, drop its row."""
        def query(conn: Connection) -> None:
            conn.execute(update(feeds).where(feeds.c.lease_owner == process_id)
                         .values(lease_until=0, lease_owner=None))
            conn.execute(delete(leases).where(leases.c.owner == process_id))
            conn.execute(delete(processes).where(processes.c.id == process_id))
        await self.write(query)

    async def forget_processes(self) -> None:
        """Drop every process row and lease, and free every feed lease.

        Only for a database one process may use (SQLite, whose lock file proves the others
        dead): a restart after SIGKILL then sends and polls at once instead of waiting for
        its predecessor's claims to expire.
        """
        def query(conn: Connection) -> None:
            conn.execute(update(feeds).where(feeds.c.lease_until > 0)
                         .values(lease_until=0, lease_owner=None))
            conn.execute(delete(leases))
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

    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew lease ``name`` until database now + ``ttl_s``; False if another
        owner holds it unexpired. One statement: the row lock decides between racers."""
        def query(conn: Connection) -> bool:
            now = db_now(conn)
            insert = upsert(conn, leases).values(name=name, owner=owner,
                                                 expires_at=now + ttl_s, acquired_at=now)
            statement = insert.on_conflict_do_update(
                index_elements=["name"],
                set_={"owner": insert.excluded.owner, "expires_at": insert.excluded.expires_at,
                      "acquired_at": insert.excluded.acquired_at},
                where=or_(leases.c.owner == owner, leases.c.expires_at <= now))
            return conn.execute(statement.returning(leases.c.owner)).first() is not None
        return await self.write(query)

    async def release_lease(self, name: str, owner: str) -> None:
        """Give lease ``name`` up, if this owner still holds it."""
        await self.write(lambda conn: conn.execute(delete(leases).where(
            leases.c.name == name, leases.c.owner == owner)))

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
