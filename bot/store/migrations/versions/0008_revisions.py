"""Partial failures (issue 20): message revisions, the fetch behind an item's text, and the
interactions already handled.

Revision ID: 0008_revisions
Revises: 0007_fencing
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Snowflake, StoredText, Time

revision = "0008_revisions"
down_revision = "0007_fencing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the revision columns, ``story_items.fetched_at`` and the interactions table."""
    # Plain ADD COLUMN (a constant default), not a batch: on SQLite a batch would rebuild the
    # table, and a database made by the old runner would lose its unnamed CHECK constraint.
    for name in ("revision", "shown_revision"):
        op.add_column("deliveries", sa.Column(name, sa.Integer, nullable=False,
                                              server_default=sa.text("0")))
    op.add_column("story_items", sa.Column("fetched_at", Time))
    op.create_table(
        "interactions",
        sa.Column("id", Snowflake, primary_key=True, autoincrement=False),
        sa.Column("owner", StoredText, nullable=False),
        sa.Column("handled_at", Time, nullable=False))
    op.create_index("interactions_handled", "interactions", ["handled_at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("interactions_handled", table_name="interactions")
    op.drop_table("interactions")
    with op.batch_alter_table("story_items") as story_items:
        story_items.drop_column("fetched_at")
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.drop_column("shown_revision")
        deliveries.drop_column("revision")
