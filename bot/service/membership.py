"""Several identical processes on one database: who is alive, and who holds what.

Each process has an identity row (uuid, host, pid, roles, start, heartbeat). Singular work is
held through named leases in the database (owner + expiry on the DATABASE clock), renewed by
the holder's heartbeat: the Discord gateway (one lease per shard) and delivery targets. A
process that dies stops renewing; its leases expire and another process takes them over.
No broker, no home-made protocol: the database's row locks decide.

Partial failures (issue 20): every lease carries a fencing token, and a holder counts a lease
as held only until its own deadline (monotonic time when the last renewal *started* + the
give-up time), whatever the database says later. Renewals and heartbeats run under their own
deadlines: one that hangs (a frozen path to the database) counts as lost. A process whose row
the others deleted notices at its next heartbeat, drops everything it held (``on_forgotten``)
and joins again as the next generation.
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
from dataclasses import dataclass
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
# A renewal or heartbeat that has not answered in this long counts as failed (the database
# call may still finish later; it is no proof of anything by then).
RENEW_DEADLINE_S = 4.0


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

    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> int | None: ...
    async def release_lease(self, name: str, owner: str,
                            token: int | None = None) -> None: ...


@runtime_checkable
class ClusterStore(Leases, Protocol):
    """What a store that serves several processes adds (times: the database clock)."""

    async def register_process(self, process_id: str, host: str, pid: int, roles: str,
                               config_hash: str, generation: int = 1) -> float: ...
    async def heartbeat(self, process_id: str, ttl_s: float) -> float | None: ...
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


Forgotten = Callable[[], Awaitable[None]]


class Membership:
    """This process's identity row: registered at start, renewed every ``every_s``.

    When a heartbeat finds the row gone (the others forgot this process after a long pause
    or outage), every ``on_forgotten`` hook runs first (the gateway disconnects, the outbox
    drops its claims), then the process registers again as the next ``generation``.
    """

    def __init__(self, store: ClusterStore, me: ProcessInfo, config_digest: str,
                 clock: DbClock, *, every_s: float = HEARTBEAT_S,
                 ttl_s: float = PROCESS_TTL_S, deadline_s: float = RENEW_DEADLINE_S) -> None:
        self.store, self.me, self.digest, self.clock = store, me, config_digest, clock
        self.every_s, self.ttl_s, self.deadline_s = every_s, ttl_s, deadline_s
        self.generation = 1
        self.on_forgotten: list[Forgotten] = []

    async def register(self) -> None:
        """Insert this process's row (and learn the database clock)."""
        self.clock.observe(await self.store.register_process(
            self.me.id, self.me.host, self.me.pid, describe(self.me.roles), self.digest,
            self.generation))
        log.info("process %s joined as %s (generation %d)", self.me.id, self.me.label,
                 self.generation)

    async def beat(self) -> None:
        """One heartbeat under its deadline; rejoin if the others forgot this process."""
        now = await asyncio.wait_for(self.store.heartbeat(self.me.id, self.ttl_s),
                                     self.deadline_s)
        if now is not None:
            self.clock.observe(now)
            return
        await self.rejoin()

    async def rejoin(self) -> None:
        """Drop everything held, then register again as the next generation."""
        log.error("process %s was forgotten by the others (silent for too long): dropping "
                  "every lease it held and joining again", self.me.id)
        for hook in self.on_forgotten:
            try:
                await hook()
            except Exception:
                log.exception("process %s: a hook failed while dropping its leases", self.me.id)
        self.generation += 1
        await self.register()

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeat until ``stop``; an outage (or a heartbeat past its deadline) is logged
        and retried."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_s)
            if stop.is_set():
                break
            try:
                await self.beat()
            except TimeoutError:
                log.warning("heartbeat: no answer within %.1fs", self.deadline_s)
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
    """A lease this process holds: its fencing token, and when the renewal that last proved
    it started (monotonic; the lease is counted from then, not from the answer)."""

    name: str
    token: int
    renewed: float


