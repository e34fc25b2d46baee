"""Seen items: which keys a feed knows, and ingest (items + their deliveries, atomically)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Executable, bindparam, func, select, true, update

from bot.core.errors import LeaseLost
from bot.core.model import Entry
from bot.store.base import PlanDeliveries
from bot.store.codec import alert_to_json, entry_from_json, entry_to_json
from bot.store.corrections import apply_corrections, changed_entries
from bot.store.database import Database
from bot.store.dialect import stored_text, upsert
from bot.store.digests import hold_in
from bot.store.feeds import held_by
from bot.store.rows import DeliveryDraft, IngestResult, PublishingSeen, StoredItem
from bot.store.schema import deliveries, feeds, items, subscriptions
from bot.store.stories import (
    Proposal,
    WatchTarget,
    catch_up,
    place_drafts,
    posted_by_book,
    propose,
    record_fingerprints,
    record_stories,
    watch_targets,
)
from bot.store.types import NameList, StoredText, Time
from bot.stories import DEFAULT_WINDOW
from bot.stories.book import StoryBooks

_KEYS_PER_QUERY = 5000  # far below SQLite's 32,766 bound variables
# /watch test matches a bounded sample: bodies (soon with article text) are read whole.
RECENT_ITEMS_LIMIT = 1000

_KNOWN = select(items.c.key).where(items.c.feed_id == bindparam("p_feed"),
                                   items.c.key.in_(bindparam("p_keys", expanding=True)))
_PRIMED = select(feeds.c.primed).where(feeds.c.id == bindparam("p_feed"))
_SUCCESS = update(feeds).where(feeds.c.id == bindparam("p_id")).values(
    primed=true(), error_count=0, last_error=None, paused=False,
    last_success=bindparam("p_now"), last_polled=bindparam("p_now"),
    next_check=bindparam("p_next"), lease_until=0,
    title=func.coalesce(bindparam("p_title", type_=StoredText), feeds.c.title),
    etag=bindparam("p_etag", type_=StoredText),
    last_modified=bindparam("p_modified", type_=StoredText),
    body_hash=bindparam("p_hash", type_=StoredText),
    latest_keys=bindparam("p_keys", type_=NameList),
    item_gap_s=func.coalesce(bindparam("p_gap", type_=Time), feeds.c.item_gap_s),
    newest_item_at=func.coalesce(bindparam("p_newest", type_=Time), feeds.c.newest_item_at),
    ttl_s=bindparam("p_ttl", type_=Time),
    websub_hub=bindparam("p_hub", type_=StoredText),
    websub_topic=bindparam("p_topic", type_=StoredText))


def known_in(conn: Connection, feed_id: int, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` the feed has recorded (as given, not as stored)."""
    stored = {stored_text(conn, key): key for key in keys}
    wanted = list(stored)
    found: set[str] = set()
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        rows = conn.execute(_KNOWN, {"p_feed": feed_id,
                                     "p_keys": wanted[start:start + _KEYS_PER_QUERY]})
        found.update(stored[key] for key in rows.scalars())
    return found


@dataclass(frozen=True, slots=True)
class Poll:
    """What a successful poll writes about its feed."""

    feed_id: int
    now: float
    next_check: float
    title: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    keys: tuple[str, ...] = ()  # every item key in the body (the prune keeps them)
    publishing: PublishingSeen | None = None  # None keeps what the feed row had
    lease: int | None = None  # the claim's fencing token (None: unguarded)


@dataclass(frozen=True, slots=True)
class Grouping:
    """Decided before the write: the watches' guilds and targets, each book's proposal."""

    books: StoryBooks
    targets: dict[int, WatchTarget]
    proposals: tuple[Proposal, ...] = ()


def record(conn: Connection, poll: Poll, candidates: Sequence[Entry],
           drafts: Sequence[DeliveryDraft] | None, grouping: Grouping | None = None,
           fixed: Sequence[Entry] = ()) -> IngestResult | None:
    """Write the items not yet stored and the deliveries of those that came back new.

    ``drafts`` were planned outside for a primed feed (None: the feed was not primed then),
    with their ``grouping``. None back: the feed became primed meanwhile, so the caller plans
    and calls again. A first poll records items only: nothing is grouped, nothing posted.
    """
    # FOR UPDATE (PostgreSQL): two ingests of one feed take turns; SQLite's BEGIN IMMEDIATE
    # already did that. A feed never goes from primed back to silent. The wait is bounded by
    # the session's lock_timeout, the hold by this short transaction (and, should this
    # process stop inside it, by the server's idle-in-transaction timeout).
    primed_now = conn.execute(select(feeds.c.primed).where(
        feeds.c.id == poll.feed_id, held_by(poll.lease)).with_for_update()).first()
    if primed_now is None:
        raise LeaseLost(f"feed {poll.feed_id} was claimed again since this poll started")
    primed = bool(primed_now[0])
    if primed and drafts is None:
        return None
    new_keys = _insert_items(conn, poll.feed_id, candidates, poll.now)
    new_entries = [e for e in candidates if stored_text(conn, e.key) in new_keys]
    queued = 0
    if primed:
        queued = _queue(conn, poll, new_entries, drafts or (), grouping)
        if fixed:
            queued += apply_corrections(conn, poll.feed_id, fixed, poll.now)
    # Under the row lock taken above: the claim is still this poll's.
    conn.execute(_SUCCESS, {
        "p_id": poll.feed_id, "p_now": poll.now, "p_next": poll.next_check,
        "p_title": poll.title, "p_etag": poll.etag, "p_modified": poll.last_modified,
        "p_hash": poll.body_hash, "p_keys": list(poll.keys), **_publishing(poll)})
    return IngestResult(new_items=len(new_entries), deliveries=queued)


