"""Adaptive intervals (issue 24): what a parse learnt of a feed's publishing rate and its ttl.

A subscription's interval 0 means "auto" (no real interval is 0 s); no column is needed there.

Revision ID: 0014_intervals
Revises: 0006_cluster
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Time

revision = "0014_intervals"
down_revision = "0006_cluster"
branch_labels = None
depends_on = None

COLUMNS = ("item_gap_s", "newest_item_at", "ttl_s")


def upgrade() -> None:
    """Add feeds.item_gap_s, feeds.newest_item_at and feeds.ttl_s (all nullable)."""
    with op.batch_alter_table("feeds") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, Time))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("feeds") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
