"""Stories in the store (issue 14): which story each item is in, and one message per story
and target, edited as more sources report it.

Everything here runs inside the ingest transaction. Story assignment takes the story lock
first (a transaction-scoped advisory lock of this schema on PostgreSQL, waited for at most the
session's ``lock_timeout``; SQLite's BEGIN IMMEDIATE already serialises writers), replays what
other processes decided since this process last looked, decides, and records its decisions
with the next sequence numbers: every process decides as one process would, and the
decisions commit with the items or not at all.

A draft of a "group" watch whose story already has a message on the draft's target does not
post: it adds its source to that message's story post and queues (or refreshes) one pending
edit delivery, which the outbox sends at most once per ``EDIT_GAP_S`` per message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from bot.core.model import Alert, Entry, Source
from bot.store.codec import alert_from_json, alert_to_json
from bot.store.dialect import lock_story_window
from bot.store.rows import DeliveryDraft
from bot.store.schema import deliveries, story_items, story_posts, watches
from bot.stories.book import StoryBook, StoryRow, content_hash, story_item

EDIT_GAP_S = 10.0
PRUNE_EVERY = 1024  # decisions between two prunings of old story_items
KEEP_S = 2 * 24 * 3600.0


def lock_stories(conn: Connection) -> None:
    """Take the story lock until the transaction ends (PostgreSQL; SQLite holds the db)."""
    lock_story_window(conn)


def catch_up(conn: Connection, book: StoryBook, now: float) -> None:
    """Replay the decisions recorded since the book last looked (the window on first use).

    Also called in a read before the ingest's write transaction, so a restarted process
    rebuilds its window without holding the story lock (inside it, only the rest is new).
    """
    with book.lock:
        query = select(story_items).order_by(story_items.c.seq)
        if book.seq:
            query = query.where(story_items.c.seq > book.seq)
        else:
            query = query.where(story_items.c.at >= now - book.window)
        book.catch_up(StoryRow(r.seq, r.feed_id, r.item_key, r.story_id, r.at, r.feed_name,
                               r.title, r.lead, r.link) for r in conn.execute(query))


def assign(conn: Connection, book: StoryBook, feed_id: int, entries: Sequence[Entry],
           now: float) -> dict[str, str]:
    """Story id of each new entry, recorded in ``story_items``. Hold the story lock."""
    if not entries:
        return {}
    with book.lock:
        return _assign_locked(conn, book, feed_id, entries, now)


def _assign_locked(conn: Connection, book: StoryBook, feed_id: int, entries: Sequence[Entry],
                   now: float) -> dict[str, str]:
    catch_up(conn, book, now)
    name = str(feed_id)  # the grouper only needs to know which items share a feed
    decided = book.assign(feed_id, name, entries, now)
    rows = []
    for entry, story, _folded in decided:
        item = story_item(feed_id, name, entry, now)
        rows.append({"feed_id": feed_id, "item_key": entry.key, "story_id": story, "at": now,
                     "feed_name": name, "title": item.title, "lead": item.summary,
                     "link": item.link, "content_hash": content_hash(entry.title,
                                                                     entry.summary),
                     "fetched_at": now})
    conn.execute(insert(story_items), rows)
    before = book.seq
    book.seq = int(conn.execute(select(func.max(story_items.c.seq))).scalar() or 0)
    if book.seq // PRUNE_EVERY != before // PRUNE_EVERY:
        # Now and then forget decisions far older than the window (and than corrections
        # are looked for): the table stays the size of about two windows.
        conn.execute(delete(story_items).where(
            story_items.c.at < now - max(2 * book.window, KEEP_S)))
    return {entry.key: story for entry, story, _ in decided}


def target_key(channel_id: int | None, webhook_url: str | None) -> str:
    """Where a watch posts, as a key that holds no webhook secret."""
    if channel_id:
        return f"channel:{channel_id}"
    if webhook_url:
        return "webhook:" + hashlib.sha256(webhook_url.encode()).hexdigest()[:24]
    return "console"


def _watch_modes(conn: Connection, ids: set[int]) -> dict[int, tuple[str, str]]:
    query = select(watches.c.id, watches.c.stories, watches.c.channel_id,
                   watches.c.webhook_url).where(watches.c.id.in_(sorted(ids)))
    return {row.id: (row.stories, target_key(row.channel_id, row.webhook_url))
            for row in conn.execute(query)}


def place_drafts(conn: Connection, feed_id: int, drafts: Sequence[DeliveryDraft],
                 stories: dict[str, str], now: float) -> list[DeliveryDraft]:
    """Post or edit for each draft of a "group" watch; return the drafts to post as usual.

    Drafts of "every-item" watches and items without a story come back untouched.
    """
    modes = _watch_modes(conn, {draft.watch_id for draft in drafts})
    plain = []
    for draft in drafts:
        mode, target = modes.get(draft.watch_id, ("every-item", ""))
        story = stories.get(draft.item_key)
        if mode != "group" or story is None:
            plain.append(draft)
            continue
        post = conn.execute(select(story_posts).where(
            story_posts.c.story_id == story, story_posts.c.target == target)).first()
        if post is None:
            delivery_id = _insert_delivery(conn, draft.watch_id, feed_id, draft.item_key,
                                           draft.nonce, draft.alert, now)
            if delivery_id is not None:
                conn.execute(insert(story_posts).values(
                    story_id=story, target=target, delivery_id=delivery_id, sources="[]",
                    created_at=now))
        else:
            _add_source(conn, post, draft.alert, now)
    return plain


def _insert_delivery(conn: Connection, watch_id: int, feed_id: int, item_key: str,
                     nonce: str, alert: Alert, next_attempt: float,
                     edit_of: int | None = None, revision: int = 0) -> int | None:
    found = conn.execute(select(deliveries.c.id).where(
        deliveries.c.watch_id == watch_id, deliveries.c.feed_id == feed_id,
        deliveries.c.item_key == item_key)).scalar()
    if found is not None:
        return None  # already queued (a repeated ingest)
    return int(conn.execute(insert(deliveries).values(
        watch_id=watch_id, feed_id=feed_id, item_key=item_key, nonce=nonce,
        payload=alert_to_json(alert), next_attempt=next_attempt, created_at=next_attempt,
        edit_of=edit_of, revision=revision).returning(deliveries.c.id)).scalar_one())


def _add_source(conn: Connection, post: Any, alert: Alert, now: float) -> None:
    """Add the draft's source to the story post and queue the edit that shows it."""
    original = conn.execute(select(deliveries).where(
        deliveries.c.id == post.delivery_id)).first()
    if original is None:
        return
    base = alert_from_json(original.payload)
    sources: list[list[str]] = json.loads(post.sources)
    source = [alert.feed_name, alert.link]
    if source in sources or (alert.link and alert.link == base.link):
        return
    sources.append(source)
    conn.execute(update(story_posts).where(story_posts.c.id == post.id).values(
        sources=json.dumps(sources, ensure_ascii=False)))
    rendered = dataclasses.replace(
        base, also_reported=tuple(Source(name, link) for name, link in sources))
    queue_edit(conn, original, rendered, f"{len(sources)}", now, post)


