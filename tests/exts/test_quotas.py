"""Per-guild quotas through the real slash commands: a clear refusal, other guilds unaffected."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exts.harness import item, make_config, rss, running_bot
from tests.fakes.discord_payloads import GUILD_ID, FakeChannel, FakeConfig, FakeGuild
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(60)

OTHER_GUILD_ID = 1111111111111111112


async def test_feed_and_watch_quotas_answer_clearly_per_guild(
        feeds: FeedServer, tmp_path: Path) -> None:
    other = FakeGuild(id=OTHER_GUILD_ID, name="Other",
                      channels=(FakeChannel(2222222222222222301, "news"),))
    for path in ("/a.xml", "/b.xml", "/c.xml"):
        feeds.serve(path, rss(item(path, "Tariffs"), title=path))
    config = make_config(guilds=(GUILD_ID, OTHER_GUILD_ID))
    config = config.model_copy(update={"bot": config.bot.model_copy(update={
        "max_feeds_per_guild": 2, "max_watches_per_guild": 1})})
    async with FakeDiscord(FakeConfig(guilds=(FakeGuild(), other))) as fake, \
            running_bot(fake, feeds, tmp_path, config) as bot:
        for path in ("/a.xml", "/b.xml"):
            assert (await bot.feed_add(feeds.url(path))).startswith("✅")
        refused = await bot.feed_add(feeds.url("/c.xml"))
        assert refused == ("⚠️ This server has 2 feeds; the limit is 2 (`max_feeds_per_guild` "
                           "in the bot's config). Remove one with `/feed remove` first, or ask "
                           "the bot's operator.")
        assert feeds.hits("/c.xml") == 0  # refused before fetching anything
        # The other server has its own quota.
        other_add = await bot.answer("feed", {"url": feeds.url("/c.xml")}, subcommand="add",
                                     guild_id=OTHER_GUILD_ID)
        assert other_add.startswith("✅"), other_add

        assert (await bot.watch_add("one", "tariffs")).startswith("✅")
        assert await bot.watch_add("two", "tariffs") == (
            "⚠️ This server has 1 watch; the limit is 1 (`max_watches_per_guild` in the "
            "bot's config). Remove one with `/watch remove` first, or ask the bot's operator.")
        other_watch = await bot.answer("watch", {"name": "two", "query": "tariffs"},
                                       subcommand="add", guild_id=OTHER_GUILD_ID)
        assert other_watch.startswith("✅"), other_watch
        assert [w.name for w in await bot.app.store.watches(GUILD_ID)] == ["one"]
