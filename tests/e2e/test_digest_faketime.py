"""An hourly digest across a restart at the hour, with the bot's clock set by libfaketime.

The bot runs as a subprocess whose clock starts half a minute before 17:00 (libfaketime's
``FAKETIME="@…"`` starts the clock there and lets it run). Two matches arrive before the
hour; the bot stops; a new process crosses the hour (or starts after it, catching up). The
watch must get one digest listing both matches, exactly once, and a match after the hour
must wait for the next digest. Skips, saying why, where libfaketime is not installed
(``apt-get install -y faketime``; .ci/run installs it when it can).
"""

from __future__ import annotations

import asyncio
import glob
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, BotProcess, bot_env, rss, wait_for
from tests.fakes.discord_payloads import WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

LIBFAKETIME = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
                     + glob.glob("/usr/lib/faketime/libfaketime.so.1")
                     + glob.glob("/usr/local/lib/faketime/libfaketime.so.1"))

pytestmark = [
    pytest.mark.skipif(not LIBFAKETIME, reason="libfaketime is not installed "
                       "(apt-get install -y faketime)"),
    pytest.mark.timeout(150),
]

OLD = [("a1", "Weather"), ("a2", "Old tariffs story")]
BEFORE_HOUR = [("b1", "Tariffs on steel rise"), ("b2", "Xi and Bessent talk tariffs")]
AFTER_HOUR = [("c1", "Tariffs cut after talks")]


class FakeClockBot(BotProcess):
    """``python -m bot run`` with libfaketime preloaded: its clock starts at ``start``."""

    def __init__(self, env: dict[str, str], log_path: Path, start: str) -> None:
        super().__init__({**env, "LD_PRELOAD": LIBFAKETIME[0], "FAKETIME": f"@{start}",
                          "TZ": "UTC"}, log_path)

    async def start(self) -> None:
        """Start the bot directly (not through the faketime wrapper, so signals reach it)."""
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=self.env, cwd=REPO, stdout=log,
            stderr=asyncio.subprocess.STDOUT)
        log.close()


def write_config(path: Path, feed_url: str) -> None:
    path.write_text(f"""
[[feeds]]
name = "Local Wire"
url = "{feed_url}"
interval = "1s"

[[watches]]
name = "hourly-trade"
query = 'tariffs'
webhook = "{FakeWebhook().url}"
deliver = "hourly"
""", encoding="utf-8")


async def polls_after(feeds: FeedServer, count: int) -> None:
    """Wait until the feed was fetched ``count`` more times (so what it serves is stored)."""
    target = feeds.hits("/feed.xml") + count
    await wait_for(lambda: feeds.hits("/feed.xml") >= target, 30, f"{count} more polls")


@pytest.mark.parametrize("second_start", ["2026-11-29 16:59:56", "2026-11-29 17:00:10"],
                         ids=["crosses-the-hour", "catches-up-at-start"])
async def test_hourly_digest_once_across_a_restart_at_the_hour(
        tmp_path: Path, second_start: str) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        feeds.serve("/feed.xml", rss(OLD))
        config = tmp_path / "wirewatch.toml"
        write_config(config, feeds.url("/feed.xml"))
        env = bot_env(tmp_path, config, fake.api_base)
        output = tmp_path / "bot.log"

        first = FakeClockBot(env, output, "2026-11-29 16:59:30")
        await first.start()
        await wait_for(lambda: "recorded silently" in first.output(), 30, "the first poll")
        feeds.serve("/feed.xml", rss(BEFORE_HOUR + OLD))
        await polls_after(feeds, 2)
        status, _ = await first.stop()
        assert status == 0, first.output()
        assert fake.webhook_messages(WEBHOOK_ID) == [], "held for the digest, not sent"

        second = FakeClockBot(env, output, second_start)
        await second.start()
        await wait_for(lambda: len(fake.webhook_messages(WEBHOOK_ID)) >= 1, 40,
                       f"the 17:00 digest\n{second.output()}")
        feeds.serve("/feed.xml", rss(AFTER_HOUR + BEFORE_HOUR + OLD))
        await polls_after(feeds, 2)
        await second.kill()  # a crash just after the hour

        third = FakeClockBot(env, output, "2026-11-29 17:00:40")
        await third.start()
        await polls_after(feeds, 3)
        await asyncio.sleep(2)  # more flushes: still exactly one digest
        status, _ = await third.stop()
        assert status == 0, third.output()

        [digest] = fake.webhook_messages(WEBHOOK_ID)
        [embed] = digest["embeds"]
        assert embed["title"] == "hourly-trade: 2 matches, until 17:00 UTC, 29 Nov 2026"
        description = embed["description"]
        for guid, title in BEFORE_HOUR:
            assert f"[{title}](<https://news.example/{guid}>)" in description
        assert "Tariffs cut after talks" not in description, "after the hour: next digest"
        assert "Old tariffs story" not in description, "the first poll is silent"
