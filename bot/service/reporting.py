"""What the console tells the person running the bot, beyond the log of each step.

- A feed's silent first poll: what was recorded and what would have matched (``Preview``).
- Offline: once, that no feed can be reached and polling goes on; once again on recovery.
  Meanwhile each feed's network failure is logged at DEBUG, not one warning per feed per try.
- ``wirewatch once``: one summary line per feed (new, matched, sent, failed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.core.errors import FeedError, FetchError
from bot.pipeline.poll import PollResult
from bot.pipeline.preview import describe_preview
from bot.store.rows import FeedRow

log = logging.getLogger(__name__)

OFFLINE_AFTER = 3  # distinct feeds unreachable in a row, with no answer from any server between


class Reachability:
    """Whether any feed server answers: ``unknown`` at start, then ``online`` or ``offline``."""

    def __init__(self, feeds: int) -> None:
        self.threshold = max(1, min(OFFLINE_AFTER, feeds))
        self.state = "unknown"
        self._down: set[int] = set()
        self.last_error = ""

    def observe(self, feed_id: int, unreachable: bool, error: str = "") -> str | None:
        """Record one poll; returns ``offline`` or ``online`` when the state changes to it."""
        if not unreachable:
            self._down.clear()
            changed = self.state == "offline"
            self.state = "online"
            return "online" if changed else None
        self._down.add(feed_id)
        self.last_error = error
        if self.state != "offline" and len(self._down) >= self.threshold:
            self.state = "offline"
            return "offline"
        return None

    def quiet_about(self, exc: FeedError) -> bool:
        """Whether a feed's failure is part of being offline (or may be: nothing answered yet)."""
        unreachable = isinstance(exc, FetchError) and exc.unreachable
        return unreachable and self.state != "online"


@dataclass
class FeedSummary:
    """One feed's totals in this process."""

    name: str
    new: int = 0
    matched: int = 0
    silent: bool = False  # its first poll: matches were recorded, not alerted
    error: str | None = None


class ConsoleReporter:
    """The ``PollDeps.on_result`` and ``failure_level`` hooks, printing through logging."""

    def __init__(self, feeds: int) -> None:
        self.reach = Reachability(feeds)
        self.feeds: dict[int, FeedSummary] = {}

    def failure_level(self, exc: FeedError) -> int:
        """DEBUG for network failures while offline (said once instead), else WARNING."""
        return logging.DEBUG if self.reach.quiet_about(exc) else logging.WARNING

    def on_result(self, feed: FeedRow, result: PollResult) -> None:
        """Tally the poll; print a first-poll preview and any change of reachability."""
        summary = self.feeds.setdefault(feed.id, FeedSummary(feed.name))
        summary.new += result.new_items
        summary.matched += result.deliveries
        summary.error = result.error
        if result.preview is not None:
            summary.silent = True
            summary.matched += sum(watch.count for watch in result.preview.watches)
            for line in describe_preview(result.preview):
                log.info("%s", line, extra={"feed": feed.name})
        changed = self.reach.observe(feed.id, result.unreachable, result.error or "")
        if changed == "offline":
            log.warning("no feed can be reached (is this machine offline? last error: %s); "
                        "wirewatch keeps retrying and will say when feeds answer again",
                        self.reach.last_error)
        elif changed == "online":
            log.warning("feeds can be reached again; polling as usual")

    def summary_lines(self, sent: dict[int, int], failed: dict[int, int]) -> list[str]:
        """One line per feed polled: new, matched, sent, failed (``wirewatch once``)."""
        lines = []
        for feed_id, feed in sorted(self.feeds.items(), key=lambda pair: pair[1].name.lower()):
            counts = (f"{feed.new} new, {feed.matched} matched, {sent.get(feed_id, 0)} sent, "
                      f"{failed.get(feed_id, 0)} failed")
            line = f"{feed.name}: {counts}"
            if feed.error:
                line = f"{feed.name}: the poll failed: {feed.error} ({counts})"
            elif feed.silent:
                line += " (first poll: recorded silently, nothing alerted)"
            lines.append(line)
        return lines
