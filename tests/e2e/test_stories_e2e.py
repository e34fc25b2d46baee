"""Stories end to end: ``python -m bot run`` with three feeds against the fake Discord.

The same story from three feeds is one channel message and two edits naming the other
sources; a different story about the same people is a new message; a corrected headline
edits its message in place; a SIGKILL between an edit's claim and its send loses nothing
and doubles nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import BotProcess, bot_env, rss, wait_for
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, BOT_TOKEN
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(150)
FEEDS = ("AP Wire", "Reuters Wire", "BBC Wire")
OLD = [("old", "Yesterday's weather")]


def write_config(path: Path, feeds: FeedServer) -> None:
    tables = "".join(f'\n[[feeds]]\nname = "{name}"\nurl = "{feeds.url(f"/{n}.xml")}"\n'
                     f'interval = "1s"\n' for n, name in enumerate(FEEDS))
    path.write_text(tables + f"""
[[watches]]
name = "trade"
query = "trade OR Xi OR rates"
channel = {ALERTS_CHANNEL_ID}
""", encoding="utf-8")


async def start(tmp_path: Path, feeds: FeedServer, fake: FakeDiscord) -> BotProcess:
    for n in range(len(FEEDS)):
        feeds.serve(f"/{n}.xml", rss(OLD))
    config = tmp_path / "wirewatch.toml"
    write_config(config, feeds)
    bot = BotProcess(bot_env(tmp_path, config, fake.api_base, DISCORD_TOKEN=BOT_TOKEN,
                             WIREWATCH_DISCORD_GATEWAY_URL=fake.gateway_url),
                     tmp_path / "bot.log")
    await bot.start()
    for n in range(len(FEEDS)):
        await wait_for(lambda n=n: feeds.hits(f"/{n}.xml") >= 2, 40, "the feeds to be primed")
    return bot


def serve(feeds: FeedServer, feed: int, *items: tuple[str, str]) -> None:
    """Feed number ``feed`` now holds ``items`` (newest first) and the old item."""
    feeds.serve(f"/{feed}.xml", rss([*items, *OLD]))


def messages(fake: FakeDiscord) -> list[dict[str, Any]]:
    return fake.messages(ALERTS_CHANNEL_ID)


def also(message: dict[str, Any]) -> str:
    fields = message["embeds"][0].get("fields") or [{"name": "", "value": ""}]
    return f"{fields[0]['name']}: {fields[0]['value']}"


def posts(fake: FakeDiscord) -> int:
    return len(fake.requests_to("POST", f"/channels/{ALERTS_CHANNEL_ID}/messages"))


async def test_one_message_per_story_edits_and_corrections(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        bot = await start(tmp_path, feeds, fake)
        try:
            story = ("ap1", "Trump and Xi agree to resume trade talks")
            serve(feeds, 0, story)
            await wait_for(lambda: len(messages(fake)) == 1, 30, "the first alert")
            serve(feeds, 1, ("rt1", "UPDATE 1-Trump, Xi agree to resume trade talks - Reuters"))
            await wait_for(lambda: len(fake.state.edits) == 1, 30, "the first edit")
            serve(feeds, 2, ("bbc1", "Trump and Xi agree to resume trade talks | BBC News"))
            await wait_for(lambda: len(fake.state.edits) == 2, 40, "the second edit")
            [message] = messages(fake)
            assert also(message).startswith("Also reported by (2): [Reuters Wire]")
            assert "[BBC Wire](https://news.example/bbc1)" in also(message)

            dinner = ("ap2", "Trump and Xi to meet for dinner at G20")
            serve(feeds, 0, dinner, story)
            await wait_for(lambda: len(messages(fake)) == 2, 30, "the other story's alert")

            serve(feeds, 0, dinner, ("ap1", "Trump and Xi agree to resume trade talks in Geneva"))
            await wait_for(lambda: messages(fake)[0]["embeds"][0]["title"].startswith(
                "Updated: "), 40, "the correction")
            first = messages(fake)[0]["embeds"][0]
            assert first["title"] == "Updated: Trump and Xi agree to resume trade talks in Geneva"
            assert "BBC Wire" in also(messages(fake)[0])
            assert len(messages(fake)) == 2 and posts(fake) == 2
        finally:
            status, _ = await bot.stop()
        assert status == 0, bot.output()


async def test_sigkill_between_an_edits_claim_and_its_send(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        bot = await start(tmp_path, feeds, fake)
        serve(feeds, 0, ("ap1", "Fed raises interest rates by a quarter point"))
        await wait_for(lambda: len(messages(fake)) == 1, 30, "the first alert")
        fake.faults.patch_delay = 3.0  # the edit is claimed and on its way when we kill
        serve(feeds, 1, ("rt1", "Fed raises interest rates by quarter point - Reuters"))
        await wait_for(lambda: bool(fake.requests_to("PATCH", "/channels/")), 30,
                       "the edit to be sent")
        await bot.kill()
        fake.faults.patch_delay = 0.0
        await bot.start()
        await wait_for(lambda: "Reuters Wire" in also(messages(fake)[0]), 40,
                       "the edit after the restart")
        status, _ = await bot.stop()
        [message] = messages(fake)
        assert also(message).startswith("Also reported by (1): [Reuters Wire]")
        # The killed attempt's edit was sent again after the restart: PATCH is idempotent,
        # so the message shows it once; nothing was posted twice, nothing lost.
        assert len(fake.requests_to("PATCH", "/channels/")) >= 2
        assert posts(fake) == 1
        assert status == 0, bot.output()
