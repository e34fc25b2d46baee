"""Digests and quiet hours: a watch's delivery settings, held matches, digests made.

watches gains deliver/timezone/quiet/urgent (issue 15). held_matches keeps the matches of a
digest or quiet-hours watch until its period ends; digests records each (watch, period)
made, its unique key making the digest exactly once across restarts and processes.

Revision ID: 0004_digests
Revises: 0003_full_text
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Id, StoredText, Time

revision = "0004_digests"
down_revision = "0003_full_text"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", Id, sa.Identity(always=True), primary_key=True)


def upgrade() -> None:
    """Four watch columns (defaults: instant, UTC) and two tables."""
    # Plain ADD COLUMN on both databases. Not a batch: on SQLite that would rebuild watches,
    # and dropping the old table cascades to its deliveries.
    op.add_column("watches", sa.Column("deliver", StoredText, nullable=False,
                                       server_default=sa.text("'instant'")))
    op.add_column("watches", sa.Column("timezone", StoredText, nullable=False,
                                       server_default=sa.text("'UTC'")))
    op.add_column("watches", sa.Column("quiet", StoredText))
    op.add_column("watches", sa.Column("urgent", StoredText))
    op.create_table(
        "digests", _id(),
        sa.Column("watch_id", Id, sa.ForeignKey("watches.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("period_end", Time, nullable=False),
        sa.Column("matches", sa.Integer, nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.UniqueConstraint("watch_id", "period_end"))
    op.create_table(
        "held_matches", _id(),
        sa.Column("watch_id", Id, sa.ForeignKey("watches.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("feed_id", Id, nullable=False),
        sa.Column("item_key", StoredText, nullable=False),
        sa.Column("nonce", StoredText, nullable=False),
        sa.Column("payload", StoredText, nullable=False),
        sa.Column("hold_until", Time, nullable=False),
        sa.Column("digest_id", Id),
        sa.Column("created_at", Time, nullable=False),
        sa.UniqueConstraint("watch_id", "feed_id", "item_key"))
    op.create_index("held_matches_due", "held_matches", ["hold_until"],
                    sqlite_where=sa.text("digest_id IS NULL"),
                    postgresql_where=sa.text("digest_id IS NULL"))


def downgrade() -> None:
    """Drop the two tables and the four columns."""
    op.drop_table("held_matches")
    op.drop_table("digests")
    with op.batch_alter_table("watches") as batch:
        for column in ("urgent", "quiet", "timezone", "deliver"):
            batch.drop_column(column)
