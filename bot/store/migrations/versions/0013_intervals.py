"""Adaptive intervals and WebSub (issue 24): what a parse learnt of a feed, its subscriptions.

A subscription's interval 0 means "auto" (no real interval is 0 s); no column is needed there.
A feed's parse records its rate, ttl and WebSub hub; websub_subscriptions holds one per feed.

Revision ID: 0013_intervals
Revises: 0012_semantic
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Id, StoredText, Time

revision = "0013_intervals"
down_revision = "0012_semantic"
branch_labels = None
depends_on = None

TIMES = ("item_gap_s", "newest_item_at", "ttl_s")
TEXTS = ("websub_hub", "websub_topic")


def upgrade() -> None:
    """Add the feeds columns (all nullable) and the websub_subscriptions table."""
    with op.batch_alter_table("feeds") as batch:
        for name in TIMES:
            batch.add_column(sa.Column(name, Time))
        for name in TEXTS:
            batch.add_column(sa.Column(name, StoredText))
    op.create_table(
        "websub_subscriptions",
        sa.Column("feed_id", Id, sa.ForeignKey("feeds.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("hub", StoredText, nullable=False),
        sa.Column("topic", StoredText, nullable=False),
        sa.Column("token", StoredText, nullable=False, unique=True),
        sa.Column("secret", StoredText, nullable=False),
        sa.Column("state", StoredText, nullable=False),
        sa.Column("lease_until", Time),
        sa.Column("next_attempt", Time, nullable=False),
        sa.Column("last_error", StoredText))


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("websub_subscriptions")
    with op.batch_alter_table("feeds") as batch:
        for name in TIMES + TEXTS:
            batch.drop_column(name)
