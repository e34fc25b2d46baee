"""At a period's end, a watch's held matches become its digest: outbox deliveries, exactly once.

``flush_digests`` runs every few seconds (and so catches up at start on boundaries missed
while down). For each (watch, period) whose end has passed, the store, in one transaction,
claims the digest by a unique key on (watch, period), turns the held matches into one
delivery per message part with ``digest_drafts`` below, and marks the matches as digested.
A second process or a restart finds the key taken and does nothing; the deliveries then go
through the outbox like any alert (durable, retried, with a deterministic nonce).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.config.cadence import zone
from bot.core.model import Alert, Snippet
from bot.delivery.digest_embed import DigestItem, digest_lines, digest_messages, digest_title
from bot.store.base import Store
from bot.store.rows import DeliveryDraft, WatchRow

log = logging.getLogger(__name__)

DIGEST_KEY = "digest"  # Alert.extra key holding the rendered message body (JSON)
STORY_KEY = "story"  # Alert.extra key of the story builder's id, when it set one
# A period is closed this long after its end, so an ingest that read the clock just before
# the boundary has committed its held matches.
SETTLE_S = 2.0


def digest_nonce(watch_id: int, period_end: float, part: int) -> str:
    """Deterministic, 25 characters: a resend of the same part is recognised by Discord."""
    digest = hashlib.sha256(f"digest\n{watch_id}\n{period_end:.6f}\n{part}".encode())
    return "d" + digest.hexdigest()[:24]


def period_label(watch: WatchRow, period_end: float) -> str:
    """``until 17:00 Europe/Berlin, 29 Nov 2026``: the end in the watch's own time zone."""
    local = datetime.fromtimestamp(period_end, UTC).astimezone(zone(watch.cadence.timezone))
    return f"until {local:%H:%M} {watch.cadence.timezone}, {local:%d %b %Y}"


def item_from_alert(alert: Alert) -> DigestItem:
    """What a digest lists of one held match."""
    return DigestItem(title=alert.title, feed_name=alert.feed_name, link=alert.link,
                      story=alert.extra.get(STORY_KEY), published=alert.published)


def digest_drafts(watch: WatchRow, period_end: float,
                  alerts: Sequence[Alert]) -> list[DeliveryDraft]:
    """The digest of ``alerts`` (in order) as outbox drafts, one per message part."""
    items = [item_from_alert(alert) for alert in alerts]
    bodies = digest_messages(watch.name, period_label(watch, period_end), items,
                             color=watch.color, role_id=watch.role_id)
    text = "\n".join(digest_lines(items))
    drafts = []
    title = digest_title(watch.name, period_label(watch, period_end), len(items))
    for part, body in enumerate(bodies, start=1):
        alert = Alert(watch_name=watch.name, feed_name="digest", title=title,
                      link="", snippet=Snippet(text if part == 1 else ""), matched_terms=(),
                      first_seen=datetime.fromtimestamp(period_end, UTC), color=watch.color,
                      role_id=watch.role_id, extra={DIGEST_KEY: json.dumps(body)})
        drafts.append(DeliveryDraft(watch.id, f"digest:{period_end:.0f}:{part}",
                                    digest_nonce(watch.id, period_end, part), alert))
    return drafts


def digest_body(alert: Alert, *, marker: str | None = None) -> dict[str, object] | None:
    """The rendered message body of a digest delivery, or None for an ordinary alert.

    ``marker`` ends the last embed's footer as ``ref <marker>`` (see ``embed.delivery_marker``).
    """
    raw = alert.extra.get(DIGEST_KEY)
    if raw is None:
        return None
    body = json.loads(raw)
    if not isinstance(body, dict):
        return None
    embeds = body.get("embeds")
    if marker and isinstance(embeds, list) and embeds and isinstance(embeds[-1], dict):
        footer = embeds[-1].get("footer") or {}
        text = footer.get("text", "") if isinstance(footer, dict) else ""
        embeds[-1]["footer"] = {"text": f"{text} · ref {marker}" if text else f"ref {marker}"}
    return body



async def flush_digests(store: Store, now: float) -> int:
    """Make every digest whose period has ended (and settled); returns deliveries queued."""
    queued = 0
    for watch_id, period_end in await store.due_digests(now - SETTLE_S):
        made = await store.make_digest(watch_id, period_end, now, digest_drafts)
        if made:
            log.info("watch %d: digest of the period ending %s queued (%d messages)",
                     watch_id, datetime.fromtimestamp(period_end, UTC).isoformat(), made)
        queued += made
    return queued
