"""The composition root: settings → store → fetcher, parser, senders → poller → (Discord, web).

``run`` runs until SIGINT/SIGTERM and then shuts down in order within 10 s: stop polling,
let in-flight polls and sends finish, close everything. ``once`` polls every feed, delivers
and returns.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import aiohttp

from bot.config import Config
from bot.delivery.console import ConsoleSender
from bot.delivery.discord_rest import DiscordSender
from bot.delivery.outbox import OutboxSender
from bot.dispatch import Dispatcher
from bot.errors import ConfigError
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps
from bot.roles import ALL_ROLES, Role, describe
from bot.scheduler import DispatchLoop, start_scheduler
from bot.settings import Settings
from bot.store.base import Store
from bot.store.sqlite import SqliteStore
from bot.web import start_web

if TYPE_CHECKING:
    from bot.exts.client import DiscordHandle

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 6.0  # polls and sends; Discord and the parser workers take the rest


def wall_clock() -> float:
    """Unix time now."""
    return datetime.now(UTC).timestamp()


@dataclass
class App:
    """The running parts, shared with the Discord cogs and the web endpoints."""

    settings: Settings
    config: Config
    store: Store
    poller: Dispatcher
    outbox: OutboxSender
    roles: frozenset[Role] = ALL_ROLES
    started_at: float = field(default_factory=wall_clock)
    started_monotonic: float = field(default_factory=time.monotonic)
    # Set by the Discord client: monotonic time the gateway went down, None while connected.
    gateway_down_since: float | None = None
    exit_status: int = 0


async def open_store(settings: Settings) -> Store:
    """Open the configured database (SQLite file or PostgreSQL URL) and apply migrations."""
    path = settings.sqlite_path
    if path is not None:
        return await SqliteStore.open(path)
    if settings.database_url.startswith(("postgresql://", "postgres://")):
        # Imported here: psycopg is an optional extra that SQLite users never install.
        try:
            from bot.store.postgres import PostgresStore
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("psycopg"):
                raise
            raise ConfigError(
                "WIREWATCH_DATABASE_URL: PostgreSQL needs psycopg 3; install it with"
                f" pip install 'wirewatch[postgres]' ({exc})") from None
        return await PostgresStore.open(settings.database_url)
    raise ConfigError("WIREWATCH_DATABASE_URL: expected sqlite:///path or postgresql://…")


@asynccontextmanager
async def build_app(settings: Settings, config: Config,
                    roles: frozenset[Role] = ALL_ROLES) -> AsyncIterator[App]:
    """Open every resource the bot needs and close them all on exit."""
    async with AsyncExitStack() as stack:
        store = await open_store(settings)
        stack.push_async_callback(store.close)
        await store.sync_config(config, wall_clock())
        # Leases left by a process that was killed mid-poll would hide those feeds for minutes.
        await store.release_leases()
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        fetcher = Fetcher(FetchLimits(), AddressGuard(settings.allow_private_networks))
        stack.push_async_callback(fetcher.close)
        parser = IsolatedParser()
        stack.push_async_callback(parser.close)
        outbox = OutboxSender(
            store, console=ConsoleSender(), clock=wall_clock,
            discord=DiscordSender(session, settings.discord_api_base, settings.discord_token,
                                  wall_clock),
            sends_channels=bool(settings.discord_token))
        deps = PollDeps(store=store, fetcher=fetcher, parser=parser, clock=wall_clock,
                        on_queued=outbox.wake)
        poller = Dispatcher(deps, config.bot.poll_concurrency)
        yield App(settings, config, store, poller, outbox, roles)


async def run_once(settings: Settings, config: Config) -> int:
    """Poll every feed once, deliver what is due, and return an exit status."""
    async with build_app(settings, config) as app:
        results = await app.poller.poll_all_once()
        await app.outbox.drain_once()
        failed = sum(1 for result in results if result is None or result.error)
        log.info("polled %d feeds (%d failed); sent %d alerts", len(results), failed,
                 app.outbox.sent_total)
    return 0


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
    """Run the given roles until SIGINT/SIGTERM; then stop cleanly and return 0."""
    sqlite = settings.sqlite_path
    lock = single_process_lock(sqlite) if sqlite is not None else None
    try:
        return await _run_forever(settings, config, roles)
    finally:
        if lock is not None:
            lock.close()


async def _run_forever(settings: Settings, config: Config, roles: frozenset[Role]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with build_app(settings, config, roles) as app:
        gateway = Role.GATEWAY in roles and settings.discord_token
        discord_task = await _start_discord(app, stop) if gateway else None
        dispatching = DispatchLoop(app.poller, stop) if Role.POLL in roles else None
        scheduler = start_scheduler(app.poller.deps, dispatching)
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
        if discord_task is not None:
            await _stop_discord(discord_task)
        if web is not None:
            await web.cleanup()
    log.info("stopped")
    return app.exit_status


async def _start_discord(app: App, stop: asyncio.Event) -> DiscordHandle:
    # Imported here: bot.exts imports this module (App), and only a bot with a token needs it.
    from bot.exts.client import start_client

    return await start_client(app, stop)


async def _stop_discord(handle: DiscordHandle) -> None:
    from bot.exts.client import stop_client

    await stop_client(handle)
