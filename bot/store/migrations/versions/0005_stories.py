"""Stories (issue 14): item → story in decision order, one message per story and target.

Adds ``watches.stories`` ("group" | "every-item"), ``deliveries.edit_of`` (a delivery that
edits the message another one posted), ``story_items`` and ``story_posts``.

Revision ID: 0005_stories
Revises: 0004_digests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Id, StoredText, Time

revision = "0005_stories"
down_revision = "0004_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Two columns and two tables, nothing rewritten."""
    # Plain ADD COLUMN on both databases (a batch rebuild of an old SQLite file would drop
    # its unnamed CHECK constraints).
    op.add_column("watches", sa.Column("stories", StoredText, sa.CheckConstraint(
        "stories IN ('group', 'every-item')", name=op.f("watches_stories_check")),
        nullable=False, server_default=sa.text("'group'")))
    op.add_column("deliveries", sa.Column("edit_of", Id))
    op.create_table(
        "story_items",
        sa.Column("seq", Id, sa.Identity(always=True), primary_key=True),
        sa.Column("feed_id", Id, sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
        *(sa.Column(name, StoredText, nullable=False) for name in ("item_key", "story_id")),
        sa.Column("at", Time, nullable=False),
        *(sa.Column(name, StoredText, nullable=False)
          for name in ("feed_name", "title", "lead", "link", "content_hash")),
        sa.UniqueConstraint("feed_id", "item_key"), sqlite_autoincrement=True)
    op.create_index("story_items_at", "story_items", ["at"])
    op.create_table(
        "story_posts",
        sa.Column("id", Id, sa.Identity(always=True), primary_key=True),
        *(sa.Column(name, StoredText, nullable=False) for name in ("story_id", "target")),
        sa.Column("delivery_id", Id, sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("sources", StoredText, nullable=False),
        sa.Column("edit_id", Id), sa.Column("last_edit_at", Time),
        sa.Column("created_at", Time, nullable=False),
        sa.UniqueConstraint("story_id", "target"))
    op.create_index("story_posts_delivery", "story_posts", ["delivery_id"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("story_posts")
    op.drop_table("story_items")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("edit_of")
    with op.batch_alter_table("watches") as batch:
        batch.drop_column("stories")
