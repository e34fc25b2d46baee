"""Three processes, a burst of alerts, and partial failures in one run (issue 20): the gateway
holder's path to the database frozen (a TCP relay between it and PostgreSQL), and another
process stopped (SIGSTOP) mid-burst for longer than its target claims, then continued.

Every alert is posted exactly once and in order, per channel and per webhook; at most one
gateway session is identified at any moment; each slash command gets exactly one reply.
WIREWATCH_CLUSTER_TIME_SCALE=0.25 runs the cluster's timings four times faster (claims of
7.5 s, a gateway give-up of 2.5 s), so the whole run takes well under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.cluster import Cluster, postgres_cluster
from tests.e2e.harness import wait_for
from tests.e2e.test_cluster_kill import (
    FEEDS,
    all_delivered,
    burst,
    check_every_target,
    config,
    holder,
    publish,
)
from tests.fakes.discord_payloads import MODERATOR_PERMISSIONS
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer
from tests.fakes.tcp_relay import TcpRelay

pytestmark = pytest.mark.timeout(180)
SCALE = 0.25
FROZEN_S = 30 * SCALE  # the judged 30 s freeze, scaled
STOPPED_S = 12.0  # longer than a target claim (30 s × SCALE = 7.5 s)


def via(url: str, port: int) -> str:
    """``url`` with its server reached through a relay on 127.0.0.1:``port``."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user
                                     else f"127.0.0.1:{port}"))


@contextlib.asynccontextmanager
async def relayed(cluster: Cluster) -> AsyncIterator[list[TcpRelay]]:
    """One relay per process between it and PostgreSQL (set before the processes start)."""
    url = cluster.env["WIREWATCH_DATABASE_URL"]
    parts = urlsplit(url)
    async with contextlib.AsyncExitStack() as stack:
        relays = [await stack.enter_async_context(TcpRelay(parts.hostname or "127.0.0.1",
                                                           parts.port or 5432))
                  for _ in cluster.processes]
        for process, relay in zip(cluster.processes, relays, strict=True):
            process.env = {**process.env, "WIREWATCH_DATABASE_URL": via(url, relay.port)}
        yield relays


def pid(cluster: Cluster, index: int) -> int:
    process = cluster.processes[index].process
    assert process is not None
    return process.pid


async def test_a_frozen_database_path_and_a_stopped_sender_lose_and_double_nothing(
        tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        for feed in range(FEEDS):
            publish(feeds, feed, 0)
        async with postgres_cluster(tmp_path, config(feeds), fake,
                                    WIREWATCH_CLUSTER_TIME_SCALE=str(SCALE)) as cluster, \
                relayed(cluster) as relays:
            await cluster.start()
            await fake.wait_until(lambda: fake.state.sessions_now == 1, 30, "a gateway session")
            await wait_for(lambda: all(feeds.hits(f"/f/{f}") >= 2 for f in range(FEEDS)), 30,
                           "every feed primed")
            await fake.wait_until(lambda: holder(cluster) is not None, 10, "holder")
            gateway = holder(cluster)
            assert gateway is not None
            stopped = next(i for i in cluster.alive() if i != gateway)
            resumed: list[asyncio.Task[None]] = []

            async def partial_failures() -> None:
                relays[gateway].freeze()
                os.kill(pid(cluster, stopped), signal.SIGSTOP)

                async def later() -> None:
                    await asyncio.sleep(FROZEN_S)
                    relays[gateway].thaw()
                    await asyncio.sleep(STOPPED_S - FROZEN_S)
                    os.kill(pid(cluster, stopped), signal.SIGCONT)

                resumed.append(asyncio.create_task(later()))

            try:
                await burst(feeds, partial_failures)
                await asyncio.gather(*resumed)
            finally:
                relays[gateway].thaw()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid(cluster, stopped), signal.SIGCONT)
            await fake.wait_until(lambda: fake.state.sessions_now == 1, 30, "one session")
            # The cut-off holder let the gateway go on its own (its renewals hung, none
            # failed), and another process took it over.
            log = cluster.processes[gateway].output()
            assert "disconnecting before another process may take it" in log, log[-3000:]
            assert any("this process holds it now" in cluster.processes[i].output()
                       for i in cluster.alive() if i != gateway), cluster.output()
            replies = []
            for _ in range(3):
                record = await fake.send_command("status", permissions=MODERATOR_PERMISSIONS)
                await fake.wait_for_callback(record, timeout=10)
                replies.append(record)
            await all_delivered(fake, 60)
            assert sorted(cluster.alive()) == [0, 1, 2], cluster.output()
            assert await cluster.stop() == [0, 0, 0], cluster.output()
    check_every_target(fake)
    assert all(len(r.callbacks) == 1 and not r.rejected for r in replies)
