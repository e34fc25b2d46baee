"""Meaning vectors cached with items (issue 23): ``items.vector``, base64 float32, or NULL.

Revision ID: 0012_semantic
Revises: 0011_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import StoredText

revision = "0012_semantic"
down_revision = "0011_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable items.vector column (only items of feeds with about: watches)."""
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("vector", StoredText))


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("items") as batch:
        batch.drop_column("vector")
