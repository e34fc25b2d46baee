"""Corrections (issue 14): a known item whose headline or summary changed edits its alert.

The item keeps its identity (same key), so it is not new and posts nothing. The title and
summary of each alerted item are fingerprinted in ``story_items.content_hash`` (book -1, one
row per item; issue 24); when a poll sees a different fingerprint, the stored item is
updated and every alert it caused is brought up to date:
one not yet attempted is simply rewritten, one already posted gets an edit delivery with
the new headline and the "updated" marker (keeping its story's "Also reported by").

Polls are not ordered (two processes, a slow fetch, a paused one): a correction applies
only if its poll fetched no earlier than the poll behind the current text (``fetched_at``),
so a stale poll never "corrects" a headline back to its old text (issue 20).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update

from bot.core.model import Entry, Snippet, Source
from bot.core.text import html_to_text
from bot.store.codec import alert_from_json, alert_to_json, entry_to_json
from bot.store.dialect import stored_text
from bot.store.schema import deliveries, items, story_items, story_posts
from bot.store.stories import FINGERPRINTS, edits_muted, queue_edit
from bot.stories.book import LEAD_CHARS, content_hash

_KEYS_PER_QUERY = 5000


def changed_entries(conn: Connection, feed_id: int, entries: Sequence[Entry]) -> list[Entry]:
    """The entries whose stored fingerprint differs from their title and summary now."""
    by_key = {stored_text(conn, e.key): e for e in entries}
    keys = list(by_key)
    changed = []
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        rows = conn.execute(select(story_items.c.item_key, story_items.c.content_hash).where(
            story_items.c.book == FINGERPRINTS, story_items.c.feed_id == feed_id,
            story_items.c.item_key.in_(keys[start:start + _KEYS_PER_QUERY])))
        for key, stored in rows:
            entry = by_key.get(key)
            if entry is not None and content_hash(entry.title, entry.summary) != stored:
                changed.append(entry)
    return changed


def apply_corrections(conn: Connection, feed_id: int, entries: Sequence[Entry],
                      now: float) -> int:
    """Record the corrected entries and update or edit their alerts; how many alerts."""
    touched = 0
    for entry in entries:
        lead = html_to_text(entry.summary[:4000])[:LEAD_CHARS] if entry.summary else ""
        newer = conn.execute(update(story_items).where(
            story_items.c.feed_id == feed_id, story_items.c.item_key == entry.key,
            func.coalesce(story_items.c.fetched_at, story_items.c.at) <= now).values(
            content_hash=content_hash(entry.title, entry.summary), title=entry.title,
            lead=lead, fetched_at=now))
        if not newer.rowcount:
            continue  # this poll fetched before the one behind the current text: stale
        conn.execute(update(items).where(items.c.feed_id == feed_id,
                                         items.c.key == entry.key).values(
            title=entry.title, data=entry_to_json(entry)))
        originals = conn.execute(select(deliveries).where(
            deliveries.c.feed_id == feed_id, deliveries.c.item_key == entry.key,
            deliveries.c.edit_of.is_(None), deliveries.c.status != "failed")).all()
        for original in originals:
            _correct(conn, original, entry, lead, now)
            touched += 1
    return touched


def _correct(conn: Connection, row: Any, entry: Entry, lead: str, now: float) -> None:
    """Bring one alert (a deliveries row) up to date with the corrected entry."""
    alert = alert_from_json(row.payload)
    snippet = Snippet(lead, ()) if lead and lead != alert.snippet.text else alert.snippet
    fixed = dataclasses.replace(alert, title=entry.title or alert.title, snippet=snippet)
    if row.status == "pending" and row.first_attempt is None:
        # Not posted yet: post the corrected text, no marker needed. Only while no attempt
        # has started (checked under the row lock): the sender re-reads the row once its
        # attempt started, so a rewrite after that would never be seen; then edit instead.
        rewritten = conn.execute(update(deliveries).where(
            deliveries.c.id == row.id, deliveries.c.status == "pending",
            deliveries.c.first_attempt.is_(None)).values(payload=alert_to_json(fixed)))
        if rewritten.rowcount:
            return
    # Posted (or possibly posted): the corrected text becomes the base of later story
    # edits, and an edit shows it now with the marker and the story's other sources.
    conn.execute(update(deliveries).where(deliveries.c.id == row.id).values(
        payload=alert_to_json(dataclasses.replace(fixed, updated=True))))
    if edits_muted(conn, row):
        return  # the story was muted there (issue 22): no more edits of its message
    post = conn.execute(select(story_posts).where(
        story_posts.c.delivery_id == row.id)).first()
    sources = json.loads(post.sources) if post is not None else []
    shown = dataclasses.replace(fixed, updated=True, also_reported=tuple(
        Source(name, link) for name, link in sources))
    queue_edit(conn, row, shown, "fix" + content_hash(entry.title, entry.summary)[:8], now,
               post)
