"""One message per story per channel: the real ingest, the outbox and the fake Discord.

The clock is the test's: ingest and outbox share it, so the 10 s edit gap is exercised
without sleeping.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.core.model import Alert, Entry, Snippet
from bot.delivery.console import ConsoleSender
from bot.delivery.discord_rest import DiscordSender
from bot.delivery.outbox import OutboxSender
from bot.store import SqlStore, open_store
from bot.store.rows import DeliveryDraft, NewWatch, WatchRow
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, BOT_TOKEN, GENERAL_CHANNEL_ID, GUILD_ID
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(30)
T0 = 1_800_000_000.0


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    store: SqlStore
    fake: FakeDiscord
    outbox: OutboxSender
    clock: Clock
    feeds: dict[str, int] = field(default_factory=dict)
    watches: list[WatchRow] = field(default_factory=list)
    counter: int = 0
    guilds: dict[str, int] = field(default_factory=dict)  # feed → guild (default GUILD_ID)

    async def publish(self, feed: str, title: str, key: str | None = None) -> str:
        """One item in ``feed`` at the current time, alerted by every watch; its key.

        With ``key`` of an earlier item, the same item with a changed headline.
        """
        self.counter += 1
        key = key or f"{feed}-{self.counter}"
        entry = Entry(key=key, title=title, link=f"https://{feed.lower()}.example/{key}")

        def plan(new: Sequence[Entry]) -> list[DeliveryDraft]:
            return [DeliveryDraft(w.id, e.key, f"n{w.id}-{e.key}", Alert(
                watch_name=w.name, feed_name=feed, title=e.title, link=e.link,
                snippet=Snippet(e.title, ()), matched_terms=("trade",)))
                for e in new for w in self.watches
                if w.guild_id == self.guilds.get(feed, GUILD_ID)]

        await self.store.ingest(self.feeds[feed], [entry], now=self.clock.now,
                                next_check=self.clock.now + 60, title=None, etag=None,
                                last_modified=None, body_hash=None, plan=plan)
        return key

    async def drain(self) -> None:
        for _ in range(3):
            await self.outbox.drain_once()

    def messages(self, channel: int = ALERTS_CHANNEL_ID) -> list[dict[str, object]]:
        return self.fake.messages(channel)


@contextlib.asynccontextmanager
async def open_world(path: Path) -> AsyncIterator[World]:
    """Guild GUILD_ID with a "trade" watch on the alerts channel and feeds AP, Reuters, BBC."""
    store = await open_store(f"sqlite:///{path}")
    clock = Clock()
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        outbox = OutboxSender(store, console=ConsoleSender(io.StringIO()), clock=clock,
                              discord=DiscordSender(session, fake.api_base, BOT_TOKEN, clock))
        w = World(store, fake, outbox, clock)
        w.watches.append(await store.add_watch(NewWatch(
            guild_id=GUILD_ID, name="trade", query="trade", channel_id=ALERTS_CHANNEL_ID), T0))
        for name in ("AP", "Reuters", "BBC"):
            await _follow(w, GUILD_ID, name)
        yield w
    await store.close()


async def _follow(world: World, guild: int, name: str) -> None:
    sub = await world.store.subscribe(guild, f"https://{name.lower()}.example/rss", name,
                                      300, T0)
    world.feeds[name], world.guilds[name] = sub.feed.id, guild
    await world.store.ingest(sub.feed.id, [], now=T0, next_check=T0, title=None, etag=None,
                             last_modified=None, body_hash=None, plan=lambda new: [])


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path / "ww.db") as w:
        yield w


def _also(message: dict[str, object]) -> str:
    [embed] = message["embeds"]  # type: ignore[misc]
    fields = embed.get("fields") or [{"name": "", "value": ""}]
    return f"{fields[0]['name']}: {fields[0]['value']}"


async def test_three_feeds_one_message_two_edits(world: World) -> None:
    await world.publish("AP", "Trump and Xi agree to resume trade talks")
    await world.drain()
    world.clock.now += 5
    await world.publish("Reuters", "UPDATE 1-Trump, Xi agree to resume trade talks - Reuters")
    await world.drain()
    world.clock.now += 20
    await world.publish("BBC", "Trump and Xi agree to resume trade talks | BBC News")
    await world.drain()
    [message] = world.messages()
    assert len(world.fake.state.edits) == 2
    assert _also(message).startswith("Also reported by (2): [Reuters](https://reuters.example/")
    assert "[BBC](https://bbc.example/" in _also(message)
    first_edit = world.fake.state.edits[0]["body"]["embeds"][0]["fields"][0]
    assert first_edit["name"] == "Also reported by (1)"

    await world.publish("AP", "Trump and Xi to meet for dinner at G20 summit")
    await world.drain()
    assert len(world.messages()) == 2  # a different story about the same people


async def _edited_and_one_more_source(world: World) -> None:
    """A story posted and edited once; 2 s later a third source queues an edit that waits."""
    await world.publish("AP", "Fed raises interest rates by a quarter point")
    await world.drain()
    await world.publish("Reuters", "Fed raises interest rates by quarter point - Reuters")
    await world.drain()
    assert len(world.fake.state.edits) == 1
    world.clock.now += 2
    await world.publish("BBC", "UPDATE 2-Fed raises interest rates by a quarter point")


async def test_edits_are_coalesced_to_one_per_ten_seconds(world: World) -> None:
    await _edited_and_one_more_source(world)
    world.clock.now += 1
    await world.publish("AP", "EXCLUSIVE-Fed raises interest rates by quarter point again")
    await world.drain()
    assert len(world.fake.state.edits) == 1  # within 10 s of the last edit: waits
    world.clock.now += 10
    await world.drain()
    assert len(world.fake.state.edits) == 2  # one edit with both new sources
    assert "(3)" in _also(world.messages()[0])


async def test_an_edit_of_a_deleted_message_gives_up_quietly(world: World) -> None:
    await world.publish("AP", "Storm Ciaran batters northern France")
    await world.drain()
    [message] = world.messages()
    async with aiohttp.ClientSession() as http, http.delete(
            f"{world.fake.api_base}/channels/{ALERTS_CHANNEL_ID}/messages/{message['id']}",
            headers={"Authorization": f"Bot {BOT_TOKEN}"}) as resp:
        assert resp.status == 204
    await world.publish("BBC", "Storm Ciaran batters northern France - BBC News")
    await world.drain()
    assert world.outbox.outcomes["gone"] == 1
    assert not (await world.store.watches(GUILD_ID))[0].paused
    await world.publish("Reuters", "Fed holds interest rates steady")
    await world.drain()
    assert len(world.messages()) == 1  # the channel still works


async def test_every_item_watches_post_each_item(world: World) -> None:
    world.watches.append(await world.store.add_watch(NewWatch(
        guild_id=GUILD_ID, name="all", query="trade", channel_id=GENERAL_CHANNEL_ID,
        stories="every-item"), T0))
    await world.publish("AP", "Trump and Xi agree to resume trade talks")
    await world.publish("Reuters", "Trump, Xi agree to resume trade talks - Reuters")
    await world.drain()
    assert len(world.messages(GENERAL_CHANNEL_ID)) == 2
    assert len(world.messages(ALERTS_CHANNEL_ID)) == 1


async def test_an_edit_queued_before_its_message_was_posted_waits(world: World) -> None:
    world.fake.faults.server_error(0.3, status=502, prefix="/channels/")
    await world.publish("AP", "Trump and Xi agree to resume trade talks")
    await world.publish("Reuters", "Trump, Xi agree to resume trade talks - Reuters")
    await world.drain()  # the post fails (502): the edit behind it must not go first
    assert world.messages() == [] and world.fake.state.edits == []
    import asyncio
    await asyncio.sleep(0.35)
    for _ in range(5):
        world.clock.now += 30
        await world.drain()
    [message] = world.messages()
    assert "Reuters" in _also(message)


def _title(message: dict[str, object]) -> str:
    return str(message["embeds"][0]["title"])  # type: ignore[index]


async def test_a_corrected_headline_edits_its_alert_in_place(world: World) -> None:
    key = await world.publish("AP", "Minister quits over expenses")
    await world.drain()
    await world.publish("Reuters", "Minister quits over expenses - Reuters")
    await world.drain()
    world.clock.now += 30
    await world.publish("AP", "Minister quits over expenses row", key=key)
    await world.drain()
    [message] = world.messages()
    assert _title(message) == "Updated: Minister quits over expenses row"
    assert "Reuters" in _also(message)  # the story's sources stay
    assert len(world.fake.state.edits) == 2
    await world.publish("AP", "Minister quits over expenses row", key=key)  # unchanged
    world.clock.now += 30
    await world.drain()
    assert len(world.fake.state.edits) == 2


async def test_a_correction_before_posting_posts_the_corrected_text(world: World) -> None:
    key = await world.publish("AP", "Minister quits over expenses")
    await world.publish("AP", "Minister quits over expenses claims", key=key)
    await world.drain()
    [message] = world.messages()
    assert _title(message) == "Minister quits over expenses claims"
    assert world.fake.state.edits == []


async def test_a_source_added_while_the_edit_waits_in_its_lane_is_shown(world: World) -> None:
    """The lane holds the edit as it read it; a source added before the edit is attempted
    refreshes the pending row. The edit must send the row as it is when attempted."""
    import asyncio
    await world.publish("AP", "Trump and Xi agree to resume trade talks")
    await world.drain()
    await world.publish("AP", "Fed holds interest rates steady")  # queued ahead of the edit
    await world.publish("Reuters", "UPDATE 1-Trump, Xi agree to resume trade talks - Reuters")
    world.fake.faults.post_delay = 0.5  # the lane is busy posting the Fed alert meanwhile
    drain = asyncio.create_task(world.outbox.drain_once())
    await asyncio.sleep(0.2)
    await world.publish("BBC", "Trump and Xi agree to resume trade talks | BBC News")
    await drain
    world.fake.faults.post_delay = 0.0
    world.clock.now += 30
    await world.drain()
    story = next(m for m in world.messages() if "Xi" in _title(m))
    assert "Reuters" in _also(story) and "BBC" in _also(story)


async def test_a_stale_senders_mark_leaves_the_story_post_alone(world: World) -> None:
    """A process whose claim was taken over marks nothing: nor the story post's pending edit,
    which the next source must still refresh instead of queueing a second edit."""
    await world.publish("AP", "Trump and Xi agree to resume trade talks")
    await world.drain()
    await world.publish("Reuters", "UPDATE 1-Trump, Xi agree to resume trade talks - Reuters")
    [(edit, _)] = await world.store.pending_deliveries(10)
    await world.store.mark_sent(edit.id, "1", world.clock.now, owner="not-the-sender")
    await world.publish("BBC", "Trump and Xi agree to resume trade talks | BBC News")
    assert [d.id for d, _ in await world.store.pending_deliveries(10)] == [edit.id]


async def test_an_edit_waiting_out_its_gap_does_not_hold_back_new_alerts(world: World) -> None:
    await _edited_and_one_more_source(world)
    await world.publish("AP", "Storm Ciaran batters northern France")  # behind the edit
    await world.drain()
    assert len(world.messages()) == 2  # the new story is posted now, not after the gap
    assert len(world.fake.state.edits) == 1
    world.clock.now += 10
    await world.drain()
    assert len(world.fake.state.edits) == 2


# --- Message state only moves forward (issue 20) -------------------------------------------

async def test_an_older_edit_waiting_to_retry_never_overwrites_a_newer_one(world: World) -> None:
    """Edit 1 (Reuters) is rate limited and waits a minute; edit 2 (Reuters and BBC) goes
    first. Edit 1's full-state PATCH must not land afterwards and drop BBC."""
    await world.publish("AP", "Fed raises interest rates by a quarter point")
    await world.drain()
    [message] = world.messages()
    world.fake.faults.rate_limit(f"/channels/{ALERTS_CHANNEL_ID}/messages/{message['id']}",
                                 retry_after=60.0, method="PATCH")
    await world.publish("Reuters", "Fed raises interest rates by quarter point - Reuters")
    await world.drain()
    assert world.fake.state.edits == []  # 429: edit 1 retries in a minute
    world.clock.now += 1
    await world.publish("BBC", "UPDATE 2-Fed raises interest rates by a quarter point")
    await world.drain()
    assert len(world.fake.state.edits) == 1  # edit 2, with both sources
    world.clock.now += 120
    await world.drain()
    [message] = world.messages()
    assert "Reuters" in _also(message) and "BBC" in _also(message)
    assert len(world.fake.state.edits) == 1
    assert world.outbox.outcomes["superseded"] == 1
    assert await world.store.pending_deliveries(10) == []


