"""Initial schema: feeds with schedule and health, subscriptions, watches, items, outbox.

The same tables the hand-written 0001_initial.sql files created before Alembic, so a database
made by that runner is stamped at this revision and upgraded from here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Flag, Id, NameList, Snowflake, StoredText, Time

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", Id, sa.Identity(always=True), primary_key=True)


def _source(table: str) -> sa.Column[str]:
    return sa.Column("source", StoredText, sa.CheckConstraint(
        "source IN ('config', 'command')", name=op.f(f"{table}_source_check")), nullable=False)


def upgrade() -> None:
    """Create the five tables and their indexes."""
    op.create_table(
        "feeds", _id(),
        sa.Column("url", StoredText, nullable=False, unique=True),
        *(sa.Column(name, StoredText) for name in ("title", "etag", "last_modified",
                                                   "body_hash")),
        sa.Column("next_check", Time, nullable=False),
        sa.Column("lease_until", Time, nullable=False, server_default=sa.text("0")),
        sa.Column("primed", Flag, nullable=False, server_default=sa.false()),
        sa.Column("error_count", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", StoredText),
        *(sa.Column(name, Time) for name in ("last_error_at", "last_success", "last_polled")),
        sa.Column("paused", Flag, nullable=False, server_default=sa.false()),
        sa.Column("created_at", Time, nullable=False),
        sqlite_autoincrement=True)
    op.create_index("feeds_due", "feeds", ["next_check"])
    op.create_table(
        "subscriptions", _id(),
        sa.Column("guild_id", Snowflake, nullable=False),
        sa.Column("feed_id", Id, sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", StoredText, nullable=False),
        sa.Column("interval_s", Time, nullable=False), _source("subscriptions"),
        sa.Column("created_at", Time, nullable=False),
        sa.UniqueConstraint("guild_id", "name"), sa.UniqueConstraint("guild_id", "feed_id"))
    op.create_index("subscriptions_feed", "subscriptions", ["feed_id"])
    op.create_table(
        "watches", _id(),
        sa.Column("guild_id", Snowflake, nullable=False),
        sa.Column("name", StoredText, nullable=False),
        sa.Column("query", StoredText, nullable=False),
        sa.Column("channel_id", Snowflake), sa.Column("webhook_url", StoredText),
        sa.Column("role_id", Snowflake), sa.Column("feed_names", NameList),
        sa.Column("color", sa.Integer), sa.Column("collapse_after", sa.Integer),
        sa.Column("paused", Flag, nullable=False, server_default=sa.false()),
        sa.Column("paused_reason", StoredText), _source("watches"),
        sa.Column("created_at", Time, nullable=False),
        sa.UniqueConstraint("guild_id", "name"))
    op.create_table(
        "items",
        sa.Column("feed_id", Id, sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
        *(sa.Column(name, StoredText, nullable=False) for name in ("key", "title", "link")),
        sa.Column("published", Time), sa.Column("first_seen", Time, nullable=False),
        sa.Column("data", StoredText, nullable=False),
        sa.PrimaryKeyConstraint("feed_id", "key"), sqlite_with_rowid=False)
    op.create_index("items_first_seen", "items", ["first_seen"])
    op.create_table(
        "deliveries", _id(),
        sa.Column("watch_id", Id, sa.ForeignKey("watches.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("feed_id", Id, nullable=False),
        sa.Column("item_key", StoredText, nullable=False),
        sa.Column("nonce", StoredText, nullable=False, unique=True),
        sa.Column("payload", StoredText, nullable=False),
        sa.Column("status", StoredText, sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("deliveries_status_check")),
            nullable=False, server_default=sa.text("'pending'")),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt", Time, nullable=False),
        sa.Column("first_attempt", Time), sa.Column("last_error", StoredText),
        sa.Column("message_id", StoredText), sa.Column("created_at", Time, nullable=False),
        sa.Column("sent_at", Time),
        sa.UniqueConstraint("watch_id", "feed_id", "item_key"))
    op.create_index("deliveries_pending", "deliveries", ["id"],
                    sqlite_where=sa.text("status = 'pending'"),
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    """Drop everything (a fresh start, for developers)."""
    for table in ("deliveries", "items", "watches", "subscriptions", "feeds"):
        op.drop_table(table)
