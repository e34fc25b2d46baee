"""Running ``wirewatch run`` as a subprocess against local servers, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def rss(items: Sequence[tuple[str, str]], *, minutes: bool = False) -> bytes:
    """An RSS feed of (guid, title) items, newest first, dated a minute apart when asked."""
    parts = []
    for index, (guid, title) in enumerate(items):
        date = ""
        if minutes:
            stamp = time.gmtime(1_800_000_000 - 60 * index)
            date = f"<pubDate>{time.strftime('%a, %d %b %Y %H:%M:%S GMT', stamp)}</pubDate>"
        parts.append(
            f"<item><title>{title}</title><link>https://news.example/{guid}</link>"
            f"<guid>{guid}</guid>{date}<description>Markets moved. {title}. Analysts were "
            f"surprised.</description></item>")
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local Wire</title>'
            f"<link>https://news.example/</link>{''.join(parts)}</channel></rss>").encode()


def bot_env(tmp_path: Path, config: Path, api_base: str, **extra: str) -> dict[str, str]:
    """The environment of a test bot: its config, a tmp database, the fake Discord."""
    env = {**os.environ, "WIREWATCH_CONFIG": str(config),
           "WIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/state/ww.db",
           "WIREWATCH_DISCORD_API_BASE": api_base,
           "WIREWATCH_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8", "PYTHONUNBUFFERED": "1"}
    env.pop("DISCORD_TOKEN", None)
    env.update(extra)
    return env


class BotProcess:
    """One ``python -m bot run`` subprocess; its output is kept for failure messages."""

    def __init__(self, env: dict[str, str], log_path: Path, args: Sequence[str] = ()) -> None:
        self.env = env
        self.log_path = log_path
        self.args = tuple(args)  # after ``run``, e.g. ("--role", "poll")
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the bot, appending its output to the log file."""
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", *self.args, env=self.env, cwd=REPO, stdout=log,
            stderr=asyncio.subprocess.STDOUT)
        log.close()

    def output(self) -> str:
        """Everything the bot printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def stop(self) -> tuple[int, float]:
        """SIGTERM; returns (exit status, seconds it took)."""
        assert self.process is not None
        started = time.monotonic()
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(self.process.wait(), timeout=15)
        return status, time.monotonic() - started

    async def kill(self) -> None:
        """SIGKILL, as a crash or an OOM killer would."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def wait_for(probe: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    """Poll ``probe`` every 50 ms until true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
