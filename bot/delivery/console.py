"""The console target: watches with neither channel nor webhook print their alerts."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.core.model import Alert
from bot.delivery.digests import DIGEST_KEY
from bot.store.rows import Delivery


def format_alert(alert: Alert) -> str:
    """A readable plain-text block with matched terms in **bold** markers."""
    if DIGEST_KEY in alert.extra:  # a digest part: its title, then one line per match
        return f"[{alert.watch_name}] {alert.title}\n{alert.snippet.text}\n"
    when = alert.published or alert.first_seen
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if when else "undated"
    snippet, cursor = [], 0
    for start, end in alert.snippet.bold:
        snippet += [alert.snippet.text[cursor:start], "**", alert.snippet.text[start:end], "**"]
        cursor = end
    snippet.append(alert.snippet.text[cursor:])
    terms = ", ".join(alert.matched_terms)
    return (f"[{alert.watch_name}] {alert.feed_name} · {stamp} · matched: {terms}\n"
            f"  {alert.title}\n  {alert.link}\n  {''.join(snippet)}\n")


class ConsoleSender:
    """Prints alerts to a stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, delivery: Delivery) -> str | None:
        """Print the alert; there is no message id."""
        stream = self._stream or sys.stdout
        stream.write(format_alert(delivery.alert) + "\n")
        stream.flush()
        return None

    async def edit(self, delivery: Delivery, message_id: str | None) -> None:
        """A story edit: print the story's current state, marked as an update."""
        stream = self._stream or sys.stdout
        sources = ", ".join(s.name for s in delivery.alert.also_reported)
        also = f"  also reported by: {sources}\n" if sources else ""
        stream.write("(update) " + format_alert(delivery.alert) + also + "\n")
        stream.flush()

    async def thread_post(self, delivery: Delivery, message_id: str | None) -> str | None:
        """A further source of a story (a thread has no console form): printed as one."""
        stream = self._stream or sys.stdout
        stream.write("(also) " + format_alert(delivery.alert) + "\n")
        stream.flush()
        return None

    async def remove_duplicates(self, delivery: Delivery, posted: str | None,
                                keep: str | None) -> int:
        """Printed lines cannot be taken back: nothing to remove."""
        return 0
