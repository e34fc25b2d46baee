"""Stories in the store (issues 14 and 24): which story each posted item is in, and one
message per story and target, edited as more sources report it.

One book per guild (the config file's watches are guild 0): only items that make or join a
delivery of a "group" watch are grouped, in the book of that watch's guild, so a guild's
stories depend only on what its own watches posted. Each book has a version
(``story_books``). Decide outside, write inside: ``propose`` catches the process's book up
and decides with no lock held; the ingest's write transaction then bumps the book's version
only if it is still the one decided on, and records the decisions under the new version.
If another process recorded decisions in that book meanwhile, the transaction, now holding
the book's row, catches up and decides the few items again: waits are per book and bounded
by the (bounded) grouping of one poll's posted items, never by a cluster-wide lock.

A draft of a "group" watch whose story already has a message on the draft's target does not
post: it adds its source to that message's story post and queues (or refreshes) one pending
edit delivery, which the outbox sends at most once per ``EDIT_GAP_S`` per message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from bot.core.model import Alert, Entry, Source
from bot.store.codec import alert_from_json, alert_to_json
from bot.store.dialect import upsert
from bot.store.rows import DeliveryDraft
from bot.store.schema import (
    deliveries,
    story_books,
    story_items,
    story_mutes,
    story_posts,
    watches,
)
from bot.stories.book import StoryBook, StoryBooks, StoryRow, content_hash, story_item

EDIT_GAP_S = 10.0
PRUNE_EVERY = 1024  # recorded rows between two prunings of old story_items
KEEP_S = 2 * 24 * 3600.0
FINGERPRINTS = -1  # the book of rows that only fingerprint alerted items (corrections)
_recorded = [0]  # rows this process recorded: a pruning every PRUNE_EVERY


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """What grouping needs to know of a watch."""

    guild_id: int
    mode: str  # "group" | "every-item"
    target: str
    follow_ups: str = "edit"  # "edit" | "thread" | "off" (issue 22)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One book's decisions for a poll's posted items, made at ``version`` of the book."""

    book: int
    version: int
    decided: tuple[tuple[Entry, str, bool], ...]


def watch_targets(conn: Connection, ids: set[int]) -> dict[int, WatchTarget]:
    """Guild, stories mode, target and follow-ups of each watch in ``ids``."""
    query = select(watches.c.id, watches.c.guild_id, watches.c.stories, watches.c.channel_id,
                   watches.c.webhook_url, watches.c.follow_ups).where(
        watches.c.id.in_(sorted(ids)))
    return {row.id: WatchTarget(int(row.guild_id), row.stories,
                                target_key(row.channel_id, row.webhook_url), row.follow_ups)
            for row in conn.execute(query)}


def posted_by_book(drafts: Sequence[DeliveryDraft], targets: dict[int, WatchTarget]
                   ) -> dict[int, list[str]]:
    """Item keys to group, per book: those with a draft of a "group" watch to send now."""
    books: dict[int, list[str]] = {}
    for draft in drafts:
        watch = targets.get(draft.watch_id)
        if watch is None or watch.mode != "group" or draft.hold_until is not None:
            continue
        keys = books.setdefault(watch.guild_id, [])
        if draft.item_key not in keys:
            keys.append(draft.item_key)
    return books


def catch_up(conn: Connection, book: StoryBook, now: float, version: int | None = None) -> None:
    """Replay the decisions recorded in ``book`` since it last looked (its window on first use).

    The book's version is read before its rows: a row written after the read only moves the
    book further, never past rows it has not seen. ``version`` given: the caller holds the
    book's row and knows every version up to it is committed.
    """
    with book.lock:
        if version is None:
            version = int(conn.execute(select(story_books.c.version).where(
                story_books.c.book == book.book)).scalar() or 0)
        if version <= book.version:
            return
        query = select(story_items).where(story_items.c.book == book.book).order_by(
            story_items.c.version, story_items.c.seq)
        if book.version:
            query = query.where(story_items.c.version > book.version)
        else:
            query = query.where(story_items.c.at >= now - book.window)
        book.catch_up((StoryRow(r.seq, r.feed_id, r.item_key, r.story_id, r.at, r.feed_name,
                                r.title, r.lead, r.link, r.version)
                       for r in conn.execute(query)), version)


