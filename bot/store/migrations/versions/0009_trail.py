"""The decision trail (issue 21): what each poll decided about each new item.

Adds ``item_trail``: one row per item a primed feed's poll found new (when, the full-text
outcome, the story it joined, per watch the match or the first term that failed). Nothing
existing is rewritten; items seen before the upgrade simply have no trail ("known").

Revision ID: 0009_trail
Revises: 0008_revisions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Id, StoredText, Time

revision = "0009_trail"
down_revision = "0008_revisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One new table."""
    op.create_table(
        "item_trail",
        sa.Column("feed_id", Id, sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("item_key", StoredText, nullable=False),
        sa.Column("seen_at", Time, nullable=False),
        sa.Column("article", StoredText),
        sa.Column("story_id", StoredText),
        sa.Column("verdicts", StoredText, nullable=False),
        sa.PrimaryKeyConstraint("feed_id", "item_key"),
        sqlite_with_rowid=False)


def downgrade() -> None:
    """Drop it."""
    op.drop_table("item_trail")
