"""Database rows → row dataclasses, shared by the SQLite and PostgreSQL stores."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from bot.config.cadence import Cadence
from bot.store.codec import alert_from_json
from bot.store.rows import Delivery, FeedRow, WatchRow


class RowLike(Protocol):
    """A row readable by column name (``sqlite3.Row``, a psycopg dict row)."""

    def __getitem__(self, key: str, /) -> Any: ...


# An auto-only feed's base for failure backoff (the old default for a feed row without one).
AUTO_BASE_S = 300.0


def feed_from_row(row: RowLike) -> FeedRow:
    """A FeedRow from a feeds row selected with its first subscription's name and interval."""
    return FeedRow(
        id=row["id"], url=row["url"], name=row["sub_name"] or row["url"], title=row["title"],
        interval_s=row["sub_interval"] or AUTO_BASE_S, etag=row["etag"],
        last_modified=row["last_modified"], body_hash=row["body_hash"],
        primed=bool(row["primed"]), error_count=row["error_count"],
        last_error=row["last_error"], last_success=row["last_success"],
        next_check=row["next_check"], paused=bool(row["paused"]),
        auto_interval=bool(row["sub_auto"]), fixed_interval_s=row["sub_interval"],
        item_gap_s=row["item_gap_s"], newest_item_at=row["newest_item_at"], ttl_s=row["ttl_s"],
        pushed_until=row["pushed_until"],
        lease_token=int(row["lease_token"] or 0),
    )


def watch_from_row(row: RowLike, feed_names: Sequence[str] | None) -> WatchRow:
    """A WatchRow from a ``watches`` row; ``feed_names`` already decoded by the dialect.

    A timed pause whose end has passed reads as not paused (the queries treat it so too).
    """
    until = row["paused_until"]
    paused = bool(row["paused"]) and (until is None or until > time.time())
    return WatchRow(
        id=row["id"], guild_id=row["guild_id"], name=row["name"], query=row["query"],
        channel_id=row["channel_id"], webhook_url=row["webhook_url"], role_id=row["role_id"],
        feed_names=tuple(feed_names) if feed_names is not None else None, color=row["color"],
        collapse_after=row["collapse_after"], stories=row["stories"], paused=paused,
        paused_reason=row["paused_reason"] if paused else None, source=row["source"],
        paused_until=until if paused else None, follow_role_id=row["follow_role_id"],
        follow_ups=row["follow_ups"],
        # Stored as the cadence module normalised them; not validated again on every read.
        cadence=Cadence(row["deliver"], row["timezone"], row["quiet"], row["urgent"]),
    )


def delivery_from_row(row: RowLike) -> Delivery:
    """A Delivery from a deliveries row joined with its watch's name, guild and target."""
    return Delivery(
        id=row["id"], watch_id=row["watch_id"], watch_name=row["watch_name"],
        guild_id=row["guild_id"], feed_id=row["feed_id"], item_key=row["item_key"],
        nonce=row["nonce"], alert=alert_from_json(row["payload"]), attempts=row["attempts"],
        first_attempt=row["first_attempt"], created_at=row["created_at"],
        channel_id=row["channel_id"], webhook_url=row["webhook_url"],
        edit_of=row["edit_of"], edit_message_id=row["edit_message_id"],
        edit_status=row["edit_status"], edit_nonce=row["edit_nonce"],
        in_thread=bool(row["in_thread"]), follow_role_id=row["follow_role_id"],
    )