def propose(book: StoryBook, feed_id: int, entries: Sequence[Entry], now: float) -> Proposal:
    """Decide ``entries``' stories on the book as it stands (no lock, no database)."""
    with book.lock:
        return Proposal(book.book, book.version,
                        tuple(book.propose(feed_id, str(feed_id), entries, now)))


def record_stories(conn: Connection, books: StoryBooks, feed_id: int,
                   proposals: Sequence[Proposal], new_keys: set[str],
                   now: float) -> dict[tuple[int, str], str]:
    """Record each book's decisions for the entries that came back new; (book, item key) →
    story id. Call inside the ingest's write transaction, after the items were inserted."""
    stories: dict[tuple[int, str], str] = {}
    for proposal in sorted(proposals, key=lambda p: p.book):  # one lock order: no deadlock
        entries = [e for e, _s, _f in proposal.decided if e.key in new_keys]
        if not entries:
            continue
        conn.execute(upsert(conn, story_books).values(book=proposal.book, version=0)
                     .on_conflict_do_nothing())
        decided = list(proposal.decided)
        checked = conn.execute(update(story_books).where(
            story_books.c.book == proposal.book, story_books.c.version == proposal.version)
            .values(version=proposal.version + 1))
        version = proposal.version + 1
        if checked.rowcount != 1 or len(entries) != len(decided):
            # Another process decided in this book meanwhile (or some items were not new
            # after all): holding the book's row now, catch up and decide these again.
            version = int(conn.execute(update(story_books).where(
                story_books.c.book == proposal.book).values(
                version=story_books.c.version + 1).returning(story_books.c.version)
            ).scalar_one())
            book = books.get(proposal.book)
            catch_up(conn, book, now, version - 1)
            decided = book.propose(feed_id, str(feed_id), entries, now)
        _insert_rows(conn, proposal.book, version, feed_id, decided, now)
        stories.update({(proposal.book, e.key): story for e, story, _ in decided})
    return stories


def _insert_rows(conn: Connection, book: int, version: int, feed_id: int,
                 decided: Sequence[tuple[Entry, str, bool]], now: float) -> None:
    name = str(feed_id)  # the grouper only needs to know which items share a feed
    rows = []
    for entry, story, _folded in decided:
        item = story_item(feed_id, name, entry, now, book)
        rows.append({"book": book, "version": version, "feed_id": feed_id,
                     "item_key": entry.key, "story_id": story, "at": now, "feed_name": name,
                     "title": item.title, "lead": item.summary, "link": item.link,
                     "content_hash": content_hash(entry.title, entry.summary),
                     "fetched_at": now})
    conn.execute(insert(story_items), rows)
    _maybe_prune(conn, len(rows), now)


def record_fingerprints(conn: Connection, feed_id: int, entries: Sequence[Entry],
                        now: float) -> None:
    """Fingerprint alerted items, so that a later correction of one edits its alerts."""
    if not entries:
        return
    conn.execute(upsert(conn, story_items).on_conflict_do_nothing(), [
        {"book": FINGERPRINTS, "version": 0, "feed_id": feed_id, "item_key": entry.key,
         "story_id": "", "at": now, "feed_name": str(feed_id), "title": entry.title,
         "lead": "", "link": entry.link,
         "content_hash": content_hash(entry.title, entry.summary), "fetched_at": now}
        for entry in entries])
    _maybe_prune(conn, len(entries), now)


def _maybe_prune(conn: Connection, added: int, now: float) -> None:
    before = _recorded[0]
    _recorded[0] += added
    if before // PRUNE_EVERY != _recorded[0] // PRUNE_EVERY:
        # Now and then forget decisions far older than any window (and than corrections
        # are looked for): the table stays the size of about two windows of posted items.
        conn.execute(delete(story_items).where(story_items.c.at < now - KEEP_S))


def target_key(channel_id: int | None, webhook_url: str | None) -> str:
    """Where a watch posts, as a key that holds no webhook secret."""
    if channel_id:
        return f"channel:{channel_id}"
    if webhook_url:
        return "webhook:" + hashlib.sha256(webhook_url.encode()).hexdigest()[:24]
    return "console"


def muted_stories(conn: Connection, story_ids: set[str]) -> set[tuple[str, str]]:
    """Which (story, target) pairs among these stories are muted (issue 22)."""
    if not story_ids:
        return set()
    rows = conn.execute(select(story_mutes.c.story_id, story_mutes.c.target).where(
        story_mutes.c.story_id.in_(sorted(story_ids))))
    return {(str(story), str(target)) for story, target in rows}


