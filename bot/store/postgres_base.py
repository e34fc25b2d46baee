"""One psycopg 3 async connection to PostgreSQL, shared by the query mixins.

Every query runs under one asyncio lock: a connection carries one transaction at a time, and
the poller and the outbox call the store from many tasks at once. That mirrors the SQLite store
(one thread, one connection). Several *processes* share a database safely through row locks
(``claim_due_feeds``) and the advisory lock taken while migrating.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row

from bot.errors import StoreError
from bot.settings import redact_url
from bot.store.migrate import load_migrations

log = logging.getLogger(__name__)

D = TypeVar("D", bound="PostgresDatabase")
Connection = psycopg.AsyncConnection[DictRow]

# pg_advisory_xact_lock(classid, objid): classid names Wirewatch ("WW"), objid the schema, so
# two deployments in different schemas of one database do not wait for each other.
_LOCK_CLASS = 0x5757
_CONNECT_TIMEOUT_S = 10


def pg_text(value: str) -> str:
    """``value`` as PostgreSQL ``text`` can hold it: NUL becomes U+FFFD, lone surrogates ``?``.

    PostgreSQL refuses the whole statement over either (SQLite takes NUL), so one odd character
    in a feed would otherwise fail every poll of that feed.
    """
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if value.isascii():
        return value
    return value.encode("utf-8", "replace").decode("utf-8")


class PostgresDatabase:
    """Connection, transactions and migrations; the query mixins build on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls: type[D], url: str) -> D:
        """Connect to ``url`` (``postgresql://…`` or a libpq conninfo) and apply migrations."""
        store = cls(url)
        try:
            async with store.session() as conn:
                await store._migrate(conn)
        except BaseException:
            await store.close()
            raise
        return store

    async def _connect(self) -> Connection:
        params: dict[str, str | int] = {}
        try:
            given = conninfo_to_dict(self.url)
            # libpq waits forever by default; a dead host should fail start-up, not hang it.
            if "connect_timeout" not in given:
                params["connect_timeout"] = _CONNECT_TIMEOUT_S
            if "application_name" not in given:
                params["application_name"] = "wirewatch"
            # autocommit: reads must not leave an idle transaction open; writes say BEGIN.
            return await psycopg.AsyncConnection.connect(
                make_conninfo(self.url, **params), autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            # libpq quotes a malformed URI whole, password included.
            reason = str(exc).replace(self.url, redact_url(self.url))
            raise StoreError(
                f"cannot connect to PostgreSQL at {redact_url(self.url)}: {reason}") from None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Connection]:
        """The connection, held exclusively; psycopg errors become StoreError.

        A connection the server dropped (restart, failover) is replaced on the next use, so
        one outage fails the calls made during it and nothing after.
        """
        async with self._lock:
            if self._closed:
                raise StoreError("the database is closed")
            if self._conn is None or self._conn.closed:
                self._conn = await self._connect()
            conn = self._conn
            try:
                yield conn
            except psycopg.Error as exc:
                raise StoreError(f"database error: {exc}") from exc
            finally:
                # Every call ends outside a transaction; anything else (a block left open by
                # a bug, a state psycopg could not recover) must not leak into the next call.
                if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                    log.warning("dropping a PostgreSQL connection left in state %s",
                                conn.info.transaction_status.name)
                    await conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """BEGIN … COMMIT on the held connection, rolled back on any exception."""
        async with self.session() as conn, conn.transaction():
            yield conn

    async def _migrate(self, conn: Connection) -> None:
        # One transaction for the lot, behind an advisory lock: a second process starting
        # at the same moment waits here and then finds every migration already applied.
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                               (_LOCK_CLASS,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
            cursor = await conn.execute("SELECT version FROM schema_migrations")
            applied = {int(row["version"]) for row in await cursor.fetchall()}
            for migration in load_migrations("postgres"):
                if migration.version in applied:
                    continue
                log.info("applying migration %04d_%s", migration.version, migration.name)
                # Without parameters psycopg sends the file as one simple query, so a
                # migration may hold several statements (and semicolons inside strings).
                # The files ship inside the package: they are code, not input (bytes, as
                # psycopg's typing wants a literal string for anything else).
                await conn.execute(migration.sql.encode("utf-8"))
                await conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, %s)",
                                   (migration.version, migration.name, time.time()))

    async def ping(self) -> None:
        """Fail with StoreError unless the database answers."""
        async with self.session() as conn:
            await conn.execute("SELECT 1")

    async def close(self) -> None:
        """Close the connection; later calls raise StoreError."""
        async with self._lock:
            self._closed = True
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
