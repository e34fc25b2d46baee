"""Fencing tokens for leases, feed claims and delivery attempts; process generations
(issue 20: a paused, stalled or forgotten process never acts on what it no longer holds).

Revision ID: 0007_fencing
Revises: 0006_cluster
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_fencing"
down_revision = "0006_cluster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the four columns (existing rows start at token 0, generation 1)."""
    with op.batch_alter_table("leases") as leases:
        leases.add_column(sa.Column("token", sa.Integer, nullable=False,
                                    server_default="0"))
    with op.batch_alter_table("processes") as processes:
        processes.add_column(sa.Column("generation", sa.Integer, nullable=False,
                                       server_default="1"))
    with op.batch_alter_table("feeds") as feeds:
        feeds.add_column(sa.Column("lease_token", sa.Integer, nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("claim_token", sa.Integer))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.drop_column("claim_token")
    with op.batch_alter_table("feeds") as feeds:
        feeds.drop_column("lease_token")
    with op.batch_alter_table("processes") as processes:
        processes.drop_column("generation")
    with op.batch_alter_table("leases") as leases:
        leases.drop_column("token")
