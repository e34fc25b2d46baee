"""JSON encoding of the model dataclasses kept in the database."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.core.model import Alert, Entry, Snippet, Source


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def alert_to_json(alert: Alert) -> str:
    """Serialise an Alert for the outbox."""
    data: dict[str, Any] = {
        "watch_name": alert.watch_name,
        "feed_name": alert.feed_name,
        "title": alert.title,
        "link": alert.link,
        "snippet": {"text": alert.snippet.text, "bold": [list(r) for r in alert.snippet.bold]},
        "matched_terms": list(alert.matched_terms),
        "published": _time(alert.published),
        "first_seen": _time(alert.first_seen),
        "thumbnail": alert.thumbnail,
        "color": alert.color,
        "role_id": alert.role_id,
        "extra": alert.extra,
    }
    if alert.also_reported:
        data["also_reported"] = [[s.name, s.link] for s in alert.also_reported]
    if alert.updated:
        data["updated"] = True
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def alert_from_json(text: str) -> Alert:
    """Inverse of alert_to_json."""
    data = json.loads(text)
    snippet = data["snippet"]
    return Alert(
        watch_name=data["watch_name"],
        feed_name=data["feed_name"],
        title=data["title"],
        link=data["link"],
        snippet=Snippet(snippet["text"], tuple((int(a), int(b)) for a, b in snippet["bold"])),
        matched_terms=tuple(data["matched_terms"]),
        published=_parse_time(data.get("published")),
        first_seen=_parse_time(data.get("first_seen")),
        thumbnail=data.get("thumbnail"),
        color=data.get("color"),
        role_id=data.get("role_id"),
        extra=dict(data.get("extra") or {}),
        also_reported=tuple(Source(str(n), str(u)) for n, u in data.get("also_reported") or ()),
        updated=bool(data.get("updated", False)),
    )


def entry_to_json(entry: Entry) -> str:
    """Serialise an Entry for the items table."""
    data = {
        "key": entry.key,
        "title": entry.title,
        "link": entry.link,
        "summary": entry.summary,
        "content": entry.content,
        "body": entry.body,
        "author": entry.author,
        "tags": list(entry.tags),
        "published": _time(entry.published),
        "thumbnail": entry.thumbnail,
        "guid": entry.guid,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def entry_from_json(text: str) -> Entry:
    """Inverse of entry_to_json."""
    data = json.loads(text)
    return Entry(
        key=data["key"],
        title=data.get("title", ""),
        link=data.get("link", ""),
        summary=data.get("summary", ""),
        content=data.get("content", ""),
        body=data.get("body", ""),
        author=data.get("author", ""),
        tags=tuple(data.get("tags") or ()),
        published=_parse_time(data.get("published")),
        thumbnail=data.get("thumbnail"),
        guid=data.get("guid"),
    )