async def test_a_correction_while_the_post_waits_in_its_lane_is_posted(world: World) -> None:
    """The lane holds the post as it read it; a correction before its attempt rewrites the
    row and queues no edit. The post must go out corrected."""
    import asyncio
    await world.publish("AP", "Fed holds interest rates steady")  # ahead in the lane
    key = await world.publish("Reuters", "Minister quits over expenses")
    world.fake.faults.post_delay = 0.5  # the lane is busy posting the Fed alert meanwhile
    drain = asyncio.create_task(world.outbox.drain_once())
    await asyncio.sleep(0.2)
    await world.publish("Reuters", "Minister quits over expenses claims", key=key)
    await drain
    world.fake.faults.post_delay = 0.0
    world.clock.now += 30
    await world.drain()
    assert [_title(m) for m in world.messages()] == [
        "Fed holds interest rates steady", "Minister quits over expenses claims"]
    assert world.fake.state.edits == []


async def test_a_stale_poll_never_corrects_a_headline_back(world: World) -> None:
    """A poll that fetched before the one behind the current text is ingested last (a slow
    or paused process): its old headline is not a correction."""
    key = await world.publish("AP", "Minister quits over expenses")
    await world.drain()
    world.clock.now += 60
    await world.publish("AP", "Minister quits over expenses row", key=key)
    await world.drain()
    stale = world.clock.now - 30  # fetched between the two polls above, ingested only now
    now, world.clock.now = world.clock.now, stale
    await world.publish("AP", "Minister quits over expenses", key=key)
    world.clock.now = now + 60
    await world.drain()
    [message] = world.messages()
    assert _title(message) == "Updated: Minister quits over expenses row"
    assert len(world.fake.state.edits) == 1
    world.clock.now += 60  # a newer poll still corrects
    await world.publish("AP", "Minister quits over expenses claims", key=key)
    await world.drain()
    assert _title(world.messages()[0]) == "Updated: Minister quits over expenses claims"


