"""Which feeds may reach the operator's private networks (``WIREWATCH_ALLOW_PRIVATE_NETWORKS``).

The allowance is the operator's: config-file feeds have it, and so do feeds of the guilds listed
in ``[bot] private_network_guilds``. Any other guild's admin could otherwise ``/feed add``
internal URLs and read the answers (or the error messages) like a port scanner. A URL is one
feed row whoever follows it, so the question is asked per URL: does any allowed subscriber
follow it? The answer comes from the store (every process sees the same), is cached, and is
only asked at all when a fetch actually meets a non-public address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from bot.store.base import Store
from bot.store.rows import CONFIG_GUILD

REFRESH_S = 60.0  # a granted URL stays granted this long without asking the store again
STALE_S = 5.0  # a refused URL is looked up again only if the cache is at least this old


class PrivateAccess:
    """The set of feed URLs followed by someone allowed onto private networks."""

    def __init__(self, store: Store, guilds: Iterable[int], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._guilds = frozenset(guilds)
        self._clock = clock
        self._urls: set[str] = set()
        self._loaded = float("-inf")
        self._lock = asyncio.Lock()

    def guild_allowed(self, guild_id: int) -> bool:
        """Whether URLs this guild adds may lead to the allowed private networks."""
        return guild_id == CONFIG_GUILD or guild_id in self._guilds

    def granted(self, url: str) -> bool:
        """True when ``url`` is known to be allowed and the knowledge is recent."""
        return url in self._urls and self._clock() - self._loaded < REFRESH_S

    def grant(self, url: str) -> None:
        """An allowed guild just subscribed to ``url`` (no need to wait for the next read)."""
        self._urls.add(url)

    async def permits(self, url: str) -> bool:
        """Whether ``url`` may use the allowance; reads the store when the cache is stale."""
        if self.granted(url):
            return True
        async with self._lock:
            if self._clock() - self._loaded >= STALE_S:
                subs = await self._store.subscriptions()
                self._urls = {sub.feed.url for sub in subs if self.guild_allowed(sub.guild_id)}
                self._loaded = self._clock()
        return url in self._urls
