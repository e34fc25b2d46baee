"""Item retention: each feed remembers the item keys of its latest ingested body.

The daily prune keeps identity keys for 90 days and always those still in the feed's latest
body (an item a feed keeps listing must never be alerted twice); bodies go sooner.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import NameList

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add feeds.latest_keys (NULL until the feed's next ingest: nothing is pruned for it)."""
    op.add_column("feeds", sa.Column("latest_keys", NameList))


def downgrade() -> None:
    """Drop feeds.latest_keys."""
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("latest_keys")
