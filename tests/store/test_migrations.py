"""Alembic on both backends: the schema it builds is schema.py's, and databases made by the
hand-written runner that came before (``legacy/*.sql``, its exact 0001 files) are upgraded in
place with every row kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from bot.core.model import Alert, Entry, Snippet
from bot.store import SqlStore
from bot.store.migrations import alembic_config
from bot.store.rows import DeliveryDraft
from bot.store.schema import metadata

if TYPE_CHECKING:
    from tests.store.conftest import Backend

LEGACY = Path(__file__).parent / "legacy"
NOW = 1_800_000_000.0
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()  # the newest

# Rows as the old store wrote them (flags 0/1, feed_names JSON on SQLite / text[] on PG).
ROWS = [
    "INSERT INTO feeds (url, title, etag, next_check, primed, created_at)"
    " VALUES ('https://a.example/rss', 'A news', '\"e1\"', 1800000000, {true}, 1700000000)",
    "INSERT INTO subscriptions (guild_id, feed_id, name, interval_s, source, created_at)"
    " VALUES (111, 1, 'A', 300, 'command', 1700000000)",
    "INSERT INTO watches (guild_id, name, query, channel_id, feed_names, source, created_at)"
    " VALUES (111, 'trade', 'tariffs', 555, {names}, 'command', 1700000000)",
    "INSERT INTO items (feed_id, key, title, link, published, first_seen, data) VALUES"
    " (1, 'k1', 'Tariffs rise', 'https://a.example/1', NULL, 1800000000,"
    " '{{\"key\": \"k1\", \"title\": \"Tariffs rise\", \"link\": \"https://a.example/1\"}}')",
    "INSERT INTO deliveries (watch_id, feed_id, item_key, nonce, payload, next_attempt,"
    " created_at) VALUES (1, 1, 'k1', 'n-k1', '{payload}', 1800000000, 1800000000)",
]


def legacy_rows(postgres: bool, payload: str) -> list[str]:
    names = "ARRAY['A']" if postgres else "'[\"A\"]'"
    true = "TRUE" if postgres else "1"
    return [row.format(true=true, names=names, payload=payload.replace("'", "''"))
            for row in ROWS]


def alert_json() -> str:
    from bot.store.codec import alert_to_json
    return alert_to_json(Alert(watch_name="trade", feed_name="A", title="Tariffs rise",
                               link="https://a.example/1", snippet=Snippet("Tariffs rise"),
                               matched_terms=("tariffs",)))


async def make_legacy(backend: Backend) -> None:
    """A database exactly as today's runner left it: 0001 applied, version 1 recorded."""
    statements = legacy_rows(backend.name == "postgres", alert_json())
    if backend.name == "sqlite":
        path: Path = backend.path  # type: ignore[attr-defined]
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as conn:
            conn.executescript((LEGACY / "0001_initial.sqlite.sql").read_text())
            conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                         " name TEXT NOT NULL, applied_at REAL NOT NULL)")
            conn.execute("INSERT INTO schema_migrations VALUES (1, 'initial', 0)")
            for statement in statements:
                conn.execute(statement)
        conn.close()
        return
    import psycopg
    async with await psycopg.AsyncConnection.connect(backend.url,  # type: ignore[attr-defined]
                                                     autocommit=True) as conn:
        await conn.execute((LEGACY / "0001_initial.postgresql.sql").read_bytes())
        await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                           " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
        await conn.execute("INSERT INTO schema_migrations VALUES (1, 'initial', 0)")
        for statement in statements:
            await conn.execute(statement.encode())


def schema_differences(conn: Connection) -> list[Any]:
    # schema_migrations stays behind on an upgraded database, so the old version could
    # still start after a rollback.
    context = MigrationContext.configure(conn, opts={
        "compare_type": True,
        "include_name": lambda name, kind, _parent: name != "schema_migrations"})
    return list(compare_metadata(context, metadata))


async def test_a_database_made_by_the_old_runner_is_upgraded_with_every_row(
        backend: Backend) -> None:
    await make_legacy(backend)
    store = await backend.open()
    assert isinstance(store, SqlStore)
    version = await store.read(
        lambda conn: MigrationContext.configure(conn).get_current_heads())
    assert version == (HEAD,)
    [sub] = await store.subscriptions(111)
    assert (sub.name, sub.feed.url, sub.feed.title, sub.feed.primed) == (
        "A", "https://a.example/rss", "A news", True)
    assert sub.feed.etag == '"e1"'
    [watch] = await store.watches(111)
    assert (watch.name, watch.channel_id, watch.feed_names) == ("trade", 555, ("A",))
    [item] = await store.recent_items(111, NOW - 1)
    assert item.entry.key == "k1" and item.entry.title == "Tariffs rise"
    [(delivery, _)] = await store.pending_deliveries(10)
    assert (delivery.item_key, delivery.nonce, delivery.alert.title) == (
        "k1", "n-k1", "Tariffs rise")
    # 0002: the feed has no latest body on record yet, so even a year on no key is pruned.
    pruned = await store.prune_items(keys_before=NOW + 365 * 86400, bodies_before=0.0)
    assert pruned.keys == 0 and await store.known_keys(sub.feed.id, ["k1"]) == {"k1"}
    # And it keeps working: a known item stays known, a new one is alerted, ids go on.
    assert await store.known_keys(sub.feed.id, ["k1", "k2"]) == {"k1"}
    result = await store.ingest(
        sub.feed.id, [Entry(key="k1"), Entry(key="k2", title="More tariffs")], now=NOW,
        next_check=NOW + 60, title=None, etag=None, last_modified=None, body_hash=None,
        plan=lambda new: [DeliveryDraft(watch.id, e.key, f"n-{e.key}", delivery.alert)
                          for e in new])
    assert (result.new_items, result.deliveries) == (1, 1)
    assert len(await store.pending_deliveries(10)) == 2
    diffs = await store.read(schema_differences)
    if backend.name == "sqlite":
        # The old SQLite file has unnamed UNIQUE and FOREIGN KEY constraints, where Alembic
        # names them; SQLite cannot alter a constraint anyway (batch mode rebuilds tables).
        diffs = [diff for diff in diffs if diff[0] not in ("add_constraint", "remove_fk",
                                                           "add_fk")]
    assert diffs == []


async def test_the_migrated_schema_is_the_declared_schema(backend: Backend) -> None:
    store = await backend.open()
    assert isinstance(store, SqlStore)
    diffs = await store.read(schema_differences)
    if backend.name == "sqlite":
        # The old SQLite file has unnamed UNIQUE and FOREIGN KEY constraints, where Alembic
        # names them; SQLite cannot alter a constraint anyway (batch mode rebuilds tables).
        diffs = [diff for diff in diffs if diff[0] not in ("add_constraint", "remove_fk",
                                                           "add_fk")]
    assert diffs == []
