"""PostgreSQL restarts mid-burst under three processes: each reconnects; nothing lost or doubled.

Restarting the server would break every other test run using it at that moment, so this runs
only under CI=true (where the machine is ours); elsewhere it skips and says why.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.cluster import postgres_cluster
from tests.e2e.harness import wait_for
from tests.e2e.test_cluster_kill import (
    FEEDS,
    all_delivered,
    burst,
    check_every_target,
    config,
    publish,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = [pytest.mark.timeout(240), pytest.mark.skipif(
    os.environ.get("CI") != "true",
    reason="restarts the shared PostgreSQL server: runs only under CI=true")]


def restart_postgres() -> None:
    """``pg_ctlcluster <version> main restart``, as .ci/run starts it."""
    if shutil.which("pg_ctlcluster") is None:
        pytest.fail("CI=true but pg_ctlcluster is missing: cannot restart PostgreSQL")
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, timeout=60)


async def test_a_postgres_restart_mid_burst_loses_and_doubles_nothing(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        for feed in range(FEEDS):
            publish(feeds, feed, 0)
        async with postgres_cluster(tmp_path, config(feeds), fake) as cluster:
            await cluster.start()
            await wait_for(lambda: all(feeds.hits(f"/f/{f}") >= 2 for f in range(FEEDS)), 30,
                           "every feed primed")
            await burst(feeds, lambda: asyncio.to_thread(restart_postgres))
            await all_delivered(fake, 90)
            assert sorted(cluster.alive()) == [0, 1, 2], cluster.output()
            assert await cluster.stop() == [0, 0, 0], cluster.output()
    check_every_target(fake)
