"""The running parts of one process: what the Discord cogs and the HTTP endpoints are handed.

``App`` is plain data, built by the composition root (``bot.service.app.build_app``); modules
that use the running bot import this one, never the composition root.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config.file import Config
from bot.core.settings import Settings
from bot.delivery.outbox import OutboxSender
from bot.service.dispatcher import Dispatcher
from bot.service.membership import GatewayElection, Membership
from bot.service.reporting import ConsoleReporter
from bot.service.roles import ALL_ROLES, Role
from bot.store.base import Store


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
    # With a store that serves several processes: this process's row, and its elections.
    membership: Membership | None = None
    elections: list[GatewayElection] = field(default_factory=list)
    started_at: float = field(default_factory=wall_clock)
    started_monotonic: float = field(default_factory=time.monotonic)
    # Set by the Discord client: monotonic time the gateway went down, None while connected.
    gateway_down_since: float | None = None
    exit_status: int = 0
    reporter: ConsoleReporter = field(default_factory=lambda: ConsoleReporter(0))
