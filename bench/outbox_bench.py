"""One channel's backlog against another channel's alert, through the real outbox.

    .venv/bin/python bench/outbox_bench.py                      # 12 alerts paced 1 s on A

Channel A answers every message with a spent rate-limit bucket (``X-RateLimit-Remaining: 0``,
reset after ``--pace`` seconds, as Discord does after 5 messages in 5 s), and holds a backlog of
``--backlog`` alerts. Once A's first message is out, one alert is queued for idle channel B. The
baseline, in the same run, is that alert with no backlog on A. Prints B's delay in both cases
and their ratio (issue 11 measured 10 s with the old drain_once; lanes make it ~1x).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bot.delivery.console import ConsoleSender
from bot.delivery.discord_rest import DiscordSender
from bot.delivery.outbox import OutboxSender
from bot.store import open_store
from bot.store.rows import NewWatch
from tests.delivery.rig import NOW, channel_watch, queue
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    BOT_TOKEN,
    GENERAL_CHANNEL_ID,
    GUILD_ID,
)
from tests.fakes.discord_server import FakeDiscord


async def b_delay(backlog: int, pace: float) -> float:
    """Seconds from queueing B's alert to its message, with ``backlog`` alerts paced on A."""
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
            outbox = OutboxSender(store, console=ConsoleSender(), clock=time.time,
                                  discord=DiscordSender(session, fake.api_base, BOT_TOKEN,
                                                        time.time))
            a = await channel_watch(store, "a")
            b = await store.add_watch(NewWatch(guild_id=GUILD_ID, name="b", query="tariffs",
                                               channel_id=GENERAL_CHANNEL_ID), NOW)
            fake.faults.pace(f"/channels/{ALERTS_CHANNEL_ID}", pace)
            runner = asyncio.create_task(outbox.run())
            if backlog:
                await queue(store, a, backlog)
                outbox.wake()
                while not fake.messages(ALERTS_CHANNEL_ID):
                    await asyncio.sleep(0.005)
            started = time.monotonic()
            await queue(store, b, 1, url="https://b.example/rss")
            outbox.wake()
            while not fake.messages(GENERAL_CHANNEL_ID):
                await asyncio.sleep(0.005)
            delay = time.monotonic() - started
            outbox.stopping.set()
            outbox.wake()
            await asyncio.wait({runner}, timeout=15)
            runner.cancel()
        await store.close()
    return delay


async def main(backlog: int, pace: float) -> None:
    base = await b_delay(0, pace)
    loaded = await b_delay(backlog, pace)
    print(f"B alone: {base * 1000:.0f} ms; B behind {backlog} paced alerts on A: "
          f"{loaded * 1000:.0f} ms; ratio {loaded / max(base, 1e-3):.1f}x")


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--backlog", type=int, default=12)
    args.add_argument("--pace", type=float, default=1.0)
    parsed = args.parse_args()
    asyncio.run(main(parsed.backlog, parsed.pace))
