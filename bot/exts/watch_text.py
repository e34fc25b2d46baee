"""The text of /watch replies: one line per watch, query explanations, recorded items."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace

from bot.config.cadence import SEND_NOW
from bot.core.errors import QueryError
from bot.delivery.embed import render_snippet
from bot.exts.common import plain
from bot.pipeline.match import (
    CompiledQuery,
    WatchMatcher,
    compile_query,
    document_from_entry,
    document_from_mapping,
)
from bot.pipeline.snippet import make_snippet
from bot.query.semantic import Meaning
from bot.store.rows import StoredItem, WatchRow

MANUAL_PAUSE = "paused by"  # the reason of a pause a member made (not a lost channel)


def pause_text(watch: WatchRow) -> str:
    """How /watch list shows a pause: until when (a timed pause, issue 22), and why."""
    reason = plain(watch.paused_reason or "by a moderator", 120)
    if watch.paused_until is not None:
        until = int(watch.paused_until)
        return f"⏸️ paused until <t:{until}:f> (<t:{until}:R>): {reason}"
    return f"⏸️ paused: {reason}"


def describe(watch: WatchRow) -> str:
    """One line of /watch list."""
    target = (f"<#{watch.channel_id}>" if watch.channel_id else
              "a webhook" if watch.webhook_url else "the console")
    flags = []
    if watch.source == "config":
        flags.append("config file")
    if watch.paused:
        flags.append(pause_text(watch))
    if watch.role_id:
        flags.append(f"pings <@&{watch.role_id}>")
    if watch.stories == "every-item":
        flags.append("every item")
    if watch.follow_ups != "edit":
        flags.append(f"follow-ups: {watch.follow_ups}")
    if watch.follow_role_id:
        flags.append(f"followers: <@&{watch.follow_role_id}>")
    if watch.cadence != SEND_NOW:
        flags.append(plain(watch.cadence.describe(), 300))
    extra = f" ({'; '.join(flags)})" if flags else ""
    query = watch.query[:200].replace("`", "'")
    language = ""
    with contextlib.suppress(QueryError):  # a stored query now refused: shown as it is
        language = f" · {compile_query(watch.query).language}"
    return f"• **{plain(watch.name, 100)}** → {target}{extra}: `{query}`{language}"


def explain_text(compiled: CompiledQuery, text: str, meaning: Meaning | None = None) -> str:
    """/watch test with text: the decision, the terms that matched, about: scores, snippet."""
    doc = replace(document_from_mapping({"content": text}), meaning=meaning)
    explanation = compiled.explain(doc)
    language = f"Language: {compiled.language}."
    scores = "".join(
        f"\nabout: {plain(s.topic, 150)}: "
        + ("no vector" if s.score is None else f"score {s.score:.2f}")
        + f", threshold {s.threshold:.2f}" for s in explanation.scores)
    if not explanation.matched:
        blocked = (f" Excluded by: {plain(', '.join(explanation.excluded), 300)}."
                   if explanation.excluded else "")
        return f"❌ No match.{blocked} {language}{scores}"
    snippet = render_snippet(make_snippet(doc, explanation.spans), 1200)
    # Which form in the text matched which query word: 'Zölle' ← Zoll; then about: terms.
    forms = [f"{doc.fields[s.field][s.start:s.end]} ← {s.term}" for s in explanation.spans[:8]]
    forms += [term for term in explanation.terms if term.startswith("about: ")]
    terms = plain(", ".join(dict.fromkeys(forms)), 300) or "—"
    return f"✅ Match on: {terms}. {language}{scores}\n> {snippet}"


def recent_matches(compiled: CompiledQuery, items: list[StoredItem],
                   meanings: Sequence[Meaning | None] = ()) -> list[StoredItem]:
    """The items the query matches, newest first (CPU-bound: run it off the event loop).

    ``meanings`` (aligned with ``items``) serve about: terms; without them those never match.
    """
    matcher = WatchMatcher([(0, compiled)])
    docs = (document_from_entry(item.entry, item.feed_name) for item in items)
    found = [(item, replace(doc, meaning=meaning)) for item, doc, meaning
             in zip(items, docs, list(meanings) or [None] * len(items), strict=True)]
    return [item for item, doc in found if matcher.match(doc)]


def item_line(item: StoredItem) -> str:
    """One recorded item: headline, feed, when it was first seen."""
    return (f"• **{plain(item.entry.title or item.entry.link, 150)}** — "
            f"{plain(item.feed_name, 60)}, <t:{int(item.first_seen)}:R>")
