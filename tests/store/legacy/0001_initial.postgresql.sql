-- 0001: feeds with their schedule and health, per-guild subscriptions, watches,
-- seen items, and the delivery outbox. The same model as sqlite/0001_initial.sql, in
-- PostgreSQL types: times are Unix seconds in DOUBLE PRECISION (exact round trip of the
-- Python floats the caller passes), Discord snowflakes are BIGINT, flags are BOOLEAN.
-- JSON documents stay TEXT, not JSONB: JSONB rejects \u0000 and reorders keys, and the
-- store only ever reads them back whole.
CREATE TABLE feeds (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url           TEXT             NOT NULL UNIQUE,
    title         TEXT,
    etag          TEXT,
    last_modified TEXT,
    body_hash     TEXT,
    next_check    DOUBLE PRECISION NOT NULL,
    lease_until   DOUBLE PRECISION NOT NULL DEFAULT 0,
    primed        BOOLEAN          NOT NULL DEFAULT FALSE,
    error_count   INTEGER          NOT NULL DEFAULT 0,
    last_error    TEXT,
    last_error_at DOUBLE PRECISION,
    last_success  DOUBLE PRECISION,
    last_polled   DOUBLE PRECISION,
    paused        BOOLEAN          NOT NULL DEFAULT FALSE,
    created_at    DOUBLE PRECISION NOT NULL
);
-- Paused feeds stay due at a slow probe schedule, so the index covers them too.
CREATE INDEX feeds_due ON feeds (next_check);

-- guild_id 0 is the config file's scope.
CREATE TABLE subscriptions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id   BIGINT           NOT NULL,
    feed_id    BIGINT           NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    name       TEXT             NOT NULL,
    interval_s DOUBLE PRECISION NOT NULL,
    source     TEXT             NOT NULL CHECK (source IN ('config', 'command')),
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (guild_id, name),
    UNIQUE (guild_id, feed_id)
);
CREATE INDEX subscriptions_feed ON subscriptions (feed_id);

CREATE TABLE watches (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guild_id       BIGINT           NOT NULL,
    name           TEXT             NOT NULL,
    query          TEXT             NOT NULL,
    channel_id     BIGINT,
    webhook_url    TEXT,
    role_id        BIGINT,
    feed_names     TEXT[],          -- NULL = every feed of the guild
    color          INTEGER,
    collapse_after INTEGER,
    paused         BOOLEAN          NOT NULL DEFAULT FALSE,
    paused_reason  TEXT,
    source         TEXT             NOT NULL CHECK (source IN ('config', 'command')),
    created_at     DOUBLE PRECISION NOT NULL,
    UNIQUE (guild_id, name)
);

CREATE TABLE items (
    feed_id    BIGINT           NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    key        TEXT             NOT NULL,
    title      TEXT             NOT NULL,
    link       TEXT             NOT NULL,
    published  DOUBLE PRECISION,
    first_seen DOUBLE PRECISION NOT NULL,
    data       TEXT             NOT NULL,  -- JSON of the entry, for /watch test
    PRIMARY KEY (feed_id, key)
);
CREATE INDEX items_first_seen ON items (first_seen);

CREATE TABLE deliveries (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch_id      BIGINT           NOT NULL REFERENCES watches (id) ON DELETE CASCADE,
    feed_id       BIGINT           NOT NULL,
    item_key      TEXT             NOT NULL,
    nonce         TEXT             NOT NULL UNIQUE,
    payload       TEXT             NOT NULL,  -- JSON of the Alert
    status        TEXT             NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sent', 'failed')),
    attempts      INTEGER          NOT NULL DEFAULT 0,
    next_attempt  DOUBLE PRECISION NOT NULL,
    first_attempt DOUBLE PRECISION,
    last_error    TEXT,
    message_id    TEXT,
    created_at    DOUBLE PRECISION NOT NULL,
    sent_at       DOUBLE PRECISION,
    UNIQUE (watch_id, feed_id, item_key)
);
CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'pending';
