"""Hold step: drafts of digest or quiet-hours watches are kept for a later digest (pure).

After ``plan_deliveries`` decides what matched, each draft of a watch whose cadence holds
gets ``hold_until``, the end of its digest period (see ``bot.config.cadence``), unless the
match is also matched by the watch's ``urgent`` query, which goes out now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.config.cadence import hold_until
from bot.core.model import Entry
from bot.pipeline.match import CompiledQuery, compile_query, document_from_entry
from bot.store.rows import DeliveryDraft, WatchRow


def hold_drafts(drafts: Sequence[DeliveryDraft], watches: Sequence[tuple[WatchRow, str]],
                entries: Sequence[Entry], now: datetime) -> list[DeliveryDraft]:
    """The drafts, those to be held carrying ``hold_until`` (Unix time)."""
    by_id = {watch.id: (watch, feed_name) for watch, feed_name in watches}
    if not any(watch.cadence.holds for watch, _ in by_id.values()):
        return list(drafts)
    entries_by_key = {entry.key: entry for entry in entries}
    urgent_queries: dict[str, CompiledQuery] = {}
    held = []
    for draft in drafts:
        watch, feed_name = by_id[draft.watch_id]
        cadence = watch.cadence
        if not cadence.holds:
            held.append(draft)
            continue
        urgent = False
        entry = entries_by_key.get(draft.item_key)
        if cadence.urgent and entry is not None:
            query = urgent_queries.get(cadence.urgent)
            if query is None:
                query = urgent_queries[cadence.urgent] = compile_query(cadence.urgent)
            urgent = query.matches(document_from_entry(entry, feed_name))
        until = hold_until(cadence, now, urgent=urgent)
        held.append(replace(draft, hold_until=until.timestamp() if until else None))
    return held
