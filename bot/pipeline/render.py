"""Turn new entries and the watches that see them into outbox drafts. Pure.

For each new entry (oldest first, so alerts post in publication order) the fast matcher
names the watches that match; each match is explained, its snippet cut, and an ``Alert``
built. The delivery nonce is derived from feed, item and watch, so a resend after a crash
carries the same nonce and Discord returns the first message instead of posting a second.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.config.cadence import INSTANT
from bot.core.model import Alert, Entry, Snippet
from bot.pipeline.match import (
    CompiledQuery,
    Document,
    Explanation,
    WatchMatcher,
    compile_query,
    document_from_entry,
)
from bot.pipeline.snippet import make_snippet
from bot.store.rows import DeliveryDraft, WatchRow

SUMMARY_LINES = 15
_NEVER = datetime.max.replace(tzinfo=UTC)
Compiled = tuple[WatchMatcher[int], dict[int, CompiledQuery]]


def delivery_nonce(feed_url: str, item_key: str, watch_id: int) -> str:
    """A deterministic nonce of 25 characters (Discord's maximum) for one delivery."""
    digest = hashlib.sha256(f"{feed_url}\n{item_key}\n{watch_id}".encode()).hexdigest()
    return "w" + digest[:24]


def publication_order(entries: Sequence[Entry]) -> list[Entry]:
    """Oldest first; undated entries keep feed order after dated ones (feeds list newest first)."""
    dated = sorted((e for e in entries if e.published), key=lambda e: e.published or _NEVER)
    undated = [e for e in entries if not e.published]
    return dated + list(reversed(undated))


def in_publication_order(drafts: list[DeliveryDraft],
                          entries: Sequence[Entry]) -> list[DeliveryDraft]:
    """Drafts planned per mode, merged back into one order: by item, then by watch."""
    position = {entry.key: i for i, entry in enumerate(publication_order(entries))}
    return sorted(drafts, key=lambda d: (position.get(d.item_key, len(position)), d.watch_id))


class MatcherCache:
    """Compiled matchers keyed by the watch set, so unchanged watches are not recompiled.

    Planning and previews run on worker threads, so one cache serves them all under a lock.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._matchers: OrderedDict[tuple[tuple[int, str], ...], Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, watches: Sequence[WatchRow]) -> Compiled:
        """The matcher for exactly these watches (their ids and queries)."""
        key = tuple((watch.id, watch.query) for watch in watches)
        with self._lock:
            found = self._matchers.get(key)
            if found is not None:
                self._matchers.move_to_end(key)
                return found
            compiled = {watch.id: compile_query(watch.query) for watch in watches}
            built = (WatchMatcher(compiled.items()), compiled)
            self._matchers[key] = built
            if len(self._matchers) > self._size:
                self._matchers.popitem(last=False)
            return built


def matches(entries: Sequence[Entry], watches: Sequence[tuple[WatchRow, str]],
            matchers: MatcherCache
            ) -> Iterator[tuple[int, WatchRow, str, Entry, Document, Explanation]]:
    """(position, watch, feed name, entry, document, explanation) of each match, entries
    in publication order. Watches are grouped by the feed's name in their guild, because
    ``feed:`` terms see it. What alerts and previews are made of, so they cannot disagree.
    """
    groups: dict[str, list[WatchRow]] = {}
    for watch, feed_name in watches:
        groups.setdefault(feed_name, []).append(watch)
    ordered = publication_order(entries)
    for feed_name, group in groups.items():
        matcher, compiled = matchers.get(group)
        by_id = {watch.id: watch for watch in group}
        for position, entry in enumerate(ordered):
            doc = document_from_entry(entry, feed_name)
            for watch_id in matcher.match(doc):
                explanation = compiled[watch_id].explain(doc)
                if explanation.matched:
                    yield position, by_id[watch_id], feed_name, entry, doc, explanation


def plan_deliveries(entries: Sequence[Entry], watches: Sequence[tuple[WatchRow, str]],
                    matchers: MatcherCache, feed_url: str, now: datetime) -> list[DeliveryDraft]:
    """Match new entries against the feed's watches; one draft per (entry, matching watch)."""
    found: list[tuple[int, int, DeliveryDraft]] = []
    for position, watch, feed_name, entry, doc, explanation in matches(entries, watches,
                                                                       matchers):
        alert = _alert(entry, watch, feed_name, doc, explanation, now)
        draft = DeliveryDraft(watch.id, entry.key, delivery_nonce(feed_url, entry.key, watch.id),
                              alert)
        found.append((position, watch.id, draft))
    found.sort(key=lambda item: (item[0], item[1]))
    drafts = [draft for _, _, draft in found]
    # A digest already gathers a watch's matches: collapsing them first would hide headlines.
    limits = {watch.id: watch.collapse_after for watch, _ in watches
              if watch.collapse_after and watch.cadence.deliver == INSTANT}
    return collapse_bursts(drafts, limits, feed_url) if limits else drafts


def collapse_bursts(drafts: Sequence[DeliveryDraft], limits: dict[int, int],
                    feed_url: str) -> list[DeliveryDraft]:
    """Replace more than ``limits[watch]`` drafts of one watch by one summary draft (opt-in)."""
    per_watch: dict[int, list[DeliveryDraft]] = {}
    for draft in drafts:
        per_watch.setdefault(draft.watch_id, []).append(draft)
    result: list[DeliveryDraft] = []
    for draft in drafts:
        group = per_watch[draft.watch_id]
        limit = limits.get(draft.watch_id)
        if limit is None or len(group) <= limit:
            result.append(draft)
        elif draft is group[0]:
            result.append(_summary(group, feed_url))
    return result


def _summary(group: Sequence[DeliveryDraft], feed_url: str) -> DeliveryDraft:
    first = group[0].alert
    lines = [f"• {draft.alert.title}" for draft in group[:SUMMARY_LINES]]
    if len(group) > SUMMARY_LINES:
        lines.append(f"… and {len(group) - SUMMARY_LINES} more")
    terms = tuple(dict.fromkeys(term for d in group for term in d.alert.matched_terms))
    key = "batch:" + hashlib.sha256("\n".join(d.item_key for d in group).encode()).hexdigest()
    alert = replace(first, title=f"{len(group)} new matches in {first.feed_name}",
                    snippet=Snippet("\n".join(lines)), matched_terms=terms, thumbnail=None)
    return DeliveryDraft(group[0].watch_id, key[:64],
                         delivery_nonce(feed_url, key, group[0].watch_id), alert)


def _alert(entry: Entry, watch: WatchRow, feed_name: str, doc: Document,
           explanation: Explanation, now: datetime) -> Alert:
    return Alert(
        watch_name=watch.name, feed_name=feed_name, title=entry.title or entry.link,
        link=entry.link, snippet=make_snippet(doc, explanation.spans),
        matched_terms=explanation.terms, published=entry.published, first_seen=now,
        thumbnail=entry.thumbnail, color=watch.color, role_id=watch.role_id)
