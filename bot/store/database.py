"""Engine, threads and transactions: the one place that knows how queries are run.

Every query is a plain function over a SQLAlchemy ``Connection``; ``read`` and ``write`` run it
off the event loop. SQLite: one connection on one dedicated thread (one writer, WAL, writes in
BEGIN IMMEDIATE), as before. PostgreSQL: a small thread pool over a connection pool; several
processes share the database through row locks and the migration advisory lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from bot.core.errors import StoreError
from bot.core.settings import redact_url
from bot.store import migrations

log = logging.getLogger(__name__)

R = TypeVar("R")
WAL_RETRIES = 100


@dataclass(frozen=True, slots=True)
class DbLimits:
    """Bounds on every PostgreSQL session, so a stalled peer or path never stalls us for long.

    A statement runs at most ``statement_s``; a lock is waited for at most ``lock_s``; a
    transaction left idle (its process paused or its path frozen mid-transaction) is ended by
    the server after ``idle_in_transaction_s``, freeing its row and advisory locks. TCP
    keepalives (and ``tcp_user_timeout``) notice a dead path to the server. An operator's own
    settings in the URL (``options=-c lock_timeout=…``, ``keepalives_idle=…``) win.
    """

    statement_s: float = 30.0
    lock_s: float = 5.0
    idle_in_transaction_s: float = 15.0
    keepalive_idle_s: int = 10
    keepalive_interval_s: int = 5
    keepalive_count: int = 3

    def scaled(self, scale: float) -> DbLimits:
        """These limits with every timeout multiplied by ``scale`` (keepalives stay)."""
        return DbLimits(self.statement_s * scale, self.lock_s * scale,
                        self.idle_in_transaction_s * scale, self.keepalive_idle_s,
                        self.keepalive_interval_s, self.keepalive_count)

    def session_options(self) -> dict[str, str]:
        """The server settings, in milliseconds."""
        return {"statement_timeout": str(int(self.statement_s * 1000)),
                "lock_timeout": str(int(self.lock_s * 1000)),
                "idle_in_transaction_session_timeout":
                    str(int(self.idle_in_transaction_s * 1000))}

    def socket_options(self) -> dict[str, int]:
        """libpq's keepalive parameters."""
        total = self.keepalive_idle_s + self.keepalive_interval_s * self.keepalive_count
        return {"keepalives": 1, "keepalives_idle": self.keepalive_idle_s,
                "keepalives_interval": self.keepalive_interval_s,
                "keepalives_count": self.keepalive_count, "tcp_user_timeout": total * 1000}


