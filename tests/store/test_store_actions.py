"""What an alert's controls change in the store (issue 22), on SQLite and PostgreSQL.

Click claims, timed pauses, story mutes, follow roles and the follow-up modes of a story,
all through the real ingest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from bot.core.model import Alert, Entry, Snippet
from bot.store import SqlStore
from bot.store.base import Store
from bot.store.rows import DeliveryDraft, NewWatch, WatchRow

if TYPE_CHECKING:
    from tests.store.conftest import Backend

NOW = time.time()


async def _feed(store: Store, name: str) -> int:
    sub = await store.subscribe(1, f"https://{name}.example/rss", name, 60, NOW)
    await store.ingest(sub.feed.id, [], now=NOW, next_check=NOW, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=lambda new: [])
    return sub.feed.id


async def _publish(store: Store, feed_id: int, watch: WatchRow, key: str,
                   title: str) -> None:
    entry = Entry(key=key, title=title, link=f"https://x.example/{key}")

    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(watch.id, e.key, f"n{watch.id}-{e.key}", Alert(
            watch_name=watch.name, feed_name=str(feed_id), title=e.title, link=e.link,
            snippet=Snippet(e.title), matched_terms=("trade",))) for e in new]

    await store.ingest(feed_id, [entry], now=NOW, next_check=NOW, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=plan)


async def _pending(store: Store) -> list[tuple[str, bool, bool]]:
    """(item key, is an edit, is a thread post) of each pending delivery."""
    return [(d.item_key, d.edit_of is not None and not d.in_thread, d.in_thread)
            for d, _ in await store.pending_deliveries(100)]


async def _sent_all(store: Store) -> None:
    for delivery, _ in await store.pending_deliveries(100):
        await store.mark_sent(delivery.id, str(1000 + delivery.id), NOW)


async def test_a_click_is_claimed_once_across_processes(backend: Backend) -> None:
    stores = [await backend.open() for _ in range(3)]
    results = await asyncio.gather(*(s.claim_click(777, NOW) for s in stores for _ in
                                     range(3)))
    assert sorted(results) == [False] * 8 + [True]
    assert await stores[0].prune_actions(NOW + 1) == 1
    assert await stores[1].claim_click(777, NOW)  # pruned: Discord never resends it


async def test_a_timed_pause_ends_by_itself(store: Store) -> None:
    watch = await store.add_watch(NewWatch(guild_id=1, name="w", query="trade",
                                           channel_id=5), NOW)
    feed = await _feed(store, "a")
    assert await store.pause_watch_until(watch.id, time.time() + 3600, "paused by m 1h")
    [row] = await store.watches(1)
    assert row.paused and row.paused_until is not None
    assert await store.watches_for_feed(feed) == []
    await store.pause_watch_until(watch.id, time.time() - 1, "paused by m 1h")
    [row] = await store.watches(1)
    assert not row.paused and row.paused_until is None and row.paused_reason is None
    assert [w.name for w, _ in await store.watches_for_feed(feed)] == ["w"]
    await store.pause_watch_until(watch.id, None, "paused by m until resumed")
    assert await store.watches_for_feed(feed) == []
    await store.set_watch_paused(1, "w", False)
    assert [w.name for w, _ in await store.watches_for_feed(feed)] == ["w"]


async def test_a_pending_alert_waits_out_a_timed_pause(store: Store) -> None:
    watch = await store.add_watch(NewWatch(guild_id=1, name="w", query="trade",
                                           channel_id=5), NOW)
    feed = await _feed(store, "a")
    await _publish(store, feed, watch, "k1", "Trade talks resume")
    await store.pause_watch_until(watch.id, time.time() + 3600, "paused by m 1h")
    assert await _pending(store) == []
    await store.pause_watch_until(watch.id, time.time() - 1, "paused by m 1h")
    assert await _pending(store) == [("k1", False, False)]


@pytest.mark.parametrize(("mode", "expected"), [
    ("edit", [("edit:p1:1", True, False)]),
    ("thread", [("edit:p1:1", True, False), ("k2", False, True)]),
    ("off", []),
])
async def test_follow_ups_of_a_story(store: Store, mode: str,
                                     expected: list[tuple[str, bool, bool]]) -> None:
    watch = await store.add_watch(NewWatch(guild_id=1, name="w", query="trade",
                                           channel_id=5, follow_ups=mode), NOW)
    a, b = await _feed(store, "a"), await _feed(store, "b")
    await _publish(store, a, watch, "k1", "Trump and Xi agree to resume trade talks")
    await _sent_all(store)
    await _publish(store, b, watch, "k2", "Trump and Xi agree to resume trade talks")
    await _publish(store, b, watch, "k2", "Trump and Xi agree to resume trade talks")
    assert await _pending(store) == expected


async def test_a_muted_story_gets_no_edit_while_another_story_alerts(store: Store) -> None:
    assert isinstance(store, SqlStore)
    watch = await store.add_watch(NewWatch(guild_id=1, name="w", query="trade",
                                           channel_id=5, follow_ups="thread"), NOW)
    a, b = await _feed(store, "a"), await _feed(store, "b")
    await _publish(store, a, watch, "k1", "Trump and Xi agree to resume trade talks")
    [(first, _)] = await store.pending_deliveries(10)
    await _sent_all(store)
    story = await store.alert_story(first.id)
    assert story is not None and story.target == "channel:5"
    assert await store.toggle_story_mute(story, 42, NOW) is True
    await _publish(store, b, watch, "k2", "Trump and Xi agree to resume trade talks")
    await _publish(store, b, watch, "k3", "Fed holds interest rates steady on trade")
    assert await _pending(store) == [("k3", False, False)]
    assert await store.toggle_story_mute(story, 42, NOW) is False  # unmuted: edits again
    await _publish(store, a, watch, "k4", "UPDATE 1-Trump and Xi agree to resume trade talks")
    assert ("k4", False, True) in await _pending(store)


async def test_muting_drops_the_story_edit_not_yet_sent(store: Store) -> None:
    watch = await store.add_watch(NewWatch(guild_id=1, name="w", query="trade",
                                           channel_id=5), NOW)
    a, b = await _feed(store, "a"), await _feed(store, "b")
    await _publish(store, a, watch, "k1", "Trump and Xi agree to resume trade talks")
    [(first, _)] = await store.pending_deliveries(10)
    await _sent_all(store)
    await _publish(store, b, watch, "k2", "Trump and Xi agree to resume trade talks")
    assert await _pending(store) == [("edit:p1:1", True, False)]
    story = await store.alert_story(first.id)
    assert story is not None
    await store.toggle_story_mute(story, 42, NOW)
    assert await _pending(store) == []


async def test_the_first_follow_role_recorded_is_kept(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    watch = await one.add_watch(NewWatch(guild_id=1, name="w", query="x", channel_id=5), NOW)
    kept = await asyncio.gather(one.claim_follow_role(watch.id, 11),
                                two.claim_follow_role(watch.id, 22))
    assert kept[0] == kept[1] and kept[0] in (11, 22)
    await one.forget_follow_role(watch.id, 99)  # not the one in force: nothing happens
    assert (await two.watch_by_id(watch.id)).follow_role_id == kept[0]  # type: ignore[union-attr]
    await one.forget_follow_role(watch.id, kept[0])  # type: ignore[arg-type]
    assert (await two.watch_by_id(watch.id)).follow_role_id is None  # type: ignore[union-attr]
    assert await one.claim_follow_role(12345, 1) is None  # no such watch


@pytest.mark.parametrize("mute", [False, True])
async def test_a_corrected_headline_edits_only_an_unmuted_story(store: Store,
                                                                mute: bool) -> None:
    watch = await store.add_watch(NewWatch(guild_id=1, name="w", query="trade",
                                           channel_id=5), NOW)
    a = await _feed(store, "a")
    await _publish(store, a, watch, "k1", "Trump and Xi agree to resume trade talks")
    [(first, _)] = await store.pending_deliveries(10)
    await _sent_all(store)
    story = await store.alert_story(first.id)
    assert story is not None
    if mute:
        await store.toggle_story_mute(story, 42, NOW)
    await _publish(store, a, watch, "k1", "Trump and Xi agree to resume trade talks on Monday")
    assert [edit for _, edit, _ in await _pending(store)] == ([] if mute else [True])