def edits_muted(conn: Connection, original: Any) -> bool:
    """Whether the story of a posted alert (a deliveries row) is muted where it was posted.

    The story is the one of the watch's guild's book (one book per guild, issue 24).
    """
    found = conn.execute(
        select(story_items.c.story_id, watches.c.channel_id, watches.c.webhook_url)
        .join_from(story_items, watches, watches.c.id == original.watch_id)
        .where(story_items.c.feed_id == original.feed_id,
               story_items.c.item_key == original.item_key,
               story_items.c.book == watches.c.guild_id)).first()
    if found is None:
        return False
    target = target_key(found.channel_id, found.webhook_url)
    return (str(found.story_id), target) in muted_stories(conn, {str(found.story_id)})


def place_drafts(conn: Connection, feed_id: int, drafts: Sequence[DeliveryDraft],
                 stories: dict[tuple[int, str], str], targets: dict[int, WatchTarget],
                 now: float) -> list[DeliveryDraft]:
    """Post or edit for each draft of a "group" watch; return the drafts to post as usual.

    Drafts of "every-item" watches and items without a story come back untouched; drafts
    of a story muted on their target are dropped. A draft's story is the one of its watch's
    guild's book.
    """
    muted = muted_stories(conn, set(stories.values()))
    plain = []
    for draft in drafts:
        watch = targets.get(draft.watch_id)
        story = None if watch is None else stories.get((watch.guild_id, draft.item_key))
        if watch is not None and story is not None and (story, watch.target) in muted:
            continue
        if watch is None or watch.mode != "group" or story is None:
            plain.append(draft)
            continue
        post = conn.execute(select(story_posts).where(
            story_posts.c.story_id == story, story_posts.c.target == watch.target)).first()
        if post is None:
            delivery_id = _insert_delivery(conn, draft.watch_id, feed_id, draft.item_key,
                                           draft.nonce, draft.alert, now)
            if delivery_id is not None:
                conn.execute(insert(story_posts).values(
                    story_id=story, target=watch.target, delivery_id=delivery_id,
                    sources="[]", created_at=now))
        elif watch.follow_ups != "off":
            _add_source(conn, post, draft, now,
                        feed_id if watch.follow_ups == "thread" else None)
    return plain


def _insert_delivery(conn: Connection, watch_id: int, feed_id: int, item_key: str,
                     nonce: str, alert: Alert, next_attempt: float,
                     edit_of: int | None = None, in_thread: bool = False,
                     revision: int = 0) -> int | None:
    found = conn.execute(select(deliveries.c.id).where(
        deliveries.c.watch_id == watch_id, deliveries.c.feed_id == feed_id,
        deliveries.c.item_key == item_key)).scalar()
    if found is not None:
        return None  # already queued (a repeated ingest)
    return int(conn.execute(insert(deliveries).values(
        watch_id=watch_id, feed_id=feed_id, item_key=item_key, nonce=nonce,
        payload=alert_to_json(alert), next_attempt=next_attempt, created_at=next_attempt,
        edit_of=edit_of, in_thread=in_thread, revision=revision).returning(deliveries.c.id)
    ).scalar_one())


def _add_source(conn: Connection, post: Any, draft: DeliveryDraft, now: float,
                thread_feed: int | None) -> None:
    """Add the draft's source to the story post and queue the edit that shows it; with
    ``thread_feed`` (the draft's feed), also post the draft's alert into the story
    message's thread (once: a source already listed is not added again)."""
    alert = draft.alert
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
    if thread_feed is not None:
        # Nobody is pinged in the thread: the story message did that.
        quiet = dataclasses.replace(alert, role_id=None)
        _insert_delivery(conn, draft.watch_id, thread_feed, draft.item_key, draft.nonce,
                         quiet, now, edit_of=original.id, in_thread=True)


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
    one), and the next edit of that message waits ``EDIT_GAP_S``. A thread post (issue 22)
    is no edit of the message: nothing changes."""
    edit = conn.execute(select(deliveries.c.edit_of, deliveries.c.revision,
                               deliveries.c.in_thread).where(
        deliveries.c.id == delivery_id)).first()
    if edit is None or edit.edit_of is None or edit.in_thread:
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
