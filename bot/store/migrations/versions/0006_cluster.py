"""Several processes on one database: process rows, named leases, the config in force, and
the owner of each feed lease and of each delivery being sent (issue 12).

Revision ID: 0006_cluster
Revises: 0005_stories
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import StoredText, Time

revision = "0006_cluster"
down_revision = "0005_stories"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the three tables and the two owner columns."""
    op.create_table(
        "processes",
        sa.Column("id", StoredText, primary_key=True),
        sa.Column("host", StoredText, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("roles", StoredText, nullable=False),
        sa.Column("config_hash", StoredText, nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("heartbeat_at", Time, nullable=False))
    op.create_table(
        "leases",
        sa.Column("name", StoredText, primary_key=True),
        sa.Column("owner", StoredText, nullable=False),
        sa.Column("expires_at", Time, nullable=False),
        sa.Column("acquired_at", Time, nullable=False))
    op.create_table(
        "cluster_config",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("config_hash", StoredText, nullable=False),
        sa.Column("updated_at", Time, nullable=False))
    with op.batch_alter_table("feeds") as feeds:
        feeds.add_column(sa.Column("lease_owner", StoredText))
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("claimed_by", StoredText))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.drop_column("claimed_by")
    with op.batch_alter_table("feeds") as feeds:
        feeds.drop_column("lease_owner")
    for table in ("cluster_config", "leases", "processes"):
        op.drop_table(table)
