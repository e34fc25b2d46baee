"""Story assignment in the store: several processes on one database decide as one would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot.core.model import Alert, Entry, Snippet
from bot.store import SqlStore
from bot.store.base import Store
from bot.store.rows import DeliveryDraft, NewWatch
from bot.store.schema import story_items
from bot.stories import StoryGrouper, StoryItem

if TYPE_CHECKING:
    from tests.store.conftest import Backend

NOW = 1_800_000_000.0
TITLES = [
    "Fed raises interest rates by a quarter point",
    "Trump and Xi agree to resume trade talks",
    "UPDATE 1-Fed raises interest rates by quarter point - Reuters",
    "Trump, Xi agree to resume trade talks | BBC News",
    "Fed holds interest rates steady",
    "Earthquake kills 3 in northern Japan",
    "EXCLUSIVE-Trump and Xi agree to resume trade talks at G20",
    "Earthquake kills 30 in northern Japan",
]


async def _stories(store: SqlStore) -> dict[tuple[int, str], str]:
    rows = await store.read(lambda conn: conn.execute(
        select(story_items.c.feed_id, story_items.c.item_key, story_items.c.story_id)
        .where(story_items.c.book != -1)).all())  # -1: fingerprints only
    return {(feed, key): story for feed, key, story in rows}


async def test_concurrent_ingests_in_several_processes_group_consistently(
        backend: Backend) -> None:
    stores = [await backend.open() for _ in range(3)]
    assert all(isinstance(s, SqlStore) for s in stores)
    first = stores[0]
    watch = await first.add_watch(NewWatch(guild_id=1, name="w", query="x", channel_id=5), NOW)
    feeds = []
    for n in range(len(TITLES)):
        sub = await first.subscribe(1, f"https://f{n}.example/rss", f"F{n}", 60, NOW)
        feeds.append(sub.feed.id)
        await first.ingest(sub.feed.id, [], now=NOW, next_check=NOW, title=None, etag=None,
                           last_modified=None, body_hash=None, plan=lambda new: [])

    async def ingest(n: int) -> None:
        store = stores[n % len(stores)]
        entry = Entry(key=f"k{n}", title=TITLES[n], link=f"https://f{n}.example/{n}")

        def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
            return [DeliveryDraft(watch.id, e.key, f"n{n}", Alert(
                watch_name="w", feed_name=f"F{n}", title=e.title, link=e.link,
                snippet=Snippet("", ()), matched_terms=())) for e in new]

        await store.ingest(feeds[n], [entry], now=NOW + n, next_check=NOW + 60, title=None,
                           etag=None, last_modified=None, body_hash=None, plan=plan)

    await asyncio.gather(*(ingest(n) for n in range(len(TITLES))))
    recorded = await _stories(first)
    # Whatever order the processes took turns in, the result is a valid grouping ...
    groups: dict[str, set[int]] = {}
    for (feed, _key), story in recorded.items():
        groups.setdefault(story, set()).add(feeds.index(feed))
    assert sorted(map(sorted, groups.values())) == [[0, 2], [1, 3, 6], [4], [5], [7]]
    # ... and one message per story: the folded items became edits, not posts.
    pending = await first.pending_deliveries(50)
    assert len([d for d, _ in pending if d.edit_of is None]) == 5


def _plan(watch_id: int, feed: str) -> Callable[[Sequence[Entry]], list[DeliveryDraft]]:
    """Every new entry alerts ``watch_id``."""
    def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return [DeliveryDraft(watch_id, e.key, f"n{watch_id}-{feed}-{e.key}", Alert(
            watch_name="w", feed_name=feed, title=e.title, link=e.link,
            snippet=Snippet("", ()), matched_terms=())) for e in new]
    return plan


async def _feed(store: Store, guild: int, name: str) -> int:
    """A followed, primed feed."""
    sub = await store.subscribe(guild, f"https://{name.lower()}.example/rss", name, 60, NOW)
    await store.ingest(sub.feed.id, [], now=NOW, next_check=NOW, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=lambda new: [])
    return sub.feed.id


async def _post(store: Store, feed: int, watch: int, entries: list[Entry], at: float) -> None:
    await store.ingest(feed, entries, now=at, next_check=at + 60, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=_plan(watch, str(feed)))


async def test_a_restarted_process_rebuilds_the_window_and_decides_the_same(
        backend: Backend) -> None:
    store = await backend.open()
    watch = await store.add_watch(NewWatch(guild_id=1, name="w", query="x", channel_id=5), NOW)
    feed = await _feed(store, 1, "F")
    await _post(store, feed, watch.id, [Entry(key=f"k{n}", title=t)
                                        for n, t in enumerate(TITLES[:4])], NOW)
    later = await backend.open()  # a new process: an empty window, rebuilt from the table
    other = await _feed(later, 1, "G")
    await _post(later, other, watch.id, [Entry(key="x", title=TITLES[6])], NOW + 1)
    recorded = await _stories(later)
    assert recorded[(other, "x")] == recorded[(feed, "k1")]
    reference = StoryGrouper()
    for n, title in enumerate(TITLES[:4]):
        reference.assign(StoryItem(f"{n}", title, feed="F"))
    assert reference.stories == len(set(recorded.values()))


async def test_old_story_decisions_are_pruned(backend: Backend) -> None:
    store = await backend.open()
    assert isinstance(store, SqlStore)
    watch = await store.add_watch(NewWatch(guild_id=1, name="w", query="x", channel_id=5), NOW)
    feed = await _feed(store, 1, "F")
    day = 24 * 3600.0
    await _post(store, feed, watch.id, [Entry(key="old", title="Ancient story")], NOW)
    entries = [Entry(key=f"k{n}", title=f"Story number {n} of many") for n in range(1100)]
    await _post(store, feed, watch.id, entries, NOW + 3 * day)
    recorded = await _stories(store)
    assert (feed, "old") not in recorded and len(recorded) == 1100


async def test_only_items_that_post_are_grouped(backend: Backend) -> None:
    """A first poll records silently and groups nothing; later, only alerted items join a
    book (their guild's), and every alerted item is fingerprinted for corrections."""
    store = await backend.open()
    watch = await store.add_watch(NewWatch(guild_id=7, name="w", query="x", channel_id=5), NOW)
    sub = await store.subscribe(7, "https://f.example/rss", "F", 60, NOW)
    first = [Entry(key=f"k{n}", title=t) for n, t in enumerate(TITLES)]
    await store.ingest(sub.feed.id, first, now=NOW, next_check=NOW, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=_plan(watch.id, "F"))
    assert await _rows(store) == []
    more = [Entry(key="a", title="Storm Ciaran batters northern France"),
            Entry(key="b", title="Minister quits over expenses")]

    def only_a(new: Sequence[Entry]) -> list[DeliveryDraft]:
        return _plan(watch.id, "F")([e for e in new if e.key == "a"])

    await store.ingest(sub.feed.id, more, now=NOW + 60, next_check=NOW, title=None, etag=None,
                       last_modified=None, body_hash=None, plan=only_a)
    assert sorted(await _rows(store)) == [(-1, "a", 0), (7, "a", 1)]


async def _rows(store: Store) -> list[tuple[int, str, int]]:
    assert isinstance(store, SqlStore)
    rows = await store.read(lambda conn: conn.execute(
        select(story_items.c.book, story_items.c.item_key, story_items.c.version)).all())
    return [(book, key, version) for book, key, version in rows]


class Gated(SqlStore):
    """The real store, held between deciding its stories and writing them."""

    gate: asyncio.Event | None = None

    async def _group(self, *args: Any) -> Any:
        grouping = await super()._group(*args)
        if self.gate is not None:
            await self.gate.wait()
        return grouping


async def test_a_decision_made_on_an_old_version_is_made_again_when_written(
        backend: Backend) -> None:
    """Two processes decide on the same version of a book; the one that writes second finds
    the version moved, decides again holding the book's row, and folds into the first's
    story instead of recording a stale "new story"."""
    first = await backend.open()
    slow = await backend.open(Gated)
    assert isinstance(slow, Gated)
    watch = await first.add_watch(NewWatch(guild_id=1, name="w", query="x", channel_id=5), NOW)
    feeds = [await _feed(first, 1, f"F{n}") for n in range(2)]
    slow.gate = asyncio.Event()
    late = asyncio.create_task(_post(slow, feeds[1], watch.id,
                                     [Entry(key="b", title=TITLES[2])], NOW + 2))
    await asyncio.sleep(0.3)  # the slow process has decided: "b" starts a story
    await _post(first, feeds[0], watch.id, [Entry(key="a", title=TITLES[0])], NOW + 1)
    slow.gate.set()
    await late
    recorded = await _stories(first)
    assert recorded[(feeds[1], "b")] == recorded[(feeds[0], "a")]
    assert sorted(v for b, _k, v in await _rows(first) if b == 1) == [1, 2]
    pending = await first.pending_deliveries(10)
    assert len([d for d, _ in pending if d.edit_of is None]) == 1
