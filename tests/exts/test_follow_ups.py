"""Follow-ups per watch (issue 22): edit, a thread per story, or nothing; forum channels.

A story is posted once; a second feed reporting it is its follow-up. Real bot, real SQLite,
the fake Discord's threads and forums.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.exts.harness import Bot, item, rss, running_bot
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    FakeChannel,
    FakeConfig,
    FakeGuild,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(60)

FORUM_ID = 2222222222222222209
GUILD = FakeGuild(channels=(*FakeGuild().channels, FakeChannel(FORUM_ID, "news", 2, 15)))
HEADLINE = "China curbs rare earth exports as tariffs bite"
OTHER = "Steel tariffs doubled overnight"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(FakeConfig(guilds=(GUILD,))) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> AsyncIterator[Bot]:
    async with running_bot(fake, feeds, tmp_path) as running:
        for path in ("/a.xml", "/b.xml", "/c.xml"):
            feeds.serve(path, rss(item(f"old{path[1]}", "Old tariffs story")))
            await running.feed_add(feeds.url(path), name=f"Wire {path[1].upper()}")
        yield running


def publish(bot: Bot, path: str, *items: str) -> None:
    bot.feeds.serve(path, rss(*items, item(f"old{path[1]}", "Old tariffs story")))


async def three_sources(bot: Bot) -> None:
    """The story from A, then from B, then from C, each delivered before the next."""
    for path, guid in (("/a.xml", "a1"), ("/b.xml", "b1"), ("/c.xml", "c1")):
        publish(bot, path, item(guid, HEADLINE))
        await bot.poll_and_deliver()
        await bot.app.outbox.drain_once()


@pytest.mark.parametrize(("mode", "edits", "thread_posts"),
                         [("edit", True, 0), ("thread", True, 2), ("off", False, 0)])
async def test_follow_ups_per_watch(bot: Bot, mode: str, edits: bool,
                                    thread_posts: int) -> None:
    reply = await bot.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID,
                                follow_ups=mode)
    assert "added" in reply
    await three_sources(bot)
    [story] = bot.fake.messages(ALERTS_CHANNEL_ID)
    story_id = int(story["id"])
    assert bool(bot.fake.state.edits) is edits
    in_thread = bot.fake.messages(story_id)
    assert len(in_thread) == thread_posts
    if thread_posts:
        assert [m["embeds"][0]["author"]["name"] for m in in_thread] == ["Wire B", "Wire C"]
        # The thread is on the story message (its id) and was opened once.
        assert len(bot.fake.requests_to("POST", f"/channels/{ALERTS_CHANNEL_ID}/messages/"
                                        f"{story_id}/threads")) == 1
        assert all(m["mention_roles"] == [] for m in in_thread)


async def test_a_second_source_goes_into_the_thread_once(bot: Bot) -> None:
    await bot.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID, follow_ups="thread")
    publish(bot, "/a.xml", item("a1", HEADLINE))
    await bot.poll_and_deliver()
    for _ in range(3):  # B lists the item at every poll; it goes into the thread once
        publish(bot, "/b.xml", item("b1", HEADLINE))
        await bot.poll_and_deliver()
        await bot.app.outbox.drain_once()
    [story] = bot.fake.messages(ALERTS_CHANNEL_ID)
    [post] = bot.fake.messages(int(story["id"]))
    assert post["embeds"][0]["url"] == "https://news.example/b1"


async def test_a_thread_someone_already_opened_is_used(bot: Bot) -> None:
    await bot.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID, follow_ups="thread")
    publish(bot, "/a.xml", item("a1", HEADLINE))
    await bot.poll_and_deliver()
    [story] = bot.fake.messages(ALERTS_CHANNEL_ID)
    thread = f"/channels/{ALERTS_CHANNEL_ID}/messages/{story['id']}/threads"
    async with bot.app.outbox._discord._session.post(  # type: ignore[union-attr]
            bot.fake.api_base + thread, json={"name": "opened by a member"},
            headers={"Authorization": f"Bot {bot.fake.config.token}"}) as resp:
        assert resp.status == 201
    publish(bot, "/b.xml", item("b1", HEADLINE))
    await bot.poll_and_deliver()
    await bot.app.outbox.drain_once()
    assert [r.status for r in bot.fake.requests_to("POST", thread)] == [201, 400]  # 160004
    assert len(bot.fake.messages(int(story["id"]))) == 1


async def test_a_forum_channel_gets_one_post_per_story_tagged_with_the_watch(
        bot: Bot) -> None:
    await bot.watch_add("trade", "tariffs", channel_id=FORUM_ID, channel_type=15)
    await three_sources(bot)
    publish(bot, "/a.xml", item("a2", OTHER), item("a1", HEADLINE))
    await bot.poll_and_deliver()
    posts = bot.fake.requests_to("POST", f"/channels/{FORUM_ID}/threads")
    assert [p.json["name"] for p in posts] == [HEADLINE, OTHER]
    [tag] = bot.fake.state.forum_tags[FORUM_ID]
    assert tag["name"] == "trade"
    assert all(p.json["applied_tags"] == [tag["id"]] for p in posts)
    first, _ = bot.fake.state.threads_of(FORUM_ID)
    [starter] = bot.fake.messages(first)  # later sources edited it (at most one per 10 s)
    assert starter["embeds"][0]["fields"][0]["name"] == "Also reported by (1)"
    assert bot.fake.state.edits[0]["channel_id"] == str(first)
    # Its type once, then its tags afresh before each of the two posts.
    assert len(bot.fake.requests_to("GET", f"/channels/{FORUM_ID}")) == 3
    assert {c["label"] for c in starter["components"][0]["components"]} == {
        "Read", "Follow", "Mute story"}


async def test_without_thread_permission_the_post_fails_and_the_watch_goes_on(
        bot: Bot) -> None:
    await bot.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID, follow_ups="thread")
    bot.fake.state.bot_lacks.add("create_public_threads")
    await three_sources(bot)
    [story] = bot.fake.messages(ALERTS_CHANNEL_ID)
    assert bot.fake.messages(int(story["id"])) == []
    assert bot.fake.state.edits  # the story message itself is still kept up to date
    [watch] = await bot.app.store.watches(GUILD.id)
    assert not watch.paused
    status = await bot.answer("status")
    assert "cannot open a thread" in status and "50013 Missing Permissions" in status


async def test_a_forum_without_manage_channels_gets_untagged_posts(bot: Bot) -> None:
    await bot.watch_add("trade", "tariffs", channel_id=FORUM_ID, channel_type=15)
    bot.fake.state.bot_lacks.add("manage_channels")
    publish(bot, "/a.xml", item("a1", HEADLINE))
    assert await bot.poll_and_deliver() == 1
    [post] = bot.fake.requests_to("POST", f"/channels/{FORUM_ID}/threads")
    assert post.json["applied_tags"] == [] and post.status == 201


async def test_a_forum_tag_an_admin_deleted_is_made_again(bot: Bot) -> None:
    await bot.watch_add("trade", "tariffs", channel_id=FORUM_ID, channel_type=15)
    publish(bot, "/a.xml", item("a1", HEADLINE))
    assert await bot.poll_and_deliver() == 1
    bot.fake.state.forum_tags[FORUM_ID] = []  # deleted in Discord's settings
    publish(bot, "/a.xml", item("a2", OTHER), item("a1", HEADLINE))
    assert await bot.poll_and_deliver() == 1
    first, second = bot.fake.requests_to("POST", f"/channels/{FORUM_ID}/threads")
    [tag] = bot.fake.state.forum_tags[FORUM_ID]
    assert second.status == 201 and second.json["applied_tags"] == [tag["id"]]
    assert first.json["applied_tags"] != [tag["id"]]


async def test_a_forum_whose_look_up_failed_once_still_gets_its_post(bot: Bot) -> None:
    from tests.fakes.discord_faults import Fault
    await bot.watch_add("trade", "tariffs", channel_id=FORUM_ID, channel_type=15)
    bot.fake.faults.add(Fault(502, {"message": "502: Bad Gateway", "code": 0},
                              f"/channels/{FORUM_ID}", "GET", count=1))
    publish(bot, "/a.xml", item("a1", HEADLINE))
    assert await bot.poll_and_deliver() == 1
    [refused] = bot.fake.requests_to("POST", f"/channels/{FORUM_ID}/messages")
    assert refused.status == 400  # guessed a text channel; Discord said 50008
    [post] = bot.fake.requests_to("POST", f"/channels/{FORUM_ID}/threads")
    assert post.status == 201
