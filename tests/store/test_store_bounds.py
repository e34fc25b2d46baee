"""Every PostgreSQL session is bounded (issue 20): statement and lock waits, a transaction left
idle by a stopped process, and a dead path to the server (TCP keepalives)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from bot.store import SqlStore, open_store
from bot.store.base import Store
from tests.store.conftest import PostgresBackend, with_connection_options


async def bounds(store: Store) -> tuple[list[str], dict[str, str]]:
    """The session's timeouts and libpq's connection parameters, as the server sees them."""
    assert isinstance(store, SqlStore)

    def read(conn: Connection) -> tuple[list[str], dict[str, str]]:
        settings = [str(conn.execute(text(f"SHOW {name}")).scalar()) for name in
                    ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")]
        raw = conn.connection.dbapi_connection
        assert raw is not None
        return settings, dict(raw.info.get_parameters())  # type: ignore[attr-defined]
    return await store.read(read)


async def test_postgres_sessions_are_bounded_and_the_url_may_say_otherwise(
        postgres_backend: PostgresBackend) -> None:
    settings, params = await bounds(await postgres_backend.open())
    assert settings == ["30s", "5s", "15s"]
    assert (params["keepalives"], params["keepalives_idle"]) == ("1", "10")
    url = with_connection_options(postgres_backend.server_url, postgres_backend.schema)
    operator = await open_store(url.replace("search_path%3D", "lock_timeout%3D900%20-c%20"
                                            "search_path%3D"))
    try:
        assert (await bounds(operator))[0] == ["30s", "900ms", "15s"]
    finally:
        await operator.close()
