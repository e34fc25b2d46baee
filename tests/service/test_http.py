"""/healthz and /metrics served by a real aiohttp server on 127.0.0.1, over a real App.

The App is the one ``build_app`` makes (SQLite store in tmp_path, the real Poller and
OutboxSender); tests change its state the way the running bot would and read the endpoints.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.config.file import Config, FeedConfig
from bot.core.metrics import (
    AppCollector,
    LoopLagMonitor,
    count_items,
    count_matches,
    embed_queued,
    observe_embedding,
    observe_fetch,
)
from bot.core.settings import load_settings
from bot.service.app import build_app
from bot.service.http import HealthLimits, health, start_web
from bot.service.roles import Role
from bot.service.runtime import App
from bot.store import SqlStore

pytestmark = pytest.mark.timeout(30)

CONFIG = Config(feeds=(FeedConfig(name="Local Wire", url="http://127.0.0.1:9/feed.xml"),))


class Served:
    """A running App with its web server and a client session."""

    def __init__(self, app: App, runner: web.AppRunner, session: aiohttp.ClientSession) -> None:
        self.app = app
        self.runner = runner
        self.session = session
        host, port = runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"

    @property
    def store(self) -> SqlStore:
        assert isinstance(self.app.store, SqlStore)
        return self.app.store

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.session.get(self.base + path) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"WIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'wirewatch.db'}",
            "WIREWATCH_CONFIG": str(tmp_path / "unused.toml"), **extra}


async def serve(environ: dict[str, str], limits: HealthLimits) -> AsyncIterator[Served]:
    async with build_app(load_settings(environ), CONFIG) as app:
        runner = await start_web(app, "127.0.0.1", 0, limits)
        try:
            async with aiohttp.ClientSession() as session:
                yield Served(app, runner, session)
        finally:
            await runner.cleanup()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async for item in serve(env(tmp_path), HealthLimits()):
        yield item


@pytest.fixture
async def served_with_token(tmp_path: Path) -> AsyncIterator[Served]:
    async for item in serve(env(tmp_path, DISCORD_TOKEN="test-token"), HealthLimits()):
        yield item


async def test_a_fresh_bot_is_healthy_while_starting(served: Served) -> None:
    status, body = await served.get("/healthz")
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["scheduler"]["state"] == "starting"
    assert body["checks"]["database"]["state"] == "up"
    assert body["checks"]["gateway"]["state"] == "disabled"


async def test_a_ticking_bot_is_healthy(served: Served) -> None:
    await served.app.poller.tick()  # the real tick: claims due feeds from the store
    status, body = await served.get("/healthz")
    assert status == 200, body
    assert body["checks"]["scheduler"]["state"] == "ticking"


def stalled(app: App) -> None:
    app.poller.last_tick = time.monotonic() - 31


def never_ticked(app: App) -> None:
    app.poller.last_tick = None
    app.started_monotonic = time.monotonic() - 31


@pytest.mark.parametrize(("make_unhealthy", "state"), [
    (stalled, "stalled"),
    (never_ticked, "never ticked"),
])
async def test_a_stalled_scheduler_is_unhealthy(served: Served,
                                                make_unhealthy: Callable[[App], None],
                                                state: str) -> None:
    make_unhealthy(served.app)
    status, body = await served.get("/healthz")
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["scheduler"]["ok"] is False
    assert body["checks"]["scheduler"]["state"] == state
    assert body["checks"]["database"]["ok"] is True  # only the scheduler is named


async def test_a_closed_database_is_unhealthy(served: Served) -> None:
    await served.app.poller.tick()
    await served.store.close()
    status, body = await served.get("/healthz")
    assert status == 503
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["state"] == "unreachable"
    assert body["checks"]["scheduler"]["ok"] is True


async def test_a_database_slower_than_the_limit_is_unhealthy(tmp_path: Path) -> None:
    async for served in serve(env(tmp_path), HealthLimits(database_s=0.2)):
        await served.app.poller.tick()
        # Wedge the database thread: the ping queues behind this call.
        busy = asyncio.ensure_future(served.store.read(lambda _conn: time.sleep(1.0)))
        status, body = await served.get("/healthz")
        await busy
        assert status == 503
        assert body["checks"]["database"] == {"ok": False, "state": "timeout", "limit_s": 0.2}
        status, _ = await served.get("/healthz")
        assert status == 200  # and it recovers once the database answers again


@pytest.mark.parametrize(("down_for", "expected_status", "state"), [
    (None, 200, "connected"),
    (10.0, 200, "disconnected"),  # reconnecting: not yet a reason to restart the container
    (121.0, 503, "disconnected"),
])
async def test_the_gateway_counts_only_with_a_token(served_with_token: Served,
                                                    down_for: float | None,
                                                    expected_status: int, state: str) -> None:
    app = served_with_token.app
    await app.poller.tick()
    app.gateway_down_since = None if down_for is None else time.monotonic() - down_for
    status, body = await served_with_token.get("/healthz")
    assert status == expected_status, body
    assert body["checks"]["gateway"]["state"] == state


async def test_a_failing_feed_is_not_unhealthy(served: Served) -> None:
    await served.app.poller.tick()
    feed = (await served.store.subscriptions())[0].feed
    await served.store.record_failure(feed.id, time.time(), "connection refused",
                                      time.time() + 60)
    status, body = await served.get("/healthz")
    assert status == 200, body


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page by (name, sorted labels)."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


EXPECTED_METRICS = [
    "wirewatch_polls_total", "wirewatch_deliveries_total",
    "wirewatch_fetch_duration_seconds_bucket", "wirewatch_parse_duration_seconds_count",
    "wirewatch_items_seen_total", "wirewatch_matches_total", "wirewatch_outbox_depth",
    "wirewatch_outbox_failed", "wirewatch_event_loop_lag_seconds_count",
    "wirewatch_event_loop_lag_last_seconds", "wirewatch_feeds", "wirewatch_feeds_failing",
    "wirewatch_database_up", "wirewatch_polls_in_flight", "wirewatch_start_time_seconds",
    "process_resident_memory_bytes",
]


async def test_metrics_has_every_metric_in_prometheus_format(served: Served) -> None:
    feed = (await served.store.subscriptions())[0].feed
    await served.store.record_failure(feed.id, time.time(), "timeout", time.time() + 60)
    served.app.poller.results["failed"] = 3
    served.app.outbox.outcomes["sent"] = 2
    async with served.session.get(served.base + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        page = await response.text()
    found = samples(page)
    names = {name for name, _ in found}
    assert [name for name in EXPECTED_METRICS if name not in names] == []
    assert found["wirewatch_polls_total", (("outcome", "failed"),)] == 3
    assert found["wirewatch_deliveries_total", (("outcome", "sent"),)] == 2
    assert found["wirewatch_feeds", ()] == 1
    assert found["wirewatch_feeds_failing", ()] == 1
    assert found["wirewatch_database_up", ()] == 1


async def test_pipeline_functions_move_their_metrics(served: Served) -> None:
    def read(page: str) -> dict[str, float]:
        found = samples(page)
        return {"items": found["wirewatch_items_seen_total", ()],
                "matches": found["wirewatch_matches_total", ()],
                "fetches": found["wirewatch_fetch_duration_seconds_count", ()]}

    _, before = await served.get("/metrics")
    count_items(5)
    count_matches(2)
    count_items(-1)  # ignored, never an exception in the poll path
    observe_fetch(0.3)
    _, after = await served.get("/metrics")
    deltas = {key: read(after)[key] - read(before)[key] for key in read(before)}
    assert deltas == {"items": 5, "matches": 2, "fetches": 1}


async def test_embedding_lag_and_queue_are_in_metrics(served: Served) -> None:
    """Issue 23: a burst for about: watches shows as queue depth and lag."""
    def read(page: str) -> dict[str, float]:
        found = samples(page)
        return {"queue": found["wirewatch_embed_queue_items", ()],
                "lag": found["wirewatch_embed_lag_seconds_count", ()],
                "embedded": found["wirewatch_embedded_items_total", ()],
                "failed": found["wirewatch_embed_failures_total", ()]}

    _, before = await served.get("/metrics")
    embed_queued(40)
    _, during = await served.get("/metrics")
    embed_queued(-40)
    observe_embedding(40, 12.5, ok=True)
    observe_embedding(8, 120.0, ok=False)
    _, after = await served.get("/metrics")
    assert read(during)["queue"] - read(before)["queue"] == 40
    deltas = {key: read(after)[key] - read(before)[key] for key in read(before)}
    assert deltas == {"queue": 0, "lag": 2, "embedded": 40, "failed": 1}


async def test_database_reads_are_cached_between_scrapes(served: Served) -> None:
    now = [1000.0]
    collector = AppCollector(served.app, LoopLagMonitor(), cache_s=5.0, clock=lambda: now[0])
    assert (await collector.refresh()).feeds_failing == 0
    feed = (await served.store.subscriptions())[0].feed
    await served.store.record_failure(feed.id, time.time(), "timeout", time.time() + 60)
    now[0] += 4.9
    assert (await collector.refresh()).feeds_failing == 0  # cached
    now[0] += 0.2
    assert (await collector.refresh()).feeds_failing == 1


async def test_metrics_answer_while_the_database_is_closed(served: Served) -> None:
    await served.store.close()
    status, page = await served.get("/metrics")
    assert status == 200
    assert samples(page)["wirewatch_database_up", ()] == 0


async def test_the_lag_monitor_sees_a_blocked_loop() -> None:
    monitor = LoopLagMonitor(interval=0.05)
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.12)
    time.sleep(0.3)  # block the event loop, as a synchronous call on it would
    await asyncio.sleep(0.12)
    task.cancel()
    assert monitor.samples >= 3
    assert 0.2 <= monitor.max_seen < 1.0


async def test_cleanup_stops_the_server_and_the_lag_task(tmp_path: Path) -> None:
    async for served in serve(env(tmp_path), HealthLimits()):
        assert any(t.get_name() == "event-loop-lag" for t in asyncio.all_tasks())
        await served.runner.cleanup()
        assert not any(t.get_name() == "event-loop-lag" for t in asyncio.all_tasks())
        with pytest.raises(aiohttp.ClientConnectionError):
            await served.get("/healthz")


async def test_a_taken_port_is_an_error(served: Served) -> None:
    port = served.runner.addresses[0][1]
    with pytest.raises(OSError):
        await start_web(served.app, "127.0.0.1", port)


async def test_healthz_names_the_role_and_skips_checks_of_other_roles(tmp_path: Path) -> None:
    async with build_app(load_settings(env(tmp_path, DISCORD_TOKEN="test-token")), CONFIG,
                         frozenset({Role.SEND})) as app:
        app.started_monotonic = time.monotonic() - 300  # a poller would be "never ticked"
        app.gateway_down_since = time.monotonic() - 300  # a gateway would be down too long
        body = await health(app)
    assert body["status"] == "ok", body
    assert body["role"] == "send"
    assert body["checks"]["scheduler"]["state"] == "not this process's role"
    assert body["checks"]["gateway"]["state"] == "not this process's role"