class GatewayElection:
    """Holds one gateway shard's lease and runs the gateway only while holding it.

    ``start`` connects the gateway and ``stop`` disconnects it; both are the caller's.
    Only the holder connects, so at most one session of the shard is identified at a time
    (a successor waits for the lease to expire; a holder that cannot prove its lease within
    ``give_up_s`` of the last renewal's start stops first, even while a renewal hangs).
    """

    def __init__(self, leases: Leases, owner: str, name: str,
                 start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]],
                 *, ttl_s: float = GATEWAY_TTL_S, every_s: float = HEARTBEAT_S,
                 give_up_s: float = GATEWAY_GIVE_UP_S,
                 deadline_s: float = RENEW_DEADLINE_S) -> None:
        self.leases = leases
        self.owner = owner
        self.name = name
        self._start, self._stop = start, stop
        self.ttl_s, self.every_s, self.give_up_s = ttl_s, every_s, give_up_s
        self.deadline_s = deadline_s
        self.held: Held | None = None
        self.takeovers = 0

    @property
    def holding(self) -> bool:
        """True while this process holds the lease (and runs the gateway)."""
        return self.held is not None

    @property
    def proven(self) -> bool:
        """True while the lease is held and its last renewal is recent enough to prove it."""
        return self._left() > 0

    def _left(self) -> float:
        """Seconds until this process must stop counting on the lease (<= 0: not held)."""
        if self.held is None:
            return 0.0
        return self.held.renewed + self.give_up_s - time.monotonic()

    async def step(self) -> None:
        """Acquire or renew once, under a deadline; start or stop the gateway on a change."""
        if self.held is not None and self._left() <= 0:
            log.error("gateway %s: the lease was not proven for %.1fs; disconnecting before "
                      "another process may take it", self.name, self.give_up_s)
            await self._lose()
            return
        started = time.monotonic()
        limit = self.deadline_s if self.held is None else min(self.deadline_s, self._left())
        try:
            token = await asyncio.wait_for(
                self.leases.acquire_lease(self.name, self.owner, self.ttl_s), limit)
        except Exception as exc:  # an outage or a hung renewal: keep what we have, for a while
            if self.held is not None and self._left() <= 0:
                log.error("gateway %s: cannot renew the lease (%s); disconnecting before "
                          "another process may take it", self.name, str(exc) or "no answer")
                await self._lose()
            else:
                log.warning("gateway %s: lease not renewed: %s", self.name, str(exc) or "no answer")
            return
        await self._settle(token, started)

    async def _settle(self, token: int | None, started: float) -> None:
        if token is not None and self.held is not None and token != self.held.token:
            # The lease lapsed and was taken again (a new holding): the old session may have
            # overlapped another holder's, so it is not carried over.
            log.error("gateway %s: the lease lapsed since its last renewal; reconnecting",
                      self.name)
            await self._lose()
        if token is not None and self.held is None:
            self.held = Held(self.name, token, started)
            self.takeovers += 1
            log.info("gateway %s: this process holds it now; connecting", self.name)
            await self._start()
        elif token is not None and self.held is not None:
            self.held.renewed = started
        elif token is None and self.held is not None:
            log.error("gateway %s: another process holds the lease now; disconnecting",
                      self.name)
            await self._lose()

    async def _lose(self) -> None:
        self.held = None
        await self._stop()

    async def forget(self) -> None:
        """This process was forgotten by the others: disconnect (the lease is not ours)."""
        if self.held is not None:
            await self._lose()

    async def run(self, stop: asyncio.Event) -> None:
        """Step every ``every_s`` (sooner when the lease's proof runs out) until ``stop``;
        then disconnect and release the lease."""
        while not stop.is_set():
            await self.step()
            wait = self.every_s if self.held is None else min(self.every_s,
                                                              max(self._left(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        if self.held is not None:
            token = self.held.token
            await self._lose()
            try:
                await asyncio.wait_for(self.leases.release_lease(self.name, self.owner, token),
                                       self.deadline_s)
            except Exception as exc:  # it expires by itself
                log.warning("gateway %s: lease not released: %s", self.name, exc)
