"""``Prepared`` (the SQLite fast path for the 304 UPDATE) against SQLAlchemy's own execution:
the same statement and parameters must leave the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from bot.config.file import Config, FeedConfig
from bot.store import SqlStore, open_store
from bot.store.feeds import _UNCHANGED
from bot.store.schema import feeds

NOW = 1_800_000_000.0
CASES: list[dict[str, Any]] = [
    {"p_etag": '"e1"', "p_modified": "Mon, 01 Jan 2024 10:00:00 GMT", "p_hash": "abc"},
    {"p_etag": None, "p_modified": None, "p_hash": None},  # COALESCE keeps the old values
    {"p_etag": "é\x00\U0001f600", "p_modified": None, "p_hash": "h2"},
    {"p_etag": "", "p_modified": "", "p_hash": ""},
]


async def opened(path: Path) -> SqlStore:
    store = await open_store(f"sqlite:///{path}")
    await store.sync_config(Config(feeds=(FeedConfig(name="A", url="https://a.example/rss",
                                                     interval=300.0),)), NOW)
    await store.claim_due_feeds(NOW, 10, 120)
    return store


@pytest.mark.parametrize("case", CASES)
async def test_prepared_update_equals_sqlalchemys_execution(tmp_path: Path,
                                                            case: dict[str, Any]) -> None:
    fast, reference = await opened(tmp_path / "fast.db"), await opened(tmp_path / "ref.db")
    try:
        for step, (now, next_check) in enumerate([(NOW + 1, NOW + 300), (NOW + 2, 7)]):
            # The claim above took token 1; the second step writes unguarded (a command).
            params = {"p_id": 1, "p_now": now, "p_next": next_check,
                      "p_lease": None if step else 1, **case}
            await fast.write(lambda conn, params=params: _UNCHANGED.execute(conn, params))
            await reference.write(
                lambda conn, params=params: conn.execute(_UNCHANGED.statement, params))

            def row(conn: Connection) -> tuple[Any, ...]:
                return tuple(conn.execute(select(feeds)).one())
            assert await fast.read(row) == await reference.read(row), f"step {step}"
        assert (await fast.read(row))[feeds.c.keys().index("lease_until")] == 0
    finally:
        await fast.close()
        await reference.close()
