"""Alerts end to end: command-made watch and feed → poll → outbox → the fake Discord channel.

Checks the embed Discord receives, who the message would ping (the fake applies
``allowed_mentions`` like Discord), rate limits, a channel that became forbidden, and /status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.delivery.embed import stable_color
from tests.exts.harness import Bot, item, rss, running_bot
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    GENERAL_CHANNEL_ID,
    USER_ID,
    FakeConfig,
    FakeGuild,
    FakeRole,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(30)

DESK = FakeRole(4444444444444444401, "news-desk")
OTHER = FakeRole(4444444444444444402, "everyone-else")
GUILD = FakeGuild(roles=(DESK, OTHER))
HOSTILE = f"@everyone <@&{OTHER.id}> <@{USER_ID}> tariffs"
THUMB = "https://img.news.example/a2.jpg"
MESSAGES = f"/channels/{ALERTS_CHANNEL_ID}/messages"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(FakeConfig(guilds=(GUILD,))) as server:
        yield server


@pytest.fixture
async def wired(fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> AsyncIterator[Bot]:
    """A bot with a feed "Wire" (one old item) added from Discord."""
    feeds.serve("/feed.xml", rss(item("a1", "Old tariffs story")))
    async with running_bot(fake, feeds, tmp_path) as bot:
        await bot.feed_add(feeds.url("/feed.xml"), name="Wire")
        yield bot


def publish(bot: Bot, *items: str) -> None:
    bot.feeds.serve("/feed.xml", rss(*items, item("a1", "Old tariffs story")))


async def drain_until(bot: Bot, channel_id: int, count: int, timeout: float = 5.0) -> None:
    """Run outbox passes until the channel has ``count`` messages (retries wait out a backoff)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while len(bot.fake.messages(channel_id)) < count:
        assert asyncio.get_running_loop().time() < deadline, "alerts did not arrive"
        await bot.app.outbox.drain_once()
        await asyncio.sleep(0.05)


async def test_alert_embed_in_the_chosen_channel_pings_only_the_watch_role(wired: Bot) -> None:
    fake = wired.fake
    await wired.watch_add("china-trade", '"rare earths" OR tariffs',
                          channel_id=ALERTS_CHANNEL_ID, role=DESK, guild=GUILD)
    publish(wired, item("a2", "China curbs exports as tariffs bite", thumbnail=THUMB,
                        published="Tue, 02 Jan 2024 10:00:00 GMT"))
    assert await wired.poll_and_deliver() == 1
    assert fake.messages(GENERAL_CHANNEL_ID) == []
    [message] = fake.messages(ALERTS_CHANNEL_ID)
    [embed] = message["embeds"]
    assert embed["title"] == "China curbs exports as tariffs bite"
    assert embed["url"] == "https://news.example/a2"
    assert embed["author"] == {"name": "Wire"}
    assert embed["timestamp"] == "2024-01-02T10:00:00+00:00"
    # The matched sentence and the next one, the term in bold.
    assert embed["description"] == ("China curbs exports as **tariffs** bite. "
                                    "Analysts were surprised.")
    footer, marker = embed["footer"]["text"].rsplit(" · ref ", 1)
    assert footer == "china-trade · tariffs" and len(marker) == 12  # the delivery's own ref
    assert embed["thumbnail"] == {"url": THUMB}
    assert embed["color"] == stable_color("china-trade")
    assert message["content"] == f"<@&{DESK.id}>"
    assert (message["mention_everyone"], message["mention_roles"], message["mentions"]) == (
        False, [str(DESK.id)], [])
    [post] = fake.requests_to("POST", MESSAGES)
    assert post.json["allowed_mentions"] == {"parse": [], "roles": [str(DESK.id)]}
    assert post.json["enforce_nonce"] is True and len(post.json["nonce"]) <= 25


