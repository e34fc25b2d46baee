"""Every table, declared once for both databases.

Types say what the value is; ``types.py`` maps them per dialect (an id is BIGINT IDENTITY on
PostgreSQL and INTEGER PRIMARY KEY on SQLite). Adding a column: add it here and write one
Alembic revision in ``migrations/versions/`` (``test_schema_matches_migrations`` checks that
the two agree on both databases).
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    false,
    text,
)

from bot.store.types import Flag, Id, NameList, Snowflake, StoredText, Time

metadata = MetaData(naming_convention={
    "ix": "%(table_name)s_%(column_0_N_name)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
})

def _source() -> CheckConstraint:
    return CheckConstraint("source IN ('config', 'command')", name="source")

feeds = Table(
    "feeds", metadata,
    Column("id", Id, Identity(always=True), primary_key=True),
    Column("url", StoredText, nullable=False, unique=True),
    Column("title", StoredText),
    Column("etag", StoredText),
    Column("last_modified", StoredText),
    Column("body_hash", StoredText),
    Column("next_check", Time, nullable=False),
    Column("lease_until", Time, nullable=False, server_default=text("0")),
    Column("primed", Flag, nullable=False, server_default=false()),
    Column("error_count", Integer, nullable=False, server_default=text("0")),
    Column("last_error", StoredText),
    Column("last_error_at", Time),
    Column("last_success", Time),
    Column("last_polled", Time),
    Column("paused", Flag, nullable=False, server_default=false()),
    Column("created_at", Time, nullable=False),
    # The item keys of the latest ingested body: the daily prune never drops those.
    Column("latest_keys", NameList),
    Column("lease_owner", StoredText),  # the process (processes.id) whose lease this is
    # Adaptive intervals (bot.pipeline.next_check): the usual gap between items, the newest
    # item's date and the RSS <ttl>, as of the last parse. Written only when a body is parsed.
    Column("item_gap_s", Time),
    Column("newest_item_at", Time),
    Column("ttl_s", Time),
    # The WebSub hub the feed advertises (rel="hub") and its topic (rel="self"), as parsed.
    Column("websub_hub", StoredText),
    Column("websub_topic", StoredText),
    # Fencing (issue 20): each claim of the feed takes the next token; a poll's writes name
    # the token of its claim and change nothing once a later claim has taken the feed.
    Column("lease_token", Integer, nullable=False, server_default=text("0")),
    Index("feeds_due", "next_check"),
    # AUTOINCREMENT: a poll still running for a removed feed must never write to a new one.
    sqlite_autoincrement=True,
)

# guild_id 0 is the config file's scope.
subscriptions = Table(
    "subscriptions", metadata,
    Column("id", Id, Identity(always=True), primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("name", StoredText, nullable=False),
    Column("interval_s", Time, nullable=False),
    Column("source", StoredText, _source(), nullable=False),
    Column("created_at", Time, nullable=False),
    # Fetch the article page of new items (issue 13): 'auto', 'always' or 'never'.
    Column("full_text", StoredText, nullable=False, server_default=text("'auto'")),
    UniqueConstraint("guild_id", "name"),
    UniqueConstraint("guild_id", "feed_id"),
    Index("subscriptions_feed", "feed_id"),
)

watches = Table(
    "watches", metadata,
    Column("id", Id, Identity(always=True), primary_key=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("name", StoredText, nullable=False),
    Column("query", StoredText, nullable=False),
    Column("channel_id", Snowflake),
    Column("webhook_url", StoredText),
    Column("role_id", Snowflake),
    Column("feed_names", NameList),  # NULL = every feed of the guild
    Column("color", Integer),
    Column("collapse_after", Integer),
    # Issue 14: "group" edits a story's message for later items, "every-item" posts each.
    Column("stories", StoredText, CheckConstraint(
        "stories IN ('group', 'every-item')", name="stories"),
        nullable=False, server_default=text("'group'")),
    Column("paused", Flag, nullable=False, server_default=false()),
    Column("paused_reason", StoredText),
    Column("source", StoredText, _source(), nullable=False),
    Column("created_at", Time, nullable=False),
    # When matches go out (bot.config.cadence), as normalised by it.
    Column("deliver", StoredText, nullable=False, server_default=text("'instant'")),
    Column("timezone", StoredText, nullable=False, server_default=text("'UTC'")),
    Column("quiet", StoredText),
    Column("urgent", StoredText),
    # Issue 22: a pause from an alert's Pause control ends by itself at this time (NULL:
    # until resumed); the role the Follow button gives out; what a story's later sources do.
    Column("paused_until", Time),
    Column("follow_role_id", Snowflake),
    Column("follow_ups", StoredText, CheckConstraint(
        "follow_ups IN ('edit', 'thread', 'off')", name="follow_ups"),
        nullable=False, server_default=text("'edit'")),
    UniqueConstraint("guild_id", "name"),
)

items = Table(
    "items", metadata,
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("key", StoredText, nullable=False),
    Column("title", StoredText, nullable=False),
    Column("link", StoredText, nullable=False),
    Column("published", Time),
    Column("first_seen", Time, nullable=False),
    # JSON of the entry, for /watch test; '' once the daily prune dropped the body.
    Column("data", StoredText, nullable=False),
    # Issue 23: the item's meaning vector (base64 float32) when a feed it came from is followed
    # by an about: watch; computed once, at ingest. NULL otherwise.
    Column("vector", StoredText),
    PrimaryKeyConstraint("feed_id", "key"),
    Index("items_first_seen", "first_seen"),
    sqlite_with_rowid=False,
)

# The decision trail (issue 21): per item a primed feed's poll found new, what that poll
# decided (bot.store.trail). Rows go with their item (bot.store.retention) and their feed.
item_trail = Table(
    "item_trail", metadata,
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("item_key", StoredText, nullable=False),
    Column("seen_at", Time, nullable=False),  # the poll that found it new
    Column("article", StoredText),  # the full-text outcome (ok, paywall …); NULL: not fetched
    Column("story_id", StoredText),  # the story it joined
    Column("verdicts", StoredText, nullable=False),  # JSON, per watch (bot.store.trail)
    PrimaryKeyConstraint("feed_id", "item_key"),
    sqlite_with_rowid=False,
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Id, Identity(always=True), primary_key=True),
    Column("watch_id", Id, ForeignKey("watches.id", ondelete="CASCADE"), nullable=False),
    Column("feed_id", Id, nullable=False),
    Column("item_key", StoredText, nullable=False),
    Column("nonce", StoredText, nullable=False, unique=True),
    Column("payload", StoredText, nullable=False),  # JSON of the Alert
    Column("status", StoredText, CheckConstraint(
        "status IN ('pending', 'sent', 'failed')", name="status"),
        nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt", Time, nullable=False),
    Column("first_attempt", Time),
    Column("last_error", StoredText),
    Column("message_id", StoredText),
    Column("created_at", Time, nullable=False),
    Column("sent_at", Time),
    # An edit of the message another delivery posted (issue 14); NULL for a new message.
    Column("edit_of", Id),
    # Message state only moves forward (issue 20). An edit carries the revision of the message
    # content it renders; the message's own row (edit_of IS NULL) counts the revisions queued
    # so far in ``revision`` and the one its message shows in ``shown_revision``: an edit
    # whose revision is not above that one is older than what was sent, and is never sent.
    Column("revision", Integer, nullable=False, server_default=text("0")),
    Column("shown_revision", Integer, nullable=False, server_default=text("0")),
    Column("claimed_by", StoredText),  # the process sending it (holds its target's lease)
    Column("claim_token", Integer),  # that lease's fencing token when the attempt started
    # Issue 22: a further source posted into the thread of the message ``edit_of`` posted.
    Column("in_thread", Flag, nullable=False, server_default=false()),
    UniqueConstraint("watch_id", "feed_id", "item_key"),
    Index("deliveries_pending", "id", sqlite_where=text("status = 'pending'"),
          postgresql_where=text("status = 'pending'")),
)

# Issues 14 and 24: which story each posted item belongs to, per book (a guild; 0 the config
# file's watches; -1 rows only fingerprint alerted items), in decision order (version, seq),
# so every process can replay the same window; content_hash spots corrections of known items.
story_items = Table(
    "story_items", metadata,
    Column("seq", Id, Identity(always=True), primary_key=True),
    Column("book", Snowflake, nullable=False),
    Column("version", Id, nullable=False),
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("item_key", StoredText, nullable=False),
    Column("story_id", StoredText, nullable=False),
    Column("at", Time, nullable=False),
    Column("feed_name", StoredText, nullable=False),
    Column("title", StoredText, nullable=False),
    Column("lead", StoredText, nullable=False),
    Column("link", StoredText, nullable=False),
    Column("content_hash", StoredText, nullable=False),
    # When the poll behind the current title and summary fetched (NULL: ``at``). A correction
    # applies only from a poll that fetched no earlier (issue 20): a stale one never reverts it.
    Column("fetched_at", Time),
    UniqueConstraint("book", "feed_id", "item_key"),
    Index("story_items_at", "at"),
    Index("story_items_book", "book", "version"),
    sqlite_autoincrement=True,
)

# The version of each book: a decision is recorded only on the version it was made on.
story_books = Table(
    "story_books", metadata,
    Column("book", Snowflake, primary_key=True, autoincrement=False),
    Column("version", Id, nullable=False),
)

# One message per story per target: the delivery that posted it, the other sources since,
# and the pending edit (coalesced: one at a time, at most one per 10 s).
story_posts = Table(
    "story_posts", metadata,
    Column("id", Id, Identity(always=True), primary_key=True),
    Column("story_id", StoredText, nullable=False),
    Column("target", StoredText, nullable=False),
    Column("delivery_id", Id, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("sources", StoredText, nullable=False),  # JSON [[feed name, link], ...]
    Column("edit_id", Id),
    Column("last_edit_at", Time),
    Column("created_at", Time, nullable=False),
    UniqueConstraint("story_id", "target"),
    Index("story_posts_delivery", "delivery_id"),
)

# Article fetches per feed and outcome (issue 13: ok, paywall, timeout …), for /feed list.
article_stats = Table(
    "article_stats", metadata,
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("reason", StoredText, nullable=False),
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint("feed_id", "reason"),
)

# Matches of a digest or quiet-hours watch, held until ``hold_until`` (their period's end).
held_matches = Table(
    "held_matches", metadata,
    Column("id", Id, Identity(always=True), primary_key=True),
    Column("watch_id", Id, ForeignKey("watches.id", ondelete="CASCADE"), nullable=False),
    Column("feed_id", Id, nullable=False),
    Column("item_key", StoredText, nullable=False),
    Column("nonce", StoredText, nullable=False),  # its own, should it go out alone (late)
    Column("payload", StoredText, nullable=False),  # JSON of the Alert
    Column("hold_until", Time, nullable=False),
    Column("digest_id", Id),  # set when a digest took it
    Column("created_at", Time, nullable=False),
    UniqueConstraint("watch_id", "feed_id", "item_key"),
    Index("held_matches_due", "hold_until", sqlite_where=text("digest_id IS NULL"),
          postgresql_where=text("digest_id IS NULL")),
)

# One row per digest made: the unique (watch, period) makes each digest exactly once, across
# restarts and across processes sharing the database.
digests = Table(
    "digests", metadata,
    Column("id", Id, Identity(always=True), primary_key=True),
    Column("watch_id", Id, ForeignKey("watches.id", ondelete="CASCADE"), nullable=False),
    Column("period_end", Time, nullable=False),
    Column("matches", Integer, nullable=False),
    Column("created_at", Time, nullable=False),
    UniqueConstraint("watch_id", "period_end"),
)

# WebSub (bot/store/websub.py): one subscription per feed whose hub we asked to push.
websub_subscriptions = Table(
    "websub_subscriptions", metadata,
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("hub", StoredText, nullable=False),
    Column("topic", StoredText, nullable=False),
    Column("token", StoredText, nullable=False, unique=True),  # the callback's secret path
    Column("secret", StoredText, nullable=False),  # hub.secret: pushes are signed with it
    Column("state", StoredText, nullable=False),  # requested | active | denied | failed
    Column("lease_until", Time),  # while active: the hub pushes until then
    Column("next_attempt", Time, nullable=False),  # (re)subscribe then; a claim moves it on
    Column("last_error", StoredText),
)

# Several processes on one database (bot/store/leases.py). Times: the database's clock.
processes = Table(
    "processes", metadata,
    Column("id", StoredText, primary_key=True),  # a uuid per start
    Column("host", StoredText, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("roles", StoredText, nullable=False),
    Column("config_hash", StoredText, nullable=False),
    Column("started_at", Time, nullable=False),
    Column("heartbeat_at", Time, nullable=False),
    # A process forgotten by the others (its row deleted) joins again as the next generation.
    Column("generation", Integer, nullable=False, server_default=text("1")),
)

# Singular work held by one process at a time: gateway shards, delivery targets.
leases = Table(
    "leases", metadata,
    Column("name", StoredText, primary_key=True),
    Column("owner", StoredText, nullable=False),
    Column("expires_at", Time, nullable=False),
    Column("acquired_at", Time, nullable=False),
    # Fencing token: +1 whenever the lease starts a new holding (a new owner, or the same
    # owner after it expired); a renewal keeps it. Rows are never deleted, so it only grows.
    Column("token", Integer, nullable=False, server_default=text("0")),
)

# The config file in force (one row): replicas must run the same one.
cluster_config = Table(
    "cluster_config", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("config_hash", StoredText, nullable=False),
    Column("updated_at", Time, nullable=False),
)

# Issue 22: a story muted on a target (a channel) gets no more alerts or edits there.
story_mutes = Table(
    "story_mutes", metadata,
    Column("story_id", StoredText, nullable=False),
    Column("target", StoredText, nullable=False),
    Column("guild_id", Snowflake, nullable=False),
    Column("muted_by", Snowflake, nullable=False),
    Column("at", Time, nullable=False),
    PrimaryKeyConstraint("story_id", "target"),
)

# Issue 22: each click on an alert's controls, claimed by the first process to record it
# (Discord delivers an interaction to every session of its shard).
component_clicks = Table(
    "component_clicks", metadata,
    Column("interaction_id", Snowflake, nullable=False),
    Column("at", Time, nullable=False),
    PrimaryKeyConstraint("interaction_id"),
    Index("component_clicks_at", "at"),
)

# Slash commands handled (issue 20): one row per interaction id, claimed before the command
# runs, so a command delivered to two sessions (or replayed after a pause) runs once.
interactions = Table(
    "interactions", metadata,
    Column("id", Snowflake, primary_key=True, autoincrement=False),
    Column("owner", StoredText, nullable=False),  # the process that handled it
    Column("handled_at", Time, nullable=False),
    Index("interactions_handled", "handled_at"),
)
