"""The store: feeds, watches, items and the outbox, on SQLite or PostgreSQL, written once.

Map (a method lives where its name says):

- ``base.py``      the ``Store`` protocol, the seam the pipeline, cogs and outbox use
- ``rows.py``, ``codec.py``, ``mapping.py``  row dataclasses, JSON codecs, row → dataclass
- ``schema.py``    every table, declared once (SQLAlchemy Core ``MetaData``)
- ``types.py``     column types mapped per dialect (ids, times, flags, name lists, text)
- ``dialect.py``   what truly differs: upsert, stored text, the migration lock
- ``database.py``  engine, threads, transactions (SQLite: one thread; PostgreSQL: a pool)
- ``feeds.py``     feeds, subscriptions, schedule · ``items.py`` known keys, ingest
- ``watches.py``   watches · ``outbox.py`` deliveries · ``config_sync.py`` the config file
- ``leases.py``    processes, named leases, the config in force (several processes)
- ``retention.py`` the daily prune of item bodies and old keys
- ``interactions.py`` slash commands handled, each once (issue 20)
- ``articles.py``  full-text mode per subscription, article-fetch counts per feed (issue 13)
- ``digests.py``   matches held for digests and quiet hours, each digest made once
- ``websub.py``    WebSub subscriptions: hubs to ask, callback tokens, pushes that make a feed due
- ``actions.py``   what an alert's controls change: click claims, story mutes, timed pauses,
                   follow roles (issue 22)
- ``trail.py``     the decision trail written by the ingest · ``why.py`` the rows behind /why
- ``migrations/``  Alembic revisions, applied at start-up (advisory lock on PostgreSQL)

Adding a column: one ``Column`` in ``schema.py`` and one Alembic revision in
``migrations/versions/`` (``op.add_column``; ``render_as_batch`` covers SQLite), then use it in
the domain module. ``tests/store/test_migrations.py`` checks that the two agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from bot.core.errors import ConfigError, StoreError
from bot.core.settings import redact_url
from bot.store.actions import Actions
from bot.store.articles import Articles
from bot.store.config_sync import ConfigSync
from bot.store.database import DbLimits, sqlite_events
from bot.store.digests import Digests
from bot.store.feeds import Feeds
from bot.store.interactions import Interactions
from bot.store.items import Items
from bot.store.leases import Cluster
from bot.store.outbox import Outbox
from bot.store.retention import Retention
from bot.store.watches import Watches
from bot.store.websub import WebSub
from bot.store.why import Why

_CONNECT_TIMEOUT_S = 10


class SqlStore(ConfigSync, Feeds, Items, Watches, Outbox, Retention, Articles, Digests,
               Cluster, WebSub, Actions, Why, Interactions):
    """``bot.store.base.Store`` over SQLAlchemy Core; ``open_store(url)`` makes one."""


S = TypeVar("S", bound=SqlStore)


async def open_store(url: str, kind: type[S] = SqlStore,  # type: ignore[assignment]
                     limits: DbLimits | None = None) -> S:
    """Open ``sqlite:///path`` or ``postgresql://…``, applying migrations; close() after.

    ``kind`` lets a test wrap one method of the real store in a subclass; ``limits`` bound
    every PostgreSQL session (tests shorten them).
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used by the one database thread (check_same_thread: it is created
        # there too, but the pool may be disposed from another). isolation_level None: the
        # driver's own transaction handling is off; database.py says BEGIN itself.
        engine = create_engine(f"sqlite+pysqlite:///{path}", poolclass=StaticPool,
                               connect_args={"check_same_thread": False,
                                             "isolation_level": None})
        sqlite_events(engine)
    elif url.startswith(("postgresql://", "postgres://")):
        engine = _postgres_engine(url, limits or DbLimits())
    else:
        raise ConfigError("WIREWATCH_DATABASE_URL: expected sqlite:///path or postgresql://…")
    store = kind(engine, url)
    await store.start()
    return store


def _postgres_engine(url: str, limits: DbLimits) -> Engine:
    try:
        import psycopg  # noqa: F401 - an optional extra that SQLite users never install
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "WIREWATCH_DATABASE_URL: PostgreSQL needs psycopg 3; install it with"
            f" pip install 'wirewatch[postgres]' ({exc})") from None
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1)).set(
            drivername="postgresql+psycopg")
    except (ArgumentError, ValueError):
        raise StoreError(f"cannot connect to PostgreSQL at {redact_url(url)}: not a valid"
                         " URL") from None
    # libpq waits forever by default; a dead host should fail start-up, not hang it.
    defaults: dict[str, object] = {"connect_timeout": _CONNECT_TIMEOUT_S,
                                   "application_name": "wirewatch", **limits.socket_options()}
    args = {key: value for key, value in defaults.items() if key not in parsed.query}
    # Server-side bounds (issue 20) go into libpq's ``options``, after any the URL names.
    given = parsed.query.get("options", "")
    given = given if isinstance(given, str) else " ".join(given)
    extra = [f"-c {name}={value}" for name, value in limits.session_options().items()
             if name not in given]
    if extra:
        args["options"] = " ".join(filter(None, (given, *extra)))
    # No pre-ping (a round trip before every call): a connection the server dropped
    # (restart, failover) fails the call that meets it; SQLAlchemy then invalidates the
    # pool, so the calls after it reconnect.
    return create_engine(parsed, connect_args=args, pool_size=4, max_overflow=2)
