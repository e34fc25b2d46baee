-- 0001: feeds with their schedule and health, per-guild subscriptions, watches,
-- seen items, and the delivery outbox.
CREATE TABLE feeds (
    -- AUTOINCREMENT: a poll still running for a removed feed must never write to a new one.
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    url           TEXT    NOT NULL UNIQUE,
    title         TEXT,
    etag          TEXT,
    last_modified TEXT,
    body_hash     TEXT,
    next_check    REAL    NOT NULL,
    lease_until   REAL    NOT NULL DEFAULT 0,
    primed        INTEGER NOT NULL DEFAULT 0,
    error_count   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    last_error_at REAL,
    last_success  REAL,
    last_polled   REAL,
    paused        INTEGER NOT NULL DEFAULT 0,
    created_at    REAL    NOT NULL
);
CREATE INDEX feeds_due ON feeds (next_check);

-- guild_id 0 is the config file's scope.
CREATE TABLE subscriptions (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    feed_id    INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    interval_s REAL    NOT NULL,
    source     TEXT    NOT NULL CHECK (source IN ('config', 'command')),
    created_at REAL    NOT NULL,
    UNIQUE (guild_id, name),
    UNIQUE (guild_id, feed_id)
);
CREATE INDEX subscriptions_feed ON subscriptions (feed_id);

CREATE TABLE watches (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    query          TEXT    NOT NULL,
    channel_id     INTEGER,
    webhook_url    TEXT,
    role_id        INTEGER,
    feed_names     TEXT,              -- JSON list, NULL = every feed of the guild
    color          INTEGER,
    collapse_after INTEGER,
    paused         INTEGER NOT NULL DEFAULT 0,
    paused_reason  TEXT,
    source         TEXT    NOT NULL CHECK (source IN ('config', 'command')),
    created_at     REAL    NOT NULL,
    UNIQUE (guild_id, name)
);

CREATE TABLE items (
    feed_id    INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    link       TEXT    NOT NULL,
    published  REAL,
    first_seen REAL    NOT NULL,
    data       TEXT    NOT NULL,      -- JSON of the entry, for /watch test
    PRIMARY KEY (feed_id, key)
) WITHOUT ROWID;
CREATE INDEX items_first_seen ON items (first_seen);

CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY,
    watch_id      INTEGER NOT NULL REFERENCES watches (id) ON DELETE CASCADE,
    feed_id       INTEGER NOT NULL,
    item_key      TEXT    NOT NULL,
    nonce         TEXT    NOT NULL UNIQUE,
    payload       TEXT    NOT NULL,   -- JSON of the Alert
    status        TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  REAL    NOT NULL,
    first_attempt REAL,
    last_error    TEXT,
    message_id    TEXT,
    created_at    REAL    NOT NULL,
    sent_at       REAL,
    UNIQUE (watch_id, feed_id, item_key)
);
CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'pending';