@pytest.mark.parametrize("role", [None, DESK])
async def test_a_hostile_headline_pings_nobody(wired: Bot, role: FakeRole | None) -> None:
    await wired.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID, role=role,
                          guild=GUILD)
    publish(wired, item("h1", HOSTILE))
    assert await wired.poll_and_deliver() == 1
    [message] = wired.fake.messages(ALERTS_CHANNEL_ID)
    assert message["mention_everyone"] is False and message["mentions"] == []
    # Only the watch's own role, never the one named in the headline.
    assert message["mention_roles"] == ([str(role.id)] if role else [])
    assert message["content"] == (f"<@&{role.id}>" if role else "")
    title = message["embeds"][0]["title"]
    assert "@everyone" not in title and f"<@&{OTHER.id}>" not in title
    assert "tariffs" in title


async def test_a_rate_limited_alert_is_sent_once_after_retry_after(wired: Bot) -> None:
    await wired.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID)
    fault = wired.fake.faults.rate_limit(MESSAGES, count=1, retry_after=0.05)
    publish(wired, item("a2", "Tariffs rise"))
    assert await wired.poll_and_deliver() == 0  # 429: scheduled for a retry
    await drain_until(wired, ALERTS_CHANNEL_ID, 1)
    assert fault.count == 0
    assert [r.status for r in wired.fake.requests_to("POST", MESSAGES)] == [429, 200]
    assert await wired.app.outbox.drain_once() == 0
    assert len(wired.fake.messages(ALERTS_CHANNEL_ID)) == 1
    status = await wired.answer("status")
    assert "Alerts: 0 queued, 0 failed, 1 sent; last alert <t:" in status


async def test_paused_watch_holds_alerts_until_resumed(wired: Bot) -> None:
    await wired.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID)
    publish(wired, item("a2", "Tariffs rise"))
    await wired.app.poller.poll_all_once()  # queued before the pause
    await wired.answer("watch", {"name": "trade"}, subcommand="pause")
    assert await wired.app.outbox.drain_once() == 0
    await wired.answer("watch", {"name": "trade"}, subcommand="resume")
    assert await wired.app.outbox.drain_once() == 1


async def test_status_reports_failing_feeds_and_failed_deliveries(wired: Bot) -> None:
    await wired.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID)
    healthy = await wired.answer("status")
    assert healthy.splitlines()[0].startswith("**Wirewatch 0.1.0** — up 0h00m")
    assert healthy.splitlines()[1:3] == [
        "Feeds: 1 ok, 0 failing", "Alerts: 0 queued, 0 failed, 0 sent; last alert never"]
    assert healthy.splitlines()[3].startswith("Schedule: lag p95 0.0s, max 0.0s over the last")
    assert healthy.splitlines()[3].endswith("; role all")

    wired.fake.faults.forbid_channel(ALERTS_CHANNEL_ID)
    publish(wired, item("a2", "Tariffs rise"))
    await wired.poll_and_deliver()
    [watch] = await wired.app.store.watches(GUILD.id)
    assert watch.paused and "Missing Access" in (watch.paused_reason or "")
    # The guild is told once, in a channel other than the one that was lost.
    [notice] = wired.fake.messages(GENERAL_CHANNEL_ID)
    assert notice["content"].startswith("Watch 'trade' is paused: channel ")
    assert notice["content"].endswith("then run /watch resume trade.")
    wired.feeds.status("/feed.xml", 500)
    await wired.app.poller.poll_all_once()

    lines = (await wired.answer("status")).splitlines()
    assert lines[1:3] == ["Feeds: 0 ok, 1 failing",
                          "Alerts: 0 queued, 1 failed, 0 sent; last alert never"]
    assert lines[3].startswith("• feed **Wire**: HTTP 500")
    assert lines[4].startswith("• watch **trade** (failed): channel ")
    assert "HTTP 403 50001 Missing Access" in lines[4]


async def test_status_shows_processes_without_the_operators_hosts_or_pids(wired: Bot) -> None:
    """Any guild's admin may run /status: it counts the processes, never names their hosts."""
    membership = wired.app.membership
    assert membership is not None
    await membership.register()
    status = await wired.answer("status")
    assert "Processes: 1 live" in status
    assert "• process 1 (this one): all; holds 0 alert targets" in status
    assert membership.me.host not in status
    assert f":{membership.me.pid}" not in status and str(membership.me.pid) not in status
