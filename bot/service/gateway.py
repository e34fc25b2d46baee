"""Who connects to Discord: one lease per gateway shard; only its holder runs that shard.

With ``[bot] shards = N`` each shard ``i`` is the lease ``gateway:i/N``; every process with
the gateway role and a token competes for each, and the holder runs one discord.py client
with ``shard_id=i, shard_count=N``. Guild events go to the shard ``(guild_id >> 22) % N``,
so notices about a guild are sent by the holder of its shard. Shard 0 syncs the commands.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

from bot.service.membership import (
    GATEWAY_GIVE_UP_S,
    GATEWAY_TTL_S,
    HEARTBEAT_S,
    RENEW_DEADLINE_S,
    GatewayElection,
    Leases,
    gateway_lease,
)
from bot.store.rows import Delivery, FeedRow

if TYPE_CHECKING:
    from bot.exts.client import DiscordHandle
    from bot.service.runtime import App

log = logging.getLogger(__name__)


def shard_of(guild_id: int, count: int) -> int:
    """The shard that receives a guild's events (Discord's rule)."""
    return (guild_id >> 22) % count


class GatewayHub:
    """The shards this process holds, and notices routed to the right one."""

    def __init__(self, app: App, stop: asyncio.Event, count: int) -> None:
        self.app = app
        self.stop = stop
        self.count = count
        self.handles: dict[int, DiscordHandle] = {}

    async def start_shard(self, shard: int) -> None:
        """Connect shard ``shard`` (this process now holds its lease)."""
        from bot.exts.client import start_client  # only a process with a token gets here

        options = {"shard_id": shard, "shard_count": self.count} if self.count > 1 else {}
        self.handles[shard] = await start_client(self.app, self.stop,
                                                 sync_commands=shard == 0, **options)
        # start_client points the hooks at its own client; with shards they are routed here.
        self.app.outbox.on_target_gone = self.on_target_gone
        self.app.poller.deps.on_feed_paused = self.on_feed_paused

    async def stop_shard(self, shard: int) -> None:
        """Disconnect shard ``shard`` (its lease is lost or given up)."""
        from bot.exts.client import stop_client

        handle = self.handles.pop(shard, None)
        if handle is not None:
            await stop_client(handle)

    async def on_target_gone(self, delivery: Delivery, reason: str) -> None:
        """Tell the guild through the shard that has it, if this process holds that shard."""
        handle = self.handles.get(shard_of(delivery.guild_id, self.count))
        if handle is None:
            log.warning("watch %r paused (%s); the guild is not on a shard this process "
                        "holds, so it is not told", delivery.watch_name, reason,
                        extra={"watch": delivery.watch_name, "guild": delivery.guild_id})
            return
        await handle.client.on_target_gone(delivery, reason)

    async def on_feed_paused(self, feed: FeedRow, reason: str) -> None:
        """Tell the guilds following ``feed`` through each shard this process holds."""
        for handle in list(self.handles.values()):
            await handle.client.on_feed_paused(feed, reason)

    def elections(self, leases: Leases, owner: str) -> list[GatewayElection]:
        """One election per shard, each starting and stopping its shard."""
        scale = self.app.settings.cluster_time_scale
        return [GatewayElection(leases, owner, gateway_lease(shard, self.count),
                                functools.partial(self.start_shard, shard),
                                functools.partial(self.stop_shard, shard),
                                ttl_s=GATEWAY_TTL_S * scale, every_s=HEARTBEAT_S * scale,
                                give_up_s=GATEWAY_GIVE_UP_S * scale,
                                deadline_s=RENEW_DEADLINE_S * scale)
                for shard in range(self.count)]

    async def close(self) -> None:
        """Disconnect every shard (shutdown)."""
        for shard in list(self.handles):
            await self.stop_shard(shard)
