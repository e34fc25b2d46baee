"""Controls under alerts (issue 22): timed pauses, follow roles and follow-up modes of
watches, thread posts in the outbox, story mutes, and the claims of component clicks.

Revision ID: 0010_actions
Revises: 0009_trail
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Flag, Snowflake, StoredText, Time

revision = "0010_actions"
down_revision = "0009_trail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the watch and delivery columns and the two tables."""
    # Plain ADD COLUMN on both databases (a batch rebuild of an old SQLite file would drop
    # its unnamed CHECK constraints).
    op.add_column("watches", sa.Column("paused_until", Time))
    op.add_column("watches", sa.Column("follow_role_id", Snowflake))
    op.add_column("watches", sa.Column("follow_ups", StoredText, sa.CheckConstraint(
        "follow_ups IN ('edit', 'thread', 'off')", name=op.f("watches_follow_ups_check")),
        nullable=False, server_default=sa.text("'edit'")))
    op.add_column("deliveries", sa.Column("in_thread", Flag, nullable=False,
                                          server_default=sa.false()))
    op.create_table(
        "story_mutes",
        sa.Column("story_id", StoredText, nullable=False),
        sa.Column("target", StoredText, nullable=False),
        sa.Column("guild_id", Snowflake, nullable=False),
        sa.Column("muted_by", Snowflake, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.PrimaryKeyConstraint("story_id", "target", name="story_mutes_pkey"))
    op.create_table(
        "component_clicks",
        sa.Column("interaction_id", Snowflake, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.PrimaryKeyConstraint("interaction_id", name="component_clicks_pkey"))
    op.create_index("component_clicks_at", "component_clicks", ["at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("component_clicks_at", table_name="component_clicks")
    op.drop_table("component_clicks")
    op.drop_table("story_mutes")
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.drop_column("in_thread")
    with op.batch_alter_table("watches") as watches:
        watches.drop_column("follow_ups")
        watches.drop_column("follow_role_id")
        watches.drop_column("paused_until")
