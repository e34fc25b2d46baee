"""The composition root: settings → store → fetcher, parser, senders → poller → (Discord, web).

``run`` runs until SIGINT/SIGTERM and then shuts down in order within 10 s: stop polling,
let in-flight polls and sends finish, close everything. ``once`` polls every feed, delivers
and returns.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp

from bot.config.file import Config
from bot.core.errors import ConfigError
from bot.core.settings import Settings
from bot.delivery.claims import ClaimTimes
from bot.delivery.console import ConsoleSender
from bot.delivery.digests import flush_digests
from bot.delivery.discord_rest import DiscordSender
from bot.delivery.outbox import OutboxSender
from bot.pipeline.access import PrivateAccess
from bot.pipeline.article import ArticleFetcher
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.meaning import Meanings
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps
from bot.query.semantic import semantic_available
from bot.service.dispatcher import ClusterSchedule, Dispatcher
from bot.service.membership import (
    HEARTBEAT_S,
    PROCESS_TTL_S,
    RENEW_DEADLINE_S,
    ClusterStore,
    DbClock,
    Membership,
    ProcessInfo,
    config_hash,
)
from bot.service.reporting import ConsoleReporter
from bot.service.roles import ALL_ROLES, Role
from bot.service.runtime import App, wall_clock
from bot.store import open_store as store_at
from bot.store.base import Store
from bot.store.database import DbLimits
from bot.store.rows import CONFIG_GUILD

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 6.0  # polls and sends; Discord and the parser workers take the rest
CLUSTER_IDLE_S = 5.0  # the store names the next due time; look anyway (feeds others added)


async def open_store(settings: Settings) -> Store:
    """Open the configured database (SQLite file or PostgreSQL URL) and apply migrations."""
    return await store_at(settings.database_url,
                          limits=DbLimits().scaled(settings.cluster_time_scale))


@asynccontextmanager
async def build_app(settings: Settings, config: Config,
                    roles: frozenset[Role] = ALL_ROLES) -> AsyncIterator[App]:
    """Open every resource the bot needs and close them all on exit."""
    async with AsyncExitStack() as stack:
        store = await open_store(settings)
        stack.push_async_callback(store.close)
        clock = DbClock()
        membership = await _join(store, settings, config, roles, clock)
        store.set_story_window(config.bot.story_window)
        await store.set_full_text(CONFIG_GUILD, {f.name: f.full_text for f in config.feeds})
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        fetcher = Fetcher(FetchLimits(), AddressGuard(settings.allow_private_networks),
                          PrivateAccess(store, config.bot.private_network_guilds))
        stack.push_async_callback(fetcher.close)
        parser = IsolatedParser()
        stack.push_async_callback(parser.close)
        # about: watches (issue 23): their own one-process pool, started on first use only, so
        # embedding never holds a parse worker; absent without the semantic extra.
        meanings = None
        if semantic_available():
            embed_pool = IsolatedParser(workers=1)
            stack.push_async_callback(embed_pool.close)
            meanings = Meanings(embed_pool)
        outbox = OutboxSender(
            store, console=ConsoleSender(), clock=clock,
            discord=DiscordSender(session, settings.discord_api_base, settings.discord_token,
                                  wall_clock),
            sends_channels=bool(settings.discord_token))
        reporter = ConsoleReporter(len({sub.feed.id for sub in await store.subscriptions()}))
        deps = PollDeps(store=store, fetcher=fetcher, parser=parser, clock=clock,
                        on_queued=outbox.wake, articles=ArticleFetcher(fetcher, parser),
                        on_result=reporter.on_result, failure_level=reporter.failure_level,
                        interval_bounds=(config.bot.min_interval, config.bot.max_interval),
                        meanings=meanings)
        poller = Dispatcher(deps, config.bot.poll_concurrency)
        if membership is not None and isinstance(store, ClusterStore):
            poller.schedule = ClusterSchedule(store, membership.me.id, clock)
            poller.idle_s = CLUSTER_IDLE_S
            outbox.owner = membership.me.id
            outbox.claim_times = ClaimTimes().scaled(settings.cluster_time_scale)
        yield App(settings, config, store, poller, outbox, roles, membership,
                  reporter=reporter)


async def _join(store: Store, settings: Settings, config: Config, roles: frozenset[Role],
                clock: DbClock) -> Membership | None:
    """Bring the config in force, once; a Membership when the store serves several processes.

    Several processes: the config is synced under a lock only if it changed, and refused
    when live processes run a different one. (On SQLite ``wirewatch run`` itself frees what
    a killed predecessor held: its lock file proves it is alone.)
    """
    if not isinstance(store, ClusterStore):
        await store.sync_config(config, wall_clock())
        await store.release_leases()
        return None
    digest = config_hash(config)
    scale = settings.cluster_time_scale
    in_force = await store.adopt_config(config, digest, PROCESS_TTL_S * scale, wall_clock())
    if in_force is not None:
        raise ConfigError(
            f"{settings.config_path}: this config (hash {digest}) differs from the one the "
            f"running processes use (hash {in_force}); give every replica the same file, or "
            "stop them all before changing it")
    return Membership(store, ProcessInfo.mine(roles, wall_clock()), digest, clock,
                      every_s=HEARTBEAT_S * scale, ttl_s=PROCESS_TTL_S * scale,
                      deadline_s=RENEW_DEADLINE_S * scale)


async def run_once(settings: Settings, config: Config) -> int:
    """Poll every feed once, deliver what is due, and return an exit status."""
    async with build_app(settings, config) as app:
        if app.membership is not None:  # its target claims must name a live process
            await app.membership.register()
        try:
            results = await app.poller.poll_all_once()
            await flush_digests(app.store, wall_clock())  # periods that ended meanwhile
            await app.outbox.drain_once()
        finally:
            if app.membership is not None:
                await app.membership.leave()
        failed = sum(1 for result in results if result is None or result.error)
        log.info("polled %d feeds (%d failed); sent %d alerts", len(results), failed,
                 app.outbox.sent_total)
        # On stdout, after the alerts: what a cron user reads to see what happened.
        for line in app.reporter.summary_lines(app.outbox.sent_by_feed,
                                               app.outbox.failed_by_feed):
            print(line, flush=True)
    return 0
