"""Message state only moves forward (issue 20), in the store on SQLite and PostgreSQL:
corrections in fetch order, and edits that know whether a newer revision went out first."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.model import Entry
from bot.store.base import Store
from bot.store.rows import Delivery, DeliveryDraft
from tests.store.test_store import NOW, alert, config

LINK = "https://n.example/k"


async def _poll(store: Store, feed_id: int, watch_id: int, title: str, fetched: float) -> None:
    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(watch_id, e.key, f"n-{e.key}", alert(e.title)) for e in new]

    await store.ingest(feed_id, [Entry(key="k", title=title, link=LINK)], now=fetched,
                       next_check=fetched + 60, title="T", etag=None, last_modified=None,
                       body_hash=title, plan=plan)


async def _pending(store: Store) -> list[Delivery]:
    return [delivery for delivery, _ in await store.pending_deliveries(10)]


async def test_corrections_apply_in_fetch_order_and_edits_know_they_are_stale(
        store: Store) -> None:
    await store.sync_config(config(("A", "http://a.example/feed")), NOW)
    [feed] = await store.claim_due_feeds(NOW, 10, 120)
    [watch] = await store.watches(0)
    await store.ingest(feed.id, [], now=NOW, next_check=NOW, title="T", etag=None,
                       last_modified=None, body_hash=None, plan=lambda new: [])  # primed
    await _poll(store, feed.id, watch.id, "Minister quits", NOW + 10)
    [post] = await _pending(store)
    await store.mark_sent(post.id, "m1", NOW + 11)

    await _poll(store, feed.id, watch.id, "Minister quits over expenses", NOW + 30)
    [first] = await _pending(store)
    assert first.edit_of == post.id and "expenses" in first.alert.title
    await _poll(store, feed.id, watch.id, "Minister quits", NOW + 20)  # a stale poll
    assert [(d.id, d.alert.title) for d in await _pending(store)] == [
        (first.id, first.alert.title)]

    await store.mark_attempt(first.id, NOW + 40)  # attempted, then waits out a retry
    await _poll(store, feed.id, watch.id, "Minister quits over expenses row", NOW + 50)
    [_, second] = await _pending(store)
    assert "row" in second.alert.title
    assert not await store.edit_superseded(first.id)  # nothing newer has gone out yet
    await store.mark_sent(second.id, "m1", NOW + 60)
    assert await store.edit_superseded(first.id)  # the newer revision went out first
    shown = await store.shown_alert(post.id)  # what a stale PATCH is undone with
    assert shown is not None and shown.title == second.alert.title
    await store.mark_superseded(first.id, NOW + 61)
    assert await _pending(store) == []
