"""Turn new entries and the watches that see them into outbox drafts. Pure.

For each new entry (oldest first, so alerts post in publication order) the fast matcher
names the watches that match; each match is explained, its snippet cut, and an ``Alert``
built. The delivery nonce is derived from feed, item and watch, so a resend after a crash
carries the same nonce and Discord returns the first message instead of posting a second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from bot.config.cadence import INSTANT
from bot.core.fate import Verdict
from bot.core.model import Alert, Entry, Snippet
from bot.pipeline.match import (
    CompiledQuery,
    Document,
    EntryObserver,
    Explanation,
    MatcherCache,
    matches,
    publication_order,
)
from bot.pipeline.snippet import make_snippet
from bot.pipeline.verdicts import watch_verdicts
from bot.query.evaluate import DocView
from bot.query.semantic import Meaning
from bot.store.rows import DeliveryDraft, WatchRow

__all__ = ["MatcherCache", "collapse_bursts", "delivery_nonce", "plan_deliveries",
           "publication_order"]

SUMMARY_LINES = 15


def delivery_nonce(feed_url: str, item_key: str, watch_id: int) -> str:
    """A deterministic nonce of 25 characters (Discord's maximum) for one delivery."""
    digest = hashlib.sha256(f"{feed_url}\n{item_key}\n{watch_id}".encode()).hexdigest()
    return "w" + digest[:24]


def in_publication_order(drafts: list[DeliveryDraft],
                          entries: Sequence[Entry]) -> list[DeliveryDraft]:
    """Drafts planned per mode, merged back into one order: by item, then by watch."""
    position = {entry.key: i for i, entry in enumerate(publication_order(entries))}
    return sorted(drafts, key=lambda d: (position.get(d.item_key, len(position)), d.watch_id))


def plan_deliveries(entries: Sequence[Entry], watches: Sequence[tuple[WatchRow, str]],
                    matchers: MatcherCache, feed_url: str, now: datetime,
                    verdicts: dict[str, list[Verdict]] | None = None,
                    meanings: Mapping[str, Meaning] | None = None) -> list[DeliveryDraft]:
    """Match new entries against the feed's watches; one draft per (entry, matching watch).

    With ``verdicts``, each entry's key gets one ``Verdict`` per watch: the terms it matched
    on, or the first term that failed (the decision trail, issue 21). ``meanings`` (item key
    → scores) serve ``about:`` terms; an item without one never matches them.
    """
    observe: EntryObserver[WatchRow] | None = None
    if verdicts is not None:
        into = verdicts

        def observe(entry: Entry, view: DocView, group: list[WatchRow],
                    terms: dict[int, tuple[str, ...]], compiled: dict[int, CompiledQuery]) -> None:
            into.setdefault(entry.key, []).extend(watch_verdicts(view, group, terms, compiled))

    found: list[tuple[int, int, DeliveryDraft]] = []
    for position, watch, feed_name, entry, doc, explanation in matches(
            entries, watches, matchers, observe, meanings):
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
