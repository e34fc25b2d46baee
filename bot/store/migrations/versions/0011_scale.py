"""Story books (issue 24): stories per guild, each book with a version checked at write time.

``story_items`` gains ``book`` (the guild whose watches posted the item; -1 for rows that only
fingerprint an alerted item for corrections) and ``version`` (the book's version the decision
was recorded at), and its unique key becomes (book, feed_id, item_key); ``story_books`` holds
each book's version. The table is rebuilt (a unique key cannot be altered on SQLite); the
decisions recorded before are kept as fingerprints only (book -1): they came from one shared
book, so they would mix guilds if replayed, but their corrections still edit their alerts.
``fetched_at`` (0008_revisions, issue 20) is kept in both directions.

Revision ID: 0011_scale
Revises: 0010_actions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import Id, Snowflake, StoredText, Time

revision = "0011_scale"
down_revision = "0010_actions"
branch_labels = None
depends_on = None


def _story_items(book: bool) -> None:
    extra = [sa.Column("book", Snowflake, nullable=False),
             sa.Column("version", Id, nullable=False)] if book else []
    op.create_table(
        "story_items",
        sa.Column("seq", Id, sa.Identity(always=True), primary_key=True),
        *extra,
        sa.Column("feed_id", Id, sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
        *(sa.Column(name, StoredText, nullable=False) for name in ("item_key", "story_id")),
        sa.Column("at", Time, nullable=False),
        *(sa.Column(name, StoredText, nullable=False)
          for name in ("feed_name", "title", "lead", "link", "content_hash")),
        sa.Column("fetched_at", Time),  # 0008_revisions (issue 20): kept in both shapes
        sa.UniqueConstraint(*(("book",) if book else ()), "feed_id", "item_key"),
        sqlite_autoincrement=True)
    op.create_index("story_items_at", "story_items", ["at"])
    if book:
        op.create_index("story_items_book", "story_items", ["book", "version"])


def upgrade() -> None:
    """Rebuild story_items with book and version (old rows: fingerprints); add story_books."""
    op.execute("CREATE TABLE story_items_old AS SELECT seq, feed_id, item_key, story_id, at,"
               " feed_name, title, lead, link, content_hash, fetched_at FROM story_items")
    op.drop_table("story_items")
    _story_items(book=True)
    op.execute("INSERT INTO story_items (book, version, feed_id, item_key, story_id, at,"
               " feed_name, title, lead, link, content_hash, fetched_at) SELECT -1, 0, feed_id,"
               " item_key, story_id, at, feed_name, title, lead, link, content_hash, fetched_at"
               " FROM story_items_old ORDER BY seq")
    op.drop_table("story_items_old")
    op.create_table(
        "story_books",
        sa.Column("book", Snowflake, primary_key=True, autoincrement=False),
        sa.Column("version", Id, nullable=False))


def downgrade() -> None:
    """One shared book again: the fingerprint rows, one per item, become its decisions."""
    op.drop_table("story_books")
    op.execute("CREATE TABLE story_items_old AS SELECT seq, book, feed_id, item_key, story_id,"
               " at, feed_name, title, lead, link, content_hash, fetched_at FROM story_items")
    op.drop_table("story_items")
    _story_items(book=False)
    op.execute("INSERT INTO story_items (feed_id, item_key, story_id, at, feed_name, title,"
               " lead, link, content_hash, fetched_at) SELECT feed_id, item_key, story_id, at,"
               " feed_name, title, lead, link, content_hash, fetched_at FROM story_items_old"
               " WHERE book = -1 ORDER BY seq")
    op.drop_table("story_items_old")
