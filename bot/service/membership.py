"""Several identical processes on one database: who is alive, and who holds what.

Each process has an identity row (uuid, host, pid, roles, start, heartbeat). Singular work is
held through named leases in the database (owner + expiry on the DATABASE clock), renewed by
the holder's heartbeat: the Discord gateway (one lease per shard) and delivery targets. A
process that dies stops renewing; its leases expire and another process takes them over.
No broker, no home-made protocol: the database's row locks decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bot.config.file import Config
from bot.service.roles import Role, describe
from bot.store.rows import FeedRow

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # identity rows and held leases are renewed this often
PROCESS_TTL_S = 20.0  # a process silent this long is dead: its feed leases are freed
GATEWAY_TTL_S = 15.0  # a dead holder's gateway is taken over within TTL + HEARTBEAT_S
# A holder that could not renew for this long stops its gateway before the lease can expire,
# so a partitioned holder and its successor are never connected at once.
GATEWAY_GIVE_UP_S = GATEWAY_TTL_S - HEARTBEAT_S


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """Who this process is, as other processes see it in /status."""

    id: str
    host: str
    pid: int
    roles: frozenset[Role]
    started_at: float

    @classmethod
    def mine(cls, roles: frozenset[Role], now: float) -> ProcessInfo:
        """A fresh identity for this process (a restart is a new process)."""
        return cls(str(uuid.uuid4()), socket.gethostname(), os.getpid(), roles, now)

    @property
    def label(self) -> str:
        """``host:pid (roles)`` for logs and /status."""
        return f"{self.host}:{self.pid} ({describe(self.roles)})"


def gateway_lease(shard: int, count: int) -> str:
    """The lease name of one gateway shard."""
    return f"gateway:{shard}/{count}"


def config_hash(config: Config) -> str:
    """A digest of the validated config: replicas must run the same one."""
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


class Leases(Protocol):
    """The store's lease methods (see ``bot.store``)."""

    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool: ...
    async def release_lease(self, name: str, owner: str) -> None: ...


@runtime_checkable
class ClusterStore(Leases, Protocol):
    """What a store that serves several processes adds (times: the database clock)."""

    async def register_process(self, process_id: str, host: str, pid: int, roles: str,
                               config_hash: str) -> float: ...
    async def heartbeat(self, process_id: str, ttl_s: float) -> float: ...
    async def deregister_process(self, process_id: str) -> None: ...
    async def claim_feeds(self, owner: str, limit: int,
                          lease_s: float) -> tuple[list[FeedRow], float, float | None]: ...
    async def adopt_config(self, config: Config, digest: str, ttl_s: float,
                           now: float) -> str | None: ...


class DbClock:
    """Unix time on the database's clock: this host's clock plus the last measured offset.

    Due times and leases are compared with the database's ``now()`` in SQL; the times this
    process writes (next check, sent at) must be on the same clock, whatever this host's is.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def observe(self, db_now: float) -> None:
        """Learn the offset from a database time read just now."""
        self.offset = db_now - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


class Membership:
    """This process's identity row: registered at start, renewed every ``every_s``."""

    def __init__(self, store: ClusterStore, me: ProcessInfo, config_digest: str,
                 clock: DbClock, *, every_s: float = HEARTBEAT_S,
                 ttl_s: float = PROCESS_TTL_S) -> None:
        self.store, self.me, self.digest, self.clock = store, me, config_digest, clock
        self.every_s, self.ttl_s = every_s, ttl_s

    async def register(self) -> None:
        """Insert this process's row (and learn the database clock)."""
        self.clock.observe(await self.store.register_process(
            self.me.id, self.me.host, self.me.pid, describe(self.me.roles), self.digest))
        log.info("process %s joined as %s", self.me.id, self.me.label)

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeat until ``stop``; an outage is logged and retried."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_s)
            if stop.is_set():
                break
            try:
                self.clock.observe(await self.store.heartbeat(self.me.id, self.ttl_s))
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)

    async def leave(self) -> None:
        """A clean stop: free this process's leases at once instead of at expiry."""
        try:
            await self.store.deregister_process(self.me.id)
        except Exception as exc:  # they expire by themselves
            log.warning("could not deregister process %s: %s", self.me.id, exc)


@dataclass
class Held:
    """A lease this process holds, and when it was last renewed (monotonic)."""

    name: str
    renewed: float = field(default_factory=time.monotonic)


class GatewayElection:
    """Holds one gateway shard's lease and runs the gateway only while holding it.

    ``start`` connects the gateway and ``stop`` disconnects it; both are the caller's.
    Only the holder connects, so at most one session of the shard is identified at a time
    (a successor waits for the lease to expire; a holder that cannot renew stops first).
    """

    def __init__(self, leases: Leases, owner: str, name: str,
                 start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]],
                 *, ttl_s: float = GATEWAY_TTL_S, every_s: float = HEARTBEAT_S,
                 give_up_s: float = GATEWAY_GIVE_UP_S) -> None:
        self.leases = leases
        self.owner = owner
        self.name = name
        self._start, self._stop = start, stop
        self.ttl_s, self.every_s, self.give_up_s = ttl_s, every_s, give_up_s
        self.held: Held | None = None
        self.takeovers = 0

    @property
    def holding(self) -> bool:
        """True while this process holds the lease (and runs the gateway)."""
        return self.held is not None

    async def step(self) -> None:
        """Acquire or renew once; start or stop the gateway on a change."""
        try:
            got = await self.leases.acquire_lease(self.name, self.owner, self.ttl_s)
        except Exception as exc:  # a database outage: keep what we have, for a while
            if self.held is not None and time.monotonic() - self.held.renewed > self.give_up_s:
                log.error("gateway %s: cannot renew the lease (%s); disconnecting before "
                          "another process may take it", self.name, exc)
                await self._lose()
            else:
                log.warning("gateway %s: lease not renewed: %s", self.name, exc)
            return
        if got and self.held is None:
            self.held = Held(self.name)
            self.takeovers += 1
            log.info("gateway %s: this process holds it now; connecting", self.name)
            await self._start()
        elif got and self.held is not None:
            self.held.renewed = time.monotonic()
        elif not got and self.held is not None:
            log.error("gateway %s: another process holds the lease now; disconnecting",
                      self.name)
            await self._lose()

    async def _lose(self) -> None:
        self.held = None
        await self._stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Step every ``every_s`` until ``stop``; then disconnect and release the lease."""
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_s)
        if self.held is not None:
            await self._lose()
            try:
                await self.leases.release_lease(self.name, self.owner)
            except Exception as exc:  # it expires by itself
                log.warning("gateway %s: lease not released: %s", self.name, exc)
