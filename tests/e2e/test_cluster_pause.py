"""A gateway holder stopped by its host (SIGSTOP) wakes with commands buffered in its socket
(issue 20): it must not run them; the process that took the gateway over answers each once.

Two ``wirewatch run`` processes on one PostgreSQL schema (skips without it). The fake Discord
keeps the stopped process's session identified, as Discord does until its heartbeat times
out, so every command goes to both sessions, as it would.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.e2e.cluster import Cluster, postgres_cluster
from tests.fakes.discord_payloads import GUILD_ID, MODERATOR_PERMISSIONS
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_state import InteractionRecord

pytestmark = pytest.mark.timeout(150)
COMMANDS = 3


def holder(cluster: Cluster) -> int:
    """The index of the process that holds the gateway lease now."""
    for index in cluster.alive():
        view = cluster.health(index)
        if any(p["self"] and "gateway:0/1" in p["holds"] for p in view.get("processes", [])):
            return index
    raise AssertionError("no process holds the gateway")


def callbacks(fake: FakeDiscord, record: InteractionRecord) -> list[int]:
    """The status of every callback request made for one interaction, by any process."""
    prefix = f"/interactions/{record.id}/"
    return [r.status for r in fake.state.requests
            if r.method == "POST" and r.path.startswith(prefix)]


async def test_a_paused_gateway_holder_does_not_replay_buffered_commands(
        tmp_path: Path) -> None:
    config = f'[bot]\nguilds = ["{GUILD_ID}"]\n'
    async with FakeDiscord() as fake, postgres_cluster(tmp_path, config, fake,
                                                        count=2) as cluster:
        await cluster.start()
        await fake.wait_until(lambda: fake.state.sessions_now == 1, 40, "a gateway session")
        await asyncio.sleep(1.0)  # /healthz lists the holder once its lease is written
        paused = cluster.processes[holder(cluster)].process
        assert paused is not None
        identified = len(fake.gateway.identifies)
        os.kill(paused.pid, signal.SIGSTOP)
        records = []
        try:
            # Its lease runs out; the other process takes the gateway over and connects.
            await fake.wait_until(lambda: len(fake.gateway.identifies) > identified, 60,
                                  "the other process to take the gateway over")
            for number in range(COMMANDS):
                record = await fake.send_command(
                    "watch", {"name": f"w{number}", "query": "tariffs"}, subcommand="add",
                    permissions=MODERATOR_PERMISSIONS)
                await fake.wait_for_callback(record, timeout=10)
                records.append(record)
        finally:
            os.kill(paused.pid, signal.SIGCONT)
        await asyncio.sleep(4.0)  # the woken holder reads what its socket buffered
        assert await cluster.stop() == [0, 0], cluster.output()
    for record in records:
        # One answer, from the new holder; the woken one neither ran the command nor tried to
        # answer it (on main it did: a second callback, refused by Discord as too late).
        assert callbacks(fake, record) == [200], (record.id, callbacks(fake, record))
        assert record.rejected == []