def _queue(conn: Connection, poll: Poll, new_entries: Sequence[Entry],
           drafts: Sequence[DeliveryDraft], grouping: Grouping | None) -> int:
    """Hold, group and queue the drafts of the new entries; how many were queued."""
    new = {entry.key for entry in new_entries}
    fresh = hold_in(conn, poll.feed_id, poll.now, [d for d in drafts if d.item_key in new])
    queued = len(fresh)
    if not fresh:
        return queued
    alerted = {draft.item_key for draft in fresh}
    record_fingerprints(conn, poll.feed_id, [e for e in new_entries if e.key in alerted],
                        poll.now)
    if grouping is not None and grouping.proposals:
        stories = record_stories(conn, grouping.books, poll.feed_id, grouping.proposals, new,
                                 poll.now)
        fresh = place_drafts(conn, poll.feed_id, fresh, stories, grouping.targets, poll.now)
    if fresh:
        conn.execute(_inserts(conn)[1], [
            {"watch_id": draft.watch_id, "feed_id": poll.feed_id, "item_key": draft.item_key,
             "nonce": draft.nonce, "payload": alert_to_json(draft.alert),
             "next_attempt": poll.now, "created_at": poll.now} for draft in fresh])
    return queued


def _publishing(poll: Poll) -> dict[str, float | str | None]:
    seen = poll.publishing or PublishingSeen(None, None, None)
    return {"p_gap": seen.item_gap_s, "p_newest": seen.newest_item_at, "p_ttl": seen.ttl_s,
            "p_hub": seen.websub_hub, "p_topic": seen.websub_topic}


_INSERTS: dict[str, tuple[Executable, Executable]] = {}


def _inserts(conn: Connection) -> tuple[Executable, Executable]:
    """The dialect's item and delivery INSERTs, built once (building costs more than SQLite
    takes to run them)."""
    found = _INSERTS.get(conn.dialect.name)
    if found is None:
        found = _INSERTS[conn.dialect.name] = (
            upsert(conn, items).on_conflict_do_nothing().returning(items.c.key),
            upsert(conn, deliveries).on_conflict_do_nothing())
    return found


def _insert_items(conn: Connection, feed_id: int, entries: Sequence[Entry],
                  now: float) -> set[str]:
    if not entries:
        return set()
    # One multi-row INSERT … ON CONFLICT DO NOTHING RETURNING key per page of rows
    # (SQLAlchemy's "insertmanyvalues"), on both databases.
    rows = conn.execute(_inserts(conn)[0], [
        {"feed_id": feed_id, "key": entry.key, "title": entry.title, "link": entry.link,
         "published": entry.published.timestamp() if entry.published else None,
         "first_seen": now, "data": entry_to_json(entry)} for entry in entries])
    return set(rows.scalars())


