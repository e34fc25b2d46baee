"""``wirewatch run``: the roles of this process, its place in the cluster, a clean stop.

One process or several on one PostgreSQL database, started identically: each registers an
identity row and heartbeats it; the poll role dispatches feeds leased in its name; the send
role drains the outbox, one target at a time per claim; the gateway role competes for the
gateway shard leases and connects only the shards it holds. SQLite serves one process (a lock
file proves it). SIGINT/SIGTERM stops everything in order within 10 s.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import signal
from contextlib import AsyncExitStack
from pathlib import Path
from typing import IO

from bot.config.file import Config
from bot.core.errors import ConfigError
from bot.core.settings import Settings
from bot.service.app import SHUTDOWN_BUDGET_S, build_app
from bot.service.gateway import GatewayHub
from bot.service.http import start_web
from bot.service.jobs import DispatchLoop, start_scheduler
from bot.service.membership import ClusterStore, GatewayElection, Membership
from bot.service.roles import ALL_ROLES, Role, describe
from bot.service.runtime import App

log = logging.getLogger(__name__)


def single_process_lock(path: Path) -> IO[bytes]:
    """Hold an exclusive lock next to a SQLite file for the life of this process.

    SQLite serves one ``wirewatch run``: two would both send every alert and both hold the
    gateway. The kernel drops the lock when the process dies, even by SIGKILL.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = (path.parent / f"{path.name}.run-lock").open("a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(
            f"WIREWATCH_DATABASE_URL: {path} is in use by another `wirewatch run`; SQLite "
            "serves one process. To run several, use PostgreSQL "
            "(WIREWATCH_DATABASE_URL=postgresql://...).") from None
    return handle


async def run_forever(settings: Settings, config: Config,
                      roles: frozenset[Role] = ALL_ROLES) -> int:
    """Run the given roles until SIGINT/SIGTERM; then stop cleanly and return the status."""
    sqlite = settings.sqlite_path
    lock = single_process_lock(sqlite) if sqlite is not None else None
    try:
        return await _run(settings, config, roles)
    finally:
        if lock is not None:
            lock.close()


async def _run(settings: Settings, config: Config, roles: frozenset[Role]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with build_app(settings, config, roles) as app, AsyncExitStack() as stack:
        background: list[asyncio.Task[None]] = []
        membership = app.membership
        if membership is not None:
            if settings.sqlite_path is not None:  # alone (the lock file): the rest are dead
                await app.store.forget_processes()
            await membership.register()
            stack.push_async_callback(membership.leave)  # after everything below stopped
            background.append(asyncio.create_task(membership.run(stop), name="heartbeat"))
        hub = await _start_gateway(app, stop, background)
        if membership is not None:
            _drop_on_forgotten(app, membership)
        dispatching = DispatchLoop(app.poller, stop) if Role.POLL in roles else None
        scheduler = start_scheduler(app.poller.deps, dispatching, config.bot.public_url)
        sender = asyncio.create_task(
            app.outbox.run() if Role.SEND in roles else stop.wait(), name="outbox")
        web = await start_web(app, *settings.http_addr) if settings.http_addr else None
        log.info("wirewatch running (role %s): %d feeds, %d watches", describe(roles),
                 len(config.feeds), len(config.watches))
        await stop.wait()
        log.info("stopping: finishing in-flight polls and sends")
        scheduler.shutdown(wait=False)
        # Polls and sends wind down together, so the whole stop fits in 10 s; an alert a
        # late poll queues is sent after the next start.
        app.outbox.stopping.set()
        app.outbox.wake()
        if dispatching is not None and dispatching.task is not None:
            await asyncio.wait({dispatching.task}, timeout=1.0)
        await asyncio.gather(app.poller.wait_idle(SHUTDOWN_BUDGET_S / 2),
                             asyncio.wait({sender}, timeout=SHUTDOWN_BUDGET_S / 2))
        sender.cancel()
        if background:  # the elections disconnect their shards and give the leases up
            await asyncio.wait(background, timeout=3.0)
        if hub is not None:
            await hub.close()
        if web is not None:
            await web.cleanup()
    log.info("stopped")
    return app.exit_status


async def _start_gateway(app: App, stop: asyncio.Event,
                         background: list[asyncio.Task[None]]) -> GatewayHub | None:
    """Connect the gateway: directly on a single-process store, else through elections."""
    if Role.GATEWAY not in app.roles or not app.settings.discord_token:
        return None
    hub = GatewayHub(app, stop, app.config.bot.shards)
    store = app.store
    if app.membership is None or not isinstance(store, ClusterStore):
        for shard in range(hub.count):
            await hub.start_shard(shard)
        return hub
    app.elections = hub.elections(store, app.membership.me.id)
    for election in app.elections:
        background.append(asyncio.create_task(election.run(stop), name=election.name))
    return hub


def _drop_on_forgotten(app: App, membership: Membership) -> None:
    """What this process drops when the others forgot it, before it acts again (issue 20):
    the gateway shards it held and its outbox claims (their tokens are stale by then)."""
    async def forget_claims() -> None:
        app.outbox.forget_claims()

    membership.on_forgotten.append(forget_claims)
    membership.on_forgotten.extend(election.forget for election in app.elections)


def holdings(elections: list[GatewayElection]) -> list[str]:
    """The gateway leases this process holds now."""
    return [election.name for election in elections if election.holding]
