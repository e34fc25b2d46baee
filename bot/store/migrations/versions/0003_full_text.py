"""Full text (issue 13): a mode per subscription, article-fetch counts per feed.

Revision ID: 0003_full_text
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Id, StoredText

revision = "0003_full_text"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add subscriptions.full_text (default 'auto') and the article_stats table."""
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("full_text", StoredText, nullable=False,
                                   server_default=sa.text("'auto'")))
    op.create_table(
        "article_stats",
        sa.Column("feed_id", Id, sa.ForeignKey("feeds.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("reason", StoredText, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("feed_id", "reason"))


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("article_stats")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("full_text")
