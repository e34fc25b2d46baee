"""The HTTP endpoints a container platform expects: ``/healthz`` and ``/metrics``.

``/healthz`` answers 200 only when the bot is doing its job: the scheduler ticks, the database
answers, and (with a token) the Discord gateway is connected or only briefly down. Failing
*feeds* are not unhealthy: the bot is fine, the internet is not; they are in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.core.metrics import AppCollector, LoopLagMonitor, build_registry
from bot.service.membership import PROCESS_TTL_S
from bot.service.roles import Role, describe

if TYPE_CHECKING:
    from bot.service.runtime import App
from bot.service.websub import WebSubCallback

log = logging.getLogger(__name__)

Check = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """How long each part may be quiet before the bot is reported unhealthy."""

    scheduler_s: float = 30.0  # the tick fires every second; 30 s of silence is a stall
    database_s: float = 2.0
    gateway_s: float = 120.0  # discord.py reconnects by itself; give it two minutes


def check_scheduler(app: App, limits: HealthLimits, now: float) -> Check:
    """OK while the scheduler ticked within the limit (or the bot only just started)."""
    if Role.POLL not in app.roles:
        return {"ok": True, "state": "not this process's role"}
    last_tick = app.poller.last_tick
    if last_tick is None:
        since_start = now - app.started_monotonic
        if since_start <= limits.scheduler_s:
            return {"ok": True, "state": "starting", "since_start_s": round(since_start, 1)}
        return {"ok": False, "state": "never ticked", "since_start_s": round(since_start, 1),
                "limit_s": limits.scheduler_s}
    age = now - last_tick
    ok = age <= limits.scheduler_s
    return {"ok": ok, "state": "ticking" if ok else "stalled", "last_tick_age_s": round(age, 1),
            "limit_s": limits.scheduler_s, "polls_in_flight": app.poller.in_flight,
            "schedule_lag": app.poller.lag.summary(now)}


async def check_database(app: App, limits: HealthLimits) -> Check:
    """OK when ``store.ping()`` answers within the limit."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(app.store.ping(), timeout=limits.database_s)
    except TimeoutError:
        return {"ok": False, "state": "timeout", "limit_s": limits.database_s}
    except Exception as exc:  # any failure to answer is the finding, whatever its type
        return {"ok": False, "state": "unreachable", "error": str(exc) or type(exc).__name__}
    return {"ok": True, "state": "up", "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def check_gateway(app: App, limits: HealthLimits, now: float) -> Check:
    """OK without a token, while connected, or while down for less than the limit."""
    if not app.settings.discord_token:
        return {"ok": True, "state": "disabled"}
    if Role.GATEWAY not in app.roles:
        return {"ok": True, "state": "not this process's role"}
    if app.elections and not any(election.holding for election in app.elections):
        return {"ok": True, "state": "standby: another process holds the gateway"}
    down_since = app.gateway_down_since
    if down_since is None:
        return {"ok": True, "state": "connected"}
    down_for = now - down_since
    return {"ok": down_for <= limits.gateway_s, "state": "disconnected",
            "down_for_s": round(down_for, 1), "limit_s": limits.gateway_s}


async def cluster_view(app: App) -> list[dict[str, Any]] | None:
    """The live processes with their roles and what they hold (None: a single process)."""
    if app.membership is None:
        return None
    try:
        rows = await app.store.live_processes(PROCESS_TTL_S)
    except Exception as exc:  # the database check reports the outage
        log.debug("cluster view unavailable: %s", exc)
        return []
    return [{"id": row.id, "host": row.host, "pid": row.pid, "roles": row.roles,
             "heartbeat_age_s": round(row.heartbeat_age_s, 1), "holds": list(row.holds),
             "self": row.id == app.membership.me.id} for row in rows]


async def health(app: App, limits: HealthLimits = HealthLimits()) -> dict[str, Any]:
    """The ``/healthz`` body: overall status, each check with its reason, this process's role
    and, with several processes, who is alive and holds what."""
    database = await check_database(app, limits)
    now = time.monotonic()
    checks = {
        "scheduler": check_scheduler(app, limits, now),
        "database": database,
        "gateway": check_gateway(app, limits, now),
    }
    healthy = all(check["ok"] for check in checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "unhealthy",
                            "role": describe(app.roles),
                            "uptime_s": round(now - app.started_monotonic, 1), "checks": checks}
    processes = await cluster_view(app) if database["ok"] else None
    if processes is not None:
        body["processes"] = processes
    return body


class _Endpoints:
    """Request handlers bound to one App."""

    def __init__(self, app: App, limits: HealthLimits, collector: AppCollector) -> None:
        self.app = app
        self.limits = limits
        self.collector = collector
        self.registry = build_registry(collector)

    async def healthz(self, _request: web.Request) -> web.Response:
        body = await health(self.app, self.limits)
        unhealthy = [name for name, check in body["checks"].items() if not check["ok"]]
        if unhealthy:
            log.warning("health check failing: %s", ", ".join(unhealthy))
        return web.json_response(body, status=503 if unhealthy else 200,
                                 headers={"Cache-Control": "no-store"})

    async def metrics(self, _request: web.Request) -> web.Response:
        await self.collector.refresh()
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})


def _background(monitor: LoopLagMonitor) -> Callable[[web.Application],
                                                     AsyncIterator[None]]:
    async def lag_task(_web_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(monitor.run(), name="event-loop-lag")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return lag_task


def create_web_app(app: App, limits: HealthLimits = HealthLimits(),
                   lag: LoopLagMonitor | None = None) -> web.Application:
    """The aiohttp application serving ``/healthz`` and ``/metrics`` for ``app``."""
    monitor = lag or LoopLagMonitor()
    endpoints = _Endpoints(app, limits, AppCollector(app, monitor))
    web_app = web.Application()
    web_app.router.add_get("/healthz", endpoints.healthz)
    web_app.router.add_get("/metrics", endpoints.metrics)
    # WebSub callbacks: a hub may reach any process (bot.service.websub).
    deps = app.poller.deps
    web_app.add_routes(WebSubCallback(app.store, deps.clock, app.poller.wake).routes())
    # The lag monitor lives exactly as long as the server: runner.cleanup() stops it.
    web_app.cleanup_ctx.append(_background(monitor))
    return web_app


async def start_web(app: App, host: str, port: int,
                    limits: HealthLimits = HealthLimits()) -> web.AppRunner:
    """Serve ``/healthz`` and ``/metrics`` on host:port; the caller awaits ``runner.cleanup()``.

    Port 0 picks a free port; ``runner.addresses`` tells which.
    """
    runner = web.AppRunner(create_web_app(app, limits), access_log=None,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    log.info("http endpoints on %s (/healthz, /metrics)",
             ", ".join(f"{addr[0]}:{addr[1]}" for addr in runner.addresses))
    return runner
