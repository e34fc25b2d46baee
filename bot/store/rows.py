"""Rows the store returns: plain frozen dataclasses, no SQL types leak out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.config.cadence import SEND_NOW, Cadence
from bot.core.model import Alert, Entry

CONFIG_GUILD = 0  # the config file's scope; Discord guild ids are never 0


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A fetched URL with its schedule and health (shared by every guild subscribed to it)."""

    id: int
    url: str
    name: str
    title: str | None
    interval_s: float
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    primed: bool
    error_count: int
    last_error: str | None
    last_success: float | None
    next_check: float
    paused: bool
    # The fencing token of the claim this row was read under (issue 20): a poll's writes
    # name it, and change nothing once a later claim has taken the feed.
    lease_token: int = 0
    # Adaptive intervals: any subscription asked for "auto"; the shortest fixed interval asked
    # (None: every subscription is auto); what the last parse learnt (bot.pipeline.next_check).
    auto_interval: bool = False
    fixed_interval_s: float | None = None
    item_gap_s: float | None = None
    newest_item_at: float | None = None
    ttl_s: float | None = None
    pushed_until: float | None = None  # a WebSub hub pushes this feed until then


@dataclass(frozen=True, slots=True)
class PublishingSeen:
    """What a parse learnt of a feed's publishing: the usual gap, the newest item, its ttl."""

    item_gap_s: float | None
    newest_item_at: float | None
    ttl_s: float | None
    websub_hub: str | None = None  # the hub the feed advertises and its topic (WebSub)
    websub_topic: str | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A guild's (or the config file's) named subscription to a feed, with the feed's health."""

    guild_id: int
    name: str
    source: str
    interval_s: float
    feed: FeedRow


@dataclass(frozen=True, slots=True)
class WatchRow:
    """A watch: a query and where its alerts go (channel, webhook, or the console)."""

    id: int
    guild_id: int
    name: str
    query: str
    channel_id: int | None = None
    webhook_url: str | None = None
    role_id: int | None = None
    feed_names: tuple[str, ...] | None = None
    color: int | None = None
    collapse_after: int | None = None
    stories: str = "group"  # or "every-item" (issue 14)
    paused: bool = False
    paused_reason: str | None = None
    source: str = "command"
    cadence: Cadence = SEND_NOW  # or held for digests and quiet hours
    # Issue 22: when a timed pause ends (None: until resumed), the Follow role, and what a
    # story's later sources do: "edit" its message, also post in a "thread", or nothing.
    paused_until: float | None = None
    follow_role_id: int | None = None
    follow_ups: str = "edit"

    @property
    def target_kind(self) -> str:
        """``channel``, ``webhook`` or ``console``."""
        if self.channel_id:
            return "channel"
        return "webhook" if self.webhook_url else "console"


@dataclass(frozen=True, slots=True)
class NewWatch:
    """What ``add_watch`` needs; the store assigns the id."""

    guild_id: int
    name: str
    query: str
    channel_id: int | None = None
    webhook_url: str | None = None
    role_id: int | None = None
    feed_names: tuple[str, ...] | None = None
    color: int | None = None
    collapse_after: int | None = None
    stories: str = "group"
    source: str = "command"
    cadence: Cadence = SEND_NOW
    follow_ups: str = "edit"


@dataclass(frozen=True, slots=True)
class DeliveryDraft:
    """One alert to record in the outbox with the items that caused it.

    ``hold_until`` (Unix time) keeps it for the watch's digest of the period ending then,
    instead of sending it now.
    """

    watch_id: int
    item_key: str
    nonce: str
    alert: Alert
    hold_until: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A pending outbox row joined with where it goes."""

    id: int
    watch_id: int
    watch_name: str
    guild_id: int
    feed_id: int
    item_key: str
    nonce: str
    alert: Alert
    attempts: int
    first_attempt: float | None
    created_at: float
    channel_id: int | None
    webhook_url: str | None
    # A story edit (issue 14): the delivery whose message it edits, and that one's state.
    edit_of: int | None = None
    edit_message_id: str | None = None
    edit_status: str | None = None
    edit_nonce: str | None = None
    # Issue 22: a further source for the thread of ``edit_of``'s message, not an edit; and
    # the role that followers of the watch have (pinged with the alert).
    in_thread: bool = False
    follow_role_id: int | None = None

    @property
    def target(self) -> str:
        """A key that orders deliveries: one sequence per channel, webhook or console."""
        if self.channel_id:
            return f"channel:{self.channel_id}"
        return f"webhook:{self.webhook_url}" if self.webhook_url else "console"


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item recorded recently, for ``/watch test``."""

    feed_name: str
    entry: Entry
    first_seen: float
    vector: str | None = None  # base64 float32 meaning vector (issue 23), when one was made


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ingest did."""

    new_items: int
    deliveries: int


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """Outbox depth for /status and /metrics."""

    pending: int
    failed: int
    sent: int
    last_sent_at: float | None


def visible_watches(pairs: Iterable[tuple[WatchRow, str]]) -> list[tuple[WatchRow, str]]:
    """Each watch once, with the feed's name in its guild (its own name before the config's),
    kept only when the watch's ``feeds`` list, if any, names the feed."""
    seen: set[int] = set()
    visible = []
    for watch, feed_name in pairs:
        if watch.id in seen:
            continue
        seen.add(watch.id)
        if watch.feed_names is None or feed_name in watch.feed_names:
            visible.append((watch, feed_name))
    return visible


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """A live ``wirewatch run`` process and the leases it holds (for /status)."""

    id: str
    host: str
    pid: int
    roles: str
    started_at: float
    heartbeat_age_s: float
    holds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one item prune removed: identity keys (rows) and bodies (emptied ``data``)."""

    keys: int
    bodies: int


@dataclass(frozen=True, slots=True)
class WebSubClaim:
    """A subscription this process may (re)request now: where, for what, and its callback."""

    feed_id: int
    hub: str
    topic: str
    token: str
    secret: str


@dataclass(frozen=True, slots=True)
class AlertStory:
    """The story an alert message belongs to, its watch, and where it was posted (issue 22)."""

    watch: WatchRow
    story_id: str
    target: str
