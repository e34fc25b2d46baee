"""The composition root: settings → store → fetcher, parser, senders → poller → (Discord, web).

``run`` runs until SIGINT/SIGTERM and then shuts down in order within 10 s: stop polling,
let in-flight polls and sends finish, close everything. ``once`` polls every feed, delivers
and returns.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp

from bot.config import Config
from bot.delivery.console import ConsoleSender
from bot.delivery.digests import flush_digests
from bot.delivery.discord_rest import DiscordSender
from bot.delivery.outbox import OutboxSender
from bot.pipeline.access import PrivateAccess
from bot.pipeline.article import ArticleFetcher
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps
from bot.reporting import ConsoleReporter
from bot.scheduler import Poller, start_scheduler
from bot.settings import Settings
from bot.store import open_store as store_at
from bot.store.base import Store
from bot.store.rows import CONFIG_GUILD
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
    poller: Poller
    outbox: OutboxSender
    started_at: float = field(default_factory=wall_clock)
    started_monotonic: float = field(default_factory=time.monotonic)
    # Set by the Discord client: monotonic time the gateway went down, None while connected.
    gateway_down_since: float | None = None
    exit_status: int = 0
    reporter: ConsoleReporter = field(default_factory=lambda: ConsoleReporter(0))


async def open_store(settings: Settings) -> Store:
    """Open the configured database (SQLite file or PostgreSQL URL) and apply migrations."""
    return await store_at(settings.database_url)


@asynccontextmanager
async def build_app(settings: Settings, config: Config) -> AsyncIterator[App]:
    """Open every resource the bot needs and close them all on exit."""
    async with AsyncExitStack() as stack:
        store = await open_store(settings)
        stack.push_async_callback(store.close)
        await store.sync_config(config, wall_clock())
        store.set_story_window(config.bot.story_window)
        await store.set_full_text(CONFIG_GUILD, {f.name: f.full_text for f in config.feeds})
        # Leases left by a process that was killed mid-poll would hide those feeds for minutes.
        await store.release_leases()
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        fetcher = Fetcher(FetchLimits(), AddressGuard(settings.allow_private_networks),
                          PrivateAccess(store, config.bot.private_network_guilds))
        stack.push_async_callback(fetcher.close)
        parser = IsolatedParser()
        stack.push_async_callback(parser.close)
        outbox = OutboxSender(
            store, console=ConsoleSender(), clock=wall_clock,
            discord=DiscordSender(session, settings.discord_api_base, settings.discord_token,
                                  wall_clock))
        reporter = ConsoleReporter(len({sub.feed.id for sub in await store.subscriptions()}))
        deps = PollDeps(store=store, fetcher=fetcher, parser=parser, clock=wall_clock,
                        on_queued=outbox.wake, articles=ArticleFetcher(fetcher, parser),
                        on_result=reporter.on_result, failure_level=reporter.failure_level)
        poller = Poller(deps, config.bot.poll_concurrency)
        yield App(settings, config, store, poller, outbox, reporter=reporter)


async def run_once(settings: Settings, config: Config) -> int:
    """Poll every feed once, deliver what is due, and return an exit status."""
    async with build_app(settings, config) as app:
        results = await app.poller.poll_all_once()
        await flush_digests(app.store, wall_clock())  # periods that ended meanwhile
        await app.outbox.drain_once()
        failed = sum(1 for result in results if result is None or result.error)
        log.info("polled %d feeds (%d failed); sent %d alerts", len(results), failed,
                 app.outbox.sent_total)
        # On stdout, after the alerts: what a cron user reads to see what happened.
        for line in app.reporter.summary_lines(app.outbox.sent_by_feed,
                                               app.outbox.failed_by_feed):
            print(line, flush=True)
    return 0


async def run_forever(settings: Settings, config: Config) -> int:
    """Run until SIGINT/SIGTERM; then stop cleanly and return 0."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with build_app(settings, config) as app:
        discord_task = await _start_discord(app, stop) if settings.discord_token else None
        scheduler = start_scheduler(app.poller)
        sender = asyncio.create_task(app.outbox.run(), name="outbox")
        web = await start_web(app, *settings.http_addr) if settings.http_addr else None
        log.info("wirewatch running: %d feeds, %d watches", len(config.feeds),
                 len(config.watches))
        await stop.wait()
        log.info("stopping: finishing in-flight polls and sends")
        scheduler.shutdown(wait=False)
        # Polls and sends wind down together, so the whole stop fits in 10 s; an alert a
        # late poll queues is sent after the next start.
        app.outbox.stopping.set()
        app.outbox.wake()
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