class Items(Database):
    """Seen items and ingest."""

    _story_books: StoryBooks | None = None
    _story_window: float = DEFAULT_WINDOW

    @property
    def story_books(self) -> StoryBooks:
        """This process's view of each guild's story window (issue 24), from the database."""
        if self._story_books is None:
            self._story_books = StoryBooks(self._story_window)
        return self._story_books

    def set_story_window(self, seconds: float) -> None:
        """Compare new items with the stories of the last ``seconds`` (config ``story_window``)."""
        if seconds != self._story_window:
            self._story_window = seconds
            self._story_books = None

    async def known_keys(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` this feed has already recorded."""
        return await self.read(lambda conn: known_in(conn, feed_id, keys))

    async def ingest(self, feed_id: int, entries: Sequence[Entry], *, now: float,
                     next_check: float, title: str | None, etag: str | None,
                     last_modified: str | None, body_hash: str | None,
                     plan: PlanDeliveries, lease: int | None = None,
                     publishing: PublishingSeen | None = None) -> IngestResult:
        """Record items and, for a primed feed, queue deliveries for the new ones: atomically.

        Decide outside, write inside: one read learns the known keys and whether the feed is
        primed, ``plan`` (match and render, pure CPU) runs on a worker thread holding no
        lock, and one short transaction writes the items with the deliveries of exactly those
        that came back new. Items and their deliveries commit together or not at all.
        With ``lease`` (the claim's fencing token) it raises LeaseLost and writes nothing
        once a later claim has taken the feed.
        """
        poll = Poll(feed_id, now, next_check, title, etag, last_modified, body_hash,
                    tuple(entry.key for entry in entries), publishing, lease)

        def look(conn: Connection) -> tuple[bool, set[str], list[Entry]]:
            primed = bool(conn.execute(_PRIMED, {"p_feed": feed_id}).scalar())
            known = known_in(conn, feed_id, [entry.key for entry in entries])
            # Known items whose headline or summary changed: corrections (issue 14).
            fixed = changed_entries(conn, feed_id, [e for e in entries if e.key in known])
            return primed, known, fixed

        primed, known, fixed = await self.read(look)
        candidates = [entry for entry in entries if entry.key not in known]
        drafts = await _plan(plan, candidates) if primed else None
        grouping = await self._group(feed_id, candidates, drafts, now)
        result = await self.write(
            lambda conn: record(conn, poll, candidates, drafts, grouping, fixed))
        if result is None:  # primed meanwhile by another poll of this feed: plan after all
            drafts = await _plan(plan, candidates)
            grouping = await self._group(feed_id, candidates, drafts, now)
            result = await self.write(
                lambda conn: record(conn, poll, candidates, drafts, grouping, fixed))
        return result or IngestResult(new_items=0, deliveries=0)

    async def _group(self, feed_id: int, candidates: Sequence[Entry],
                     drafts: Sequence[DeliveryDraft] | None, now: float) -> Grouping | None:
        """Each book's proposal for the items that would post, decided off the write path:
        one read catches the books up, the decisions run on a worker thread."""
        if not drafts:
            return None
        books = self.story_books

        def look(conn: Connection) -> tuple[dict[int, WatchTarget], dict[int, list[str]]]:
            targets = watch_targets(conn, {draft.watch_id for draft in drafts})
            posted = posted_by_book(drafts, targets)
            for book in posted:
                catch_up(conn, books.get(book), now)
            return targets, posted

        targets, posted = await self.read(look)
        by_key = {entry.key: entry for entry in candidates}

        def decide() -> tuple[Proposal, ...]:
            return tuple(propose(books.get(book), feed_id,
                                 [by_key[key] for key in keys if key in by_key], now)
                         for book, keys in posted.items())

        proposals = await asyncio.to_thread(decide) if posted else ()
        return Grouping(books, targets, proposals)

    async def alerted_keys(self, feed_id: int, keys: Sequence[str], since: float) -> set[str]:
        """Which of ``keys`` caused an alert since ``since`` (their corrections edit it)."""
        def query(conn: Connection) -> set[str]:
            stored = {stored_text(conn, key): key for key in keys}
            wanted = list(stored)
            found: set[str] = set()
            for start in range(0, len(wanted), _KEYS_PER_QUERY):
                rows = conn.execute(select(deliveries.c.item_key).where(
                    deliveries.c.feed_id == feed_id, deliveries.c.edit_of.is_(None),
                    deliveries.c.created_at >= since,
                    deliveries.c.item_key.in_(wanted[start:start + _KEYS_PER_QUERY])))
                found.update(stored[key] for key in rows.scalars())
            return found
        return await self.read(query)

    async def recent_items(self, guild_id: int, since: float,
                           limit: int = RECENT_ITEMS_LIMIT) -> list[StoredItem]:
        """At most ``limit`` items first seen since ``since`` in the feeds a guild subscribes
        to, newest first; items whose body was pruned are left out."""
        query = (select(subscriptions.c.name, items.c.data, items.c.first_seen)
                 .join_from(items, subscriptions, (subscriptions.c.feed_id == items.c.feed_id)
                            & (subscriptions.c.guild_id == guild_id))
                 .where(items.c.first_seen >= since, items.c.data != "")
                 .order_by(items.c.first_seen.desc(), items.c.published.desc().nulls_last())
                 .limit(limit))
        rows = await self.read(lambda conn: conn.execute(query).all())
        return [StoredItem(name, entry_from_json(data), first_seen)
                for name, data, first_seen in rows]


async def _plan(plan: PlanDeliveries, candidates: Sequence[Entry]) -> list[DeliveryDraft]:
    if not candidates:
        return []
    return list(await asyncio.to_thread(plan, candidates))
