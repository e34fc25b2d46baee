"""One SQLite connection in WAL mode, used from one dedicated thread.

Every query runs on that thread, so the event loop never blocks on disk and SQLite never
sees two writers from this process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from bot.errors import StoreError
from bot.store.migrate import load_migrations

log = logging.getLogger(__name__)

WAL_RETRIES = 100
P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D", bound="SqliteDatabase")


def in_db_thread(
    method: Callable[Concatenate[D, P], R],
) -> Callable[Concatenate[D, P], Coroutine[Any, Any, R]]:
    """Turn a blocking method into a coroutine that runs it on the database thread."""

    @functools.wraps(method)
    async def run(self: D, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.run_blocking(functools.partial(method, self, *args, **kwargs))

    return run


class SqliteDatabase:
    """Connection, transactions and migrations; the query mixins build on it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None

    @classmethod
    async def open(cls: type[D], path: Path) -> D:
        """Open (creating the folder and file), configure WAL and apply migrations."""
        store = cls(path)
        await store.run_blocking(store._open_blocking)
        return store

    def _open_blocking(self) -> None:
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=5000")
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._conn = conn
        self._migrate()

    def _migrate(self) -> None:
        # Each step re-reads what is applied inside its write transaction, so two processes
        # opening a fresh file together cannot both apply the same migration.
        with self.transaction() as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER"
                       " PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)")
        for migration in load_migrations("sqlite"):
            with self.transaction() as tx:
                if tx.execute("SELECT 1 FROM schema_migrations WHERE version = ?",
                              (migration.version,)).fetchone():
                    continue
                log.info("applying migration %04d_%s", migration.version, migration.name)
                for statement in _statements(migration.sql):
                    tx.execute(statement)
                tx.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                           (migration.version, migration.name, time.time()))

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (only touch it on the database thread)."""
        if self._conn is None:
            raise StoreError("the database is closed")
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error:
            # A failed COMMIT (disk full, I/O error) can leave the transaction open, and
            # every later BEGIN would fail while a health check's SELECT still passed.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def run_blocking(self, call: Callable[[], R]) -> R:
        """Run ``call`` on the database thread, turning sqlite3 errors into StoreError."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, call)
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    @in_db_thread
    def ping(self) -> None:
        """Fail with StoreError unless the database answers."""
        self.conn.execute("SELECT 1").fetchone()

    async def close(self) -> None:
        """Close the connection and the thread."""
        if self._conn is not None:
            await self.run_blocking(self._close_blocking)
        self._executor.shutdown(wait=True)

    def _close_blocking(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @in_db_thread
    def backup_to(self, target: Path) -> None:
        """Write a consistent copy of the database to ``target`` while it is in use."""
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(target) as copy:
            self.conn.backup(copy)
        copy.close()


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


def _statements(sql: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
