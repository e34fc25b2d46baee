"""Alembic revisions (``versions/``), applied at start-up inside one locked transaction.

No alembic.ini and no env.py: the runner below configures Alembic in code. A database made by
the hand-written runner that came before (a ``schema_migrations`` table, no
``alembic_version``) holds exactly revision 0001's schema, so it is stamped 0001 and upgraded
from there: nothing is copied, nothing is lost.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from bot.store.dialect import is_postgres, lock_migrations
from bot.store.schema import metadata

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LEGACY_REVISION = "0001"


def alembic_config() -> Config:
    """Our revisions, without any file outside the package."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(HERE / "versions"))
    return config


def is_current(conn: Connection) -> bool:
    """True if the schema is at the newest revision: a plain read, no lock taken.

    Most starts find nothing to do; they should not wait for the write lock (SQLite) or the
    advisory lock (PostgreSQL) behind a busy writer just to learn that.
    """
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return MigrationContext.configure(conn).get_current_heads() == (head,)


def upgrade(conn: Connection) -> None:
    """Bring the schema on ``conn`` to the newest revision, in the caller's transaction."""
    lock_migrations(conn)
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    tables = set(inspect(conn).get_table_names())
    if "schema_migrations" in tables and "alembic_version" not in tables:
        log.info("stamping a database made by the old migration runner at %s", LEGACY_REVISION)
        MigrationContext.configure(conn).stamp(script, LEGACY_REVISION)

    current = MigrationContext.configure(conn).get_current_heads()
    log.info("upgrading the database schema from %s to %s",
             ", ".join(current) or "empty", script.get_current_head())

    def steps(revision: Any, _context: MigrationContext) -> Any:
        return script._upgrade_revs("head", revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev="head") as env:
        env.configure(connection=conn, target_metadata=metadata,
                      render_as_batch=not is_postgres(conn))
        with env.begin_transaction():
            env.run_migrations()
