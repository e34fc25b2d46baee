"""The decision trail (issue 21): per new item, what its poll decided, written by the ingest.

One row per item a primed feed's poll found new, in the ingest's transaction: when it was
seen (the poll), the full-text outcome, the story it joined, and per watch that saw it
whether it matched (on which terms, held until when) or the first term that failed. The
deliveries, held matches and story posts keep the rest (state, reason, message); ``why.py``
reads them together. Rows go with their item (``Retention``), and with their feed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Executable

from bot.core.fate import Verdict
from bot.core.model import Entry
from bot.store.dialect import upsert
from bot.store.schema import item_trail


@dataclass
class TrailNotes:
    """What a poll decided outside the store, per item key, for the trail to record.

    Filled by the poll while it plans (``plan_deliveries(..., verdicts=notes.verdicts)``,
    then the holds) and by the article step; read by the ingest's transaction.
    """

    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)
    articles: dict[str, str] = field(default_factory=dict)

    def hold(self, item_key: str, watch_id: int, until: float) -> None:
        """Note that the match of ``watch_id`` on ``item_key`` is held until ``until``."""
        found = self.verdicts.get(item_key, [])
        for index, verdict in enumerate(found):
            if verdict.watch_id == watch_id:
                found[index] = Verdict(watch_id, True, verdict.detail, until)


def verdicts_to_json(verdicts: Sequence[Verdict]) -> str:
    """Compact JSON: ``[[watch, 1, "terms", hold_until|null], [watch, 0, "reason"], …]``."""
    return json.dumps([[v.watch_id, 1, v.detail, v.hold_until] if v.matched
                       else [v.watch_id, 0, v.detail] for v in verdicts],
                      ensure_ascii=False, separators=(",", ":"))


def verdicts_from_json(text: str) -> tuple[Verdict, ...]:
    """The verdicts ``verdicts_to_json`` wrote."""
    return tuple(Verdict(int(row[0]), bool(row[1]), str(row[2]),
                         float(row[3]) if len(row) > 3 and row[3] is not None else None)
                 for row in json.loads(text or "[]"))


_INSERT: dict[str, Executable] = {}


def write_trail(conn: Connection, feed_id: int, now: float, entries: Sequence[Entry],
                notes: TrailNotes, stories: Mapping[str, str]) -> None:
    """Record the decisions about ``entries`` (the items this ingest found new)."""
    if not entries:
        return
    statement = _INSERT.get(conn.dialect.name)
    if statement is None:  # built once per dialect: building costs more than running
        statement = _INSERT[conn.dialect.name] = upsert(conn, item_trail).on_conflict_do_nothing()
    conn.execute(statement, [
        {"feed_id": feed_id, "item_key": entry.key, "seen_at": now,
         "article": notes.articles.get(entry.key), "story_id": stories.get(entry.key),
         "verdicts": verdicts_to_json(notes.verdicts.get(entry.key, ()))}
        for entry in entries])
