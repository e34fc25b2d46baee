"""Several ``wirewatch run`` subprocesses with identical environments on one PostgreSQL schema.

The way an operator scales out (``docker compose up --scale wirewatch=3``): same config file,
same ``WIREWATCH_DATABASE_URL`` (a fresh schema per test via ``search_path``, like the store
tests), same token, the local feed server and the fake Discord. Each process logs to its own
file; ``kill`` is SIGKILL, ``restart`` starts the same process again.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.e2e.harness import BotProcess, bot_env
from tests.fakes.discord_server import FakeDiscord
from tests.store.conftest import fresh_postgres


class Cluster:
    """``count`` bot processes sharing one database."""

    def __init__(self, tmp_path: Path, env: dict[str, str], count: int,
                 args: Sequence[str] = ()) -> None:
        self.env = env
        self.processes = [BotProcess(env, tmp_path / f"bot{i}.log", args) for i in range(count)]

    async def start(self, stagger_s: float = 0.3) -> None:
        """Start every process (a little apart, as replicas usually come up)."""
        for process in self.processes:
            await process.start()
            await asyncio.sleep(stagger_s)

    def alive(self) -> list[int]:
        """Indices of the processes still running."""
        return [i for i, p in enumerate(self.processes)
                if p.process is not None and p.process.returncode is None]

    async def kill(self, index: int) -> None:
        """SIGKILL one process, as a crash or the OOM killer would."""
        await self.processes[index].kill()

    async def restart(self, index: int) -> None:
        """Start a killed or stopped process again, same environment."""
        await self.processes[index].start()

    async def stop(self) -> list[int]:
        """SIGTERM every live process; their exit statuses."""
        statuses = await asyncio.gather(*(self.processes[i].stop() for i in self.alive()))
        return [status for status, _ in statuses]

    async def kill_all(self) -> None:
        """SIGKILL whatever still runs (test clean-up)."""
        for process in self.processes:
            await process.kill()

    def health(self, index: int) -> dict[str, Any]:
        """``/healthz`` of one process (each serves on a free port, named in its log)."""
        ports = re.findall(r"http endpoints on 127\.0\.0\.1:(\d+)", self.processes[index].output())
        assert ports, f"bot{index} serves no /healthz yet"
        url = f"http://127.0.0.1:{ports[-1]}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return dict(json.loads(answer.read()))
        except urllib.error.HTTPError as failed:  # 503 carries the same body
            return dict(json.loads(failed.read()))

    def output(self, tail: int = 3000) -> str:
        """The end of every process's log, for failure messages."""
        return "\n".join(f"--- bot{i} ---\n{p.output()[-tail:]}"
                         for i, p in enumerate(self.processes))


@asynccontextmanager
async def postgres_cluster(tmp_path: Path, config_text: str, fake: FakeDiscord, *,
                           count: int = 3, token: bool = True, args: Sequence[str] = (),
                           **extra: str) -> AsyncIterator[Cluster]:
    """``count`` identical processes on a fresh PostgreSQL schema (skips without PostgreSQL)."""
    async with fresh_postgres() as postgres:
        config = tmp_path / "wirewatch.toml"
        config.write_text(config_text, encoding="utf-8")
        # Port 0: identical environments, yet each process gets its own /healthz port.
        env = bot_env(tmp_path, config, fake.api_base, WIREWATCH_DATABASE_URL=postgres.url,
                      WIREWATCH_DISCORD_GATEWAY_URL=fake.gateway_url,
                      WIREWATCH_HTTP_ADDR="127.0.0.1:0", **extra)
        if token:
            env["DISCORD_TOKEN"] = fake.config.token
        cluster = Cluster(tmp_path, env, count, args)
        try:
            yield cluster
        finally:
            await cluster.kill_all()
