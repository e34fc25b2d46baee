"""The few statements that differ between SQLite and PostgreSQL, each named once.

Everything else is written once in the domain modules; SQLAlchemy renders it per dialect
(``FOR UPDATE [SKIP LOCKED]`` is dropped on SQLite, whose BEGIN IMMEDIATE already makes the
one writer exclusive).
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, func, select
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


def lock_migrations(conn: Connection) -> None:
    """Serialise schema upgrades of concurrent starts until the transaction ends.

    SQLite needs nothing more: the migration runs inside BEGIN IMMEDIATE, one writer at a time.
    """
    if is_postgres(conn):
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK_CLASS,
                                                       func.hashtext(func.current_schema()))))