def queue_edit(conn: Connection, original: Any, alert: Alert, tag: str, now: float,
               post: Any = None) -> None:
    """Queue an edit of ``original``'s message to ``alert``, as the message's next revision.

    With a story post: refresh its pending edit while that has not been attempted, else
    queue a new one no sooner than ``EDIT_GAP_S`` after the post's last edit.
    """
    revision = next_revision(conn, original.id)
    if post is not None and post.edit_id is not None:
        refreshed = conn.execute(update(deliveries).where(
            deliveries.c.id == post.edit_id, deliveries.c.status == "pending",
            deliveries.c.first_attempt.is_(None)).values(payload=alert_to_json(alert),
                                                         revision=revision))
        if refreshed.rowcount:
            return
    last = post.last_edit_at if post is not None else None
    due = max(now, (last or 0.0) + EDIT_GAP_S)
    owner = f"p{post.id}" if post is not None else f"d{original.id}"
    edit_id = _insert_delivery(conn, original.watch_id, original.feed_id,
                               f"edit:{owner}:{tag}", f"e{owner}.{tag}"[:25], alert, due,
                               edit_of=original.id, revision=revision)
    if edit_id is not None and post is not None:
        conn.execute(update(story_posts).where(story_posts.c.id == post.id).values(
            edit_id=edit_id))


def next_revision(conn: Connection, original_id: int) -> int:
    """The next revision of the message ``original_id`` posted (a counter on its row; the
    row lock orders two ingests that edit one message)."""
    return int(conn.execute(update(deliveries).where(deliveries.c.id == original_id)
                            .values(revision=deliveries.c.revision + 1)
                            .returning(deliveries.c.revision)).scalar_one())


def edit_sent(conn: Connection, delivery_id: int, now: float) -> None:
    """An edit reached Discord: its message shows its revision now (unless it shows a later
    one), and the next edit of that message waits ``EDIT_GAP_S``."""
    edit = conn.execute(select(deliveries.c.edit_of, deliveries.c.revision).where(
        deliveries.c.id == delivery_id)).first()
    if edit is None or edit.edit_of is None:
        return
    conn.execute(update(deliveries).where(deliveries.c.id == edit.edit_of,
                                          deliveries.c.shown_revision < edit.revision)
                 .values(shown_revision=edit.revision))
    conn.execute(update(story_posts).where(story_posts.c.delivery_id == edit.edit_of)
                 .values(last_edit_at=now))
    edit_done(conn, delivery_id)


def edit_done(conn: Connection, delivery_id: int) -> None:
    """The story post's pending edit is no longer ``delivery_id``: the next source queues
    (or refreshes) another."""
    conn.execute(update(story_posts).where(story_posts.c.edit_id == delivery_id).values(
        edit_id=None))
