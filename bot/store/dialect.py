"""The few statements that differ between SQLite and PostgreSQL, each named once.

Everything else is written once in the domain modules; SQLAlchemy renders it per dialect
(``FOR UPDATE [SKIP LOCKED]`` is dropped on SQLite, whose BEGIN IMMEDIATE already makes the
one writer exclusive).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Double, Table, cast, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.types import pg_text

# pg_advisory_xact_lock(classid, objid): classid names Wirewatch ("WW"), objid the schema, so
# two deployments in different schemas of one database do not wait for each other.
_LOCK_CLASS = 0x5757


def is_postgres(conn: Connection) -> bool:
    """True on PostgreSQL, False on SQLite."""
    return conn.dialect.name == "postgresql"


def upsert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` for the dialect."""
    return postgresql.insert(table) if is_postgres(conn) else sqlite.insert(table)


def stored_text(conn: Connection, value: str) -> str:
    """``value`` as the database stores it (PostgreSQL cleans NUL and lone surrogates)."""
    return pg_text(value) if is_postgres(conn) else value


def patient(conn: Connection, *, lock_s: float, statement_s: float) -> None:
    """Give this transaction longer lock waits and statements than the session's defaults.

    Every PostgreSQL session is bounded (``bot.store.database.DbLimits``); start-up work
    (migrations, adopting the config) and the daily prune may need more, but still a bound.
    """
    if is_postgres(conn):
        conn.execute(text(f"SET LOCAL lock_timeout = {int(lock_s * 1000)}"))
        conn.execute(text(f"SET LOCAL statement_timeout = {int(statement_s * 1000)}"))


def lock_migrations(conn: Connection) -> None:
    """Serialise schema upgrades of concurrent starts until the transaction ends.

    SQLite needs nothing more: the migration runs inside BEGIN IMMEDIATE, one writer at a time.
    """
    if is_postgres(conn):
        patient(conn, lock_s=300.0, statement_s=3600.0)
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS,
                                                       func.hashtext(func.current_schema()))))


def db_now(conn: Connection) -> Any:
    """The database's clock as Unix seconds: hosts' clocks may disagree, this one does not.

    PostgreSQL: ``clock_timestamp()`` (not ``now()``, which stands still for a transaction).
    SQLite serves one process, whose clock is the database's.
    """
    if is_postgres(conn):
        return cast(func.extract("epoch", func.clock_timestamp()), Double)
    return (func.julianday("now") - 2440587.5) * 86400.0


def lock_config(conn: Connection) -> None:
    """Serialise config-file syncs of concurrent starts until the transaction ends."""
    if is_postgres(conn):
        patient(conn, lock_s=60.0, statement_s=300.0)
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS + 1,
                                                       func.hashtext(func.current_schema()))))


def relaxed_commit(conn: Connection) -> None:
    """Let this transaction commit without waiting for the disk (PostgreSQL).

    For schedule bookkeeping only (a poll's result, a lease): lost in a database crash, it
    costs one extra fetch. 67 polls/s would otherwise wait for 67 fsyncs a second.
    """
    if is_postgres(conn):
        conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
