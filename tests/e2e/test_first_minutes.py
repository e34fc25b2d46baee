"""A newcomer's first minutes: `wirewatch once` shows the silent first poll's preview, ends with
one summary line per feed, and says once, plainly, when no feed can be reached."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

from tests.e2e.harness import REPO, BotProcess, bot_env, rss, wait_for
from tests.fakes.feed_server import FeedServer


async def run_once(env: dict[str, str]) -> tuple[int, str, str]:
    """``python -m bot once``; returns (status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "once", env=env, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused, as when a host is unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_once_previews_the_silent_first_poll_then_summarises(tmp_path: Path) -> None:
    async with FeedServer() as feeds:
        feeds.serve("/feed.xml", rss([("a3", "China curbs rare-earth exports"),
                                      ("a2", "Weather"), ("a1", "Tariffs rise again")]))
        config = tmp_path / "wirewatch.toml"
        config.write_text(f"""
[[feeds]]
name = "Local Wire"
url = "{feeds.url('/feed.xml')}"

[[watches]]
name = "china-trade"
query = '"rare earth" OR tariffs'
""", encoding="utf-8")
        env = bot_env(tmp_path, config, "http://127.0.0.1:9")
        status, out, err = await run_once(env)
        assert status == 0, err
        assert ('Local Wire: 3 items recorded silently; 2 match china-trade now (not alerted): '
                '"China curbs rare-earth exports" · "Tariffs rise again"') in err
        assert "Local Wire: new matching items will be alerted" in err
        assert out.strip().splitlines()[-1] == (
            "Local Wire: 3 new, 2 matched, 0 sent, 0 failed "
            "(first poll: recorded silently, nothing alerted)")

        feeds.serve("/feed.xml", rss([("a4", "Tariffs on steel"), ("a5", "Sports"),
                                      ("a3", "China curbs rare-earth exports")]))
        status, out, err = await run_once(env)
        assert status == 0, err
        assert "recorded silently" not in err
        assert "Tariffs on steel" in out  # the console watch printed its alert
        assert out.strip().splitlines()[-1] == "Local Wire: 2 new, 1 matched, 1 sent, 0 failed"


async def test_offline_is_said_once_not_per_feed(tmp_path: Path) -> None:
    config = tmp_path / "wirewatch.toml"
    config.write_text("".join(f"""
[[feeds]]
name = "Feed {index}"
url = "http://127.0.0.1:{closed_port()}/feed.xml"
""" for index in range(4)), encoding="utf-8")
    status, out, err = await run_once(bot_env(tmp_path, config, "http://127.0.0.1:9"))
    assert status == 0, err
    assert err.count("no feed can be reached") == 1, err
    assert "keeps retrying" in err
    assert "could not connect" not in err.replace("last error: could not connect", ""), err
    summary = out.strip().splitlines()
    assert len(summary) == 4
    assert all("the poll failed: could not connect" in line for line in summary)


async def test_run_previews_each_feeds_first_poll(tmp_path: Path) -> None:
    async with FeedServer() as feeds:
        feeds.serve("/feed.xml", rss([("a2", "Tariffs rise again"), ("a1", "Weather")]))
        config = tmp_path / "wirewatch.toml"
        config.write_text(f"""
[[feeds]]
name = "Local Wire"
url = "{feeds.url('/feed.xml')}"
interval = "1s"

[[watches]]
name = "china-trade"
query = 'tariffs'
""", encoding="utf-8")
        bot = BotProcess(bot_env(tmp_path, config, "http://127.0.0.1:9"), tmp_path / "bot.log")
        await bot.start()
        try:
            await wait_for(lambda: "new matching items will be alerted" in bot.output(), 20,
                           "the first poll's preview")
            await wait_for(lambda: feeds.hits("/feed.xml") >= 3, 10, "more polls")
        finally:
            status, _ = await bot.stop()
        output = bot.output()
        assert status == 0, output
        assert ('Local Wire: 2 items recorded silently; 1 match china-trade now (not alerted): '
                '"Tariffs rise again"') in output
        assert output.count("recorded silently") == 1, "only the first poll is previewed"
