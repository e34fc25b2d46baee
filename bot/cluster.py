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
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.roles import Role, describe

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


class Leases(Protocol):
    """The store's lease methods (see ``bot.store``)."""

    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool: ...
    async def release_lease(self, name: str, owner: str) -> None: ...


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