OTHER_GUILD = 3333333333333333333
FLOOD = ["Fed raises interest rates by a quarter point, markets slide",
         "Fed raises interest rates as inflation stays high",
         "Fed raises rates by quarter point as inflation stays high"]


async def _our_messages(path: Path, flood: bool) -> tuple[list[object], int]:
    """Our guild's two related but separate alerts, with or without another guild's flood
    of near-duplicates (its own feeds and watch) in between; our embeds and edits."""
    async with open_world(path) as world:
        world.watches.append(await world.store.add_watch(NewWatch(
            guild_id=OTHER_GUILD, name="fed", query="fed"), T0))  # to its console
        for n in range(len(FLOOD)):
            await _follow(world, OTHER_GUILD, f"Flood{n}")
        await world.publish("AP", "Fed raises interest rates by a quarter point")
        await world.drain()
        for n, title in enumerate(FLOOD):
            world.clock.now += 30
            if flood:
                await world.publish(f"Flood{n}", title)
                await world.drain()
        world.clock.now += 30
        await world.publish("Reuters", "Fed raises rates again as inflation stays high, "
                                       "markets slide", key="ours-2")
        await world.drain()
        if flood:  # the other guild's own book did group its flood
            assert await world.store.pending_deliveries(10) == []
        return [m["embeds"] for m in world.messages()], len(world.fake.state.edits)


async def test_another_guild_flooding_near_duplicates_changes_none_of_our_messages(
        tmp_path: Path) -> None:
    calm = await _our_messages(tmp_path / "calm.db", flood=False)
    flooded = await _our_messages(tmp_path / "flooded.db", flood=True)
    assert calm[1] == 0 and len(calm[0]) == 2  # two stories for us: two messages, no edit
    assert flooded == calm
