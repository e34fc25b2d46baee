"""Run the store suite on every backend: SQLite always, PostgreSQL when one is reachable.

PostgreSQL: ``WIREWATCH_TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
Each test gets its own freshly created schema, selected through the connection's
``search_path``, and dropped afterwards: tests never see each other's rows and can run again
and again. Unreachable → the PostgreSQL cases skip with the reason; under ``CI=true`` they fail,
so a broken CI database cannot pass silently.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from bot.core.settings import redact_url
from bot.store import SqlStore, open_store
from bot.store.base import Store

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    """The server the PostgreSQL cases use."""
    return os.environ.get("WIREWATCH_TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``; fail instead in CI, where PostgreSQL is part of the contract."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)")
    pytest.skip(reason)


@functools.cache
def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None; asked once per test run."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install 'wirewatch[postgres]'"
    try:
        with psycopg.connect(postgres_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"PostgreSQL not reachable at {redact_url(postgres_url())} ({first_line}):"
                " set WIREWATCH_TEST_DATABASE_URL")
    return None


def with_connection_options(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` and an application_name naming it."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["options"] = f"{query.get('options', '')} -c search_path={schema}".strip()
    query["application_name"] = schema
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class Backend:
    """One fresh, empty database; ``open`` may be called many times, as processes would."""

    name: str

    def __init__(self) -> None:
        self._stores: list[Store] = []

    async def _open(self, kind: type[SqlStore] = SqlStore) -> Store:
        raise NotImplementedError

    async def open(self, kind: type[SqlStore] = SqlStore) -> Store:
        """Open another store on this database; closed at the end of the test. ``kind``:
        the real store, or a subclass that wraps one of its methods."""
        store = await self._open(kind)
        self._stores.append(store)
        return store

    async def aclose(self) -> None:
        """Close every store opened here (the last test step may have closed some)."""
        for store in self._stores:
            await store.close()


class SqliteBackend(Backend):
    """A database file in the test's temporary folder."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def _open(self, kind: type[SqlStore] = SqlStore) -> Store:
        return await open_store(f"sqlite:///{self.path}", kind)


class PostgresBackend(Backend):
    """A schema of its own on the test server; ``url`` selects it."""

    name = "postgres"

    def __init__(self, server_url: str) -> None:
        super().__init__()
        self.server_url = server_url
        self.schema = f"wwtest_{secrets.token_hex(6)}"
        self.url = with_connection_options(server_url, self.schema)

    async def admin(self, statement: Any, params: Any = None) -> list[Any]:
        """Run one statement on a separate connection (as an operator or another process)."""
        import psycopg
        async with await psycopg.AsyncConnection.connect(self.server_url,
                                                         autocommit=True) as conn:
            cursor = await conn.execute(statement, params)
            return await cursor.fetchall() if cursor.description else []

    async def create(self) -> None:
        from psycopg import sql
        await self.admin(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))

    async def drop(self) -> None:
        from psycopg import sql
        await self.admin(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(self.schema)))

    async def _open(self, kind: type[SqlStore] = SqlStore) -> Store:
        return await open_store(self.url, kind)


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[PostgresBackend]:
    """A new schema on the test server (or a skip saying why there is none), dropped after."""
    problem = _postgres_problem()
    if problem:
        unavailable(problem)
    postgres = PostgresBackend(postgres_url())
    await postgres.create()
    try:
        yield postgres
        await postgres.aclose()
    finally:
        await postgres.drop()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh empty database on each backend."""
    if request.param == "sqlite":
        sqlite = SqliteBackend(tmp_path / "state" / "test.db")
        yield sqlite
        await sqlite.aclose()
    else:
        async with fresh_postgres() as postgres:
            yield postgres


@pytest.fixture
async def postgres_backend() -> AsyncIterator[PostgresBackend]:
    """A fresh empty PostgreSQL schema, for what only PostgreSQL does."""
    async with fresh_postgres() as postgres:
        yield postgres


@pytest.fixture
async def store(backend: Backend) -> Store:
    """A migrated, empty store on each backend."""
    return await backend.open()