def sqlite_events(engine: Engine) -> None:
    """PRAGMAs on every new connection (the one the SQLite store keeps)."""

    @event.listens_for(engine, "connect")
    def configure(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=5000")
        _enable_wal(dbapi_conn)
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a fresh file to WAL takes an exclusive lock and does not always wait on the
    # busy handler, so processes opening the same new file together retry briefly.
    for attempt in range(WAL_RETRIES):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_RETRIES - 1:
                raise
            time.sleep(0.05)


class Database:
    """Runs query functions on the database threads; the domain mixins build on it."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name
        single = self.dialect == "sqlite"
        self._executor = ThreadPoolExecutor(max_workers=1 if single else 4,
                                            thread_name_prefix=f"db-{self.dialect}")
        # SQLite: the one connection, opened and used only on the one thread.
        self._conn: Connection | None = None
        self._raw: sqlite3.Connection | None = None
        self._closed = False

    async def start(self) -> None:
        """Connect and bring the schema up to date (under a lock: several may start at once)."""
        try:
            await self._run(self._start_blocking)
        except BaseException:
            await self.close()
            raise

    def _start_blocking(self) -> None:
        if self.dialect == "sqlite":
            self._conn = self.engine.connect()
            raw = self._conn.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)  # noqa: S101 - sqlite+pysqlite
            self._raw = raw
        if not self._read_blocking(migrations.is_current):
            self._write_blocking(migrations.upgrade)  # re-checks under the lock

    def _write_blocking(self, query: Callable[[Connection], R]) -> R:
        if self._conn is None or self._raw is None:
            with self._pooled() as conn, conn.begin():
                return query(conn)
        # SQLite: the driver's own transaction handling is off (isolation_level None), so we
        # say BEGIN IMMEDIATE ourselves: the write lock is taken at once, never upgraded
        # from a read (which can fail with SQLITE_BUSY without waiting). SQLAlchemy's
        # autobegin is then a no-op on pysqlite; its commit() commits ours.
        raw = self._raw
        raw.execute("BEGIN IMMEDIATE")
        try:
            result = query(self._conn)
            self._conn.commit()
            if raw.in_transaction:  # the query ran only Prepared statements (on the driver)
                raw.commit()
        except BaseException:
            self._conn.rollback()
            raise
        finally:
            # A failed COMMIT (disk full, I/O error) can leave the transaction open, and
            # every later BEGIN would fail while a health check's SELECT still passed.
            if raw.in_transaction:
                raw.rollback()
        return result

    def _read_blocking(self, query: Callable[[Connection], R]) -> R:
        if self._conn is None:
            with self._pooled() as conn:
                return query(conn)
        try:  # SQLite: autocommit reads, one statement at a time, as before
            return query(self._conn)
        finally:
            self._conn.rollback()

    def _pooled(self) -> Connection:
        if self._closed:
            raise StoreError("the database is closed")
        return self.engine.connect()

    async def write(self, query: Callable[[Connection], R]) -> R:
        """Run ``query`` in one write transaction (BEGIN IMMEDIATE on SQLite) and commit."""
        return await self._run(lambda: self._write_blocking(query))

    async def read(self, query: Callable[[Connection], R]) -> R:
        """Run ``query`` outside any write transaction."""
        return await self._run(lambda: self._read_blocking(query))

    async def _run(self, call: Callable[[], R]) -> R:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, call)
        except DBAPIError as exc:
            # Only the driver's message: SQLAlchemy's own text lists the parameters, which may
            # hold a webhook URL. libpq quotes a malformed URI whole, password included.
            reason = str(exc.orig).replace(self.url, redact_url(self.url))
            if exc.connection_invalidated or "connect" in reason.lower():
                raise StoreError(f"cannot connect to the database at {redact_url(self.url)}:"
                                 f" {reason}") from None
            raise StoreError(f"database error: {reason}") from None
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {exc}") from None

    async def ping(self) -> None:
        """Fail with StoreError unless the database answers."""
        await self.read(lambda conn: conn.execute(text("SELECT 1")).scalar())

    async def close(self) -> None:
        """Close connections and threads; later calls raise StoreError."""
        if not self._closed:
            try:
                await asyncio.get_running_loop().run_in_executor(self._executor,
                                                                 self._close_blocking)
            finally:
                self._executor.shutdown(wait=True)

    def _close_blocking(self) -> None:
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = self._raw = None
        self.engine.dispose()

    async def backup_to(self, target: Path) -> None:
        """SQLite only: write a consistent copy of the database to ``target`` while in use."""
        if self.dialect != "sqlite":
            raise StoreError("only a SQLite database can be backed up by wirewatch")
        await self.read(lambda conn: _backup(conn, target))


def _backup(conn: Connection, target: Path) -> None:
    source = conn.connection.dbapi_connection
    assert isinstance(source, sqlite3.Connection)  # noqa: S101 - checked by the caller
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()


class Prepared:
    """A Core statement compiled once; on SQLite run straight on the driver's connection.

    SQLAlchemy's execution path costs about as much CPU as SQLite's UPDATE itself, and the
    304 path of most polls is one UPDATE. Parameters go through the same type processors
    SQLAlchemy would apply; PostgreSQL takes the normal path.
    ``tests/store/test_prepared.py`` compares both paths.
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._sqlite: _Plain | None = None

    def execute(self, conn: Connection, params: dict[str, Any]) -> None:
        """Run the statement with ``params`` (no result) inside the caller's transaction."""
        if conn.dialect.name != "sqlite":
            conn.execute(self.statement, params)
            return
        if self._sqlite is None:
            self._sqlite = _Plain(self.statement, conn)
        plain = self._sqlite
        values = plain.compiled.construct_params(params) or {}
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)  # noqa: S101 - sqlite+pysqlite
        raw.execute(plain.sql, [value if process is None else process(value) for value, process
                                in zip((values[name] for name in plain.order), plain.processors,
                                       strict=True)])


class _Plain:
    """A statement compiled for SQLite: its SQL, parameter order and type processors."""

    def __init__(self, statement: Executable, conn: Connection) -> None:
        self.compiled = statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
        self.sql: str = self.compiled.string
        self.order: tuple[str, ...] = tuple(self.compiled.positiontup or ())
        self.processors: list[Callable[[Any], Any] | None] = [
            self.compiled.binds[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            for name in self.order]
