"""/feed commands: validated adds (deferred), shared URLs, health in lists, error replies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from bot.config.file import BotConfig, Config, FeedConfig
from tests.exts.harness import (
    AUTOCOMPLETE_RESULT,
    DEFERRED,
    EPHEMERAL,
    Bot,
    item,
    make_config,
    rss,
    running_bot,
)
from tests.fakes.article_pages import TRUMP_XI, news_page
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    GUILD_ID,
    FakeChannel,
    FakeConfig,
    FakeGuild,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(30)

OTHER_GUILD_ID = 1111111111111111112
OTHER_CHANNEL_ID = 2222222222222222301
HTML = b"<!doctype html><html><head><title>Home</title></head><body>Hi</body></html>"


def serve_wire(feeds: FeedServer) -> str:
    feeds.serve("/feed.xml", rss(
        item("a2", "Older but listed first", published="Mon, 01 Jan 2024 08:00:00 GMT"),
        item("a1", "Newest by date", published="Mon, 01 Jan 2024 10:00:00 GMT")))
    return feeds.url("/feed.xml")


async def test_add_fetches_defers_and_records_current_items_silently(bot: Bot) -> None:
    url = serve_wire(bot.feeds)
    await bot.watch_add("all", "listed OR newest", channel_id=ALERTS_CHANNEL_ID)
    interaction = await bot.command("feed", {"url": url}, subcommand="add")
    callback = await bot.fake.wait_for_callback(interaction)
    assert (callback["type"], callback["data"]["flags"]) == (DEFERRED, EPHEMERAL)
    [followup] = await bot.fake.wait_for_followups(interaction)
    assert followup["flags"] & EPHEMERAL
    assert followup["content"] == (
        "✅ Feed **Local Wire** added: Local Wire — 2 items now, checked every 1m.\n"
        "Newest: Newest by date\n"
        # The preview: what this server's watches would have matched, not alerted.
        'Local Wire: 2 items recorded silently; 2 match all now \\(not alerted\\): '
        '"Newest by date" · "Older but listed first"\n'
        "Local Wire: new matching items will be alerted")
    [sub] = await bot.app.store.subscriptions(GUILD_ID)
    assert (sub.name, sub.interval_s, sub.feed.primed) == ("Local Wire", 60.0, True)
    assert len(await bot.app.store.recent_items(GUILD_ID, 0)) == 2
    assert await bot.poll_and_deliver() == 0  # what the feed held when added is not news
    assert bot.fake.messages(ALERTS_CHANNEL_ID) == []


async def test_name_and_interval_options_list_and_remove(bot: Bot) -> None:
    url = serve_wire(bot.feeds)
    added = await bot.feed_add(url, name="Wire", interval="10m")
    assert added.startswith("✅ Feed **Wire** added: Local Wire — 2 items now, checked every 10m")
    listed = await bot.answer("feed", subcommand="list")
    assert listed.startswith("• **Wire** every 10m — ✅ ok\n  last success <t:")
    assert "next check <t:" in listed and f"<{url}>" in listed

    bot.feeds.status("/feed.xml", 503)
    await bot.app.poller.poll_all_once()
    listed = await bot.answer("feed", subcommand="list")
    assert "❌ failing: its last fetch failed once \\(HTTP 503" in listed

    assert await bot.answer("feed", {"name": "Wire"}, subcommand="remove") == (
        "🗑️ Feed **Wire** removed.")
    assert await bot.answer("feed", subcommand="list") == (
        "No feeds yet. Add one with `/feed add`.")
    assert await bot.app.store.subscriptions() == []


async def _slow_feed(request: web.Request) -> web.Response:
    await asyncio.sleep(0.6)
    return web.Response(body=rss(item("s1", "Slow news")), content_type="application/rss+xml")


async def test_a_slow_feed_is_answered_after_the_deadline_thanks_to_defer(
        feeds: FeedServer, tmp_path: Path) -> None:
    feeds.route("/slow.xml", _slow_feed)
    async with FakeDiscord(FakeConfig(interaction_deadline=0.3)) as fake, \
            running_bot(fake, feeds, tmp_path) as bot:
        reply = await bot.feed_add(feeds.url("/slow.xml"), name="Slow")
    assert reply.startswith("✅ Feed **Slow** added"), reply


@pytest.mark.parametrize(("options", "expected"), [
    ({"interval": "soon"}, "bad duration 'soon'"),
    ({"interval": "500ms"}, "The interval must be at least 1s."),
    ({"interval": "8d"}, "The interval must be at most 7d."),
    ({"url": "/html"}, "That feed could not be added: not a feed: the server sent an HTML page"),
    ({"url": "/missing"}, "That feed could not be added: HTTP 404"),
    ({"url": "ftp://news.example/feed"}, "could not be added: refused: scheme 'ftp'"),
    ({"url": "/feed.xml"}, "This server already has that feed as 'Local Wire'."),
    ({"url": "/other.xml", "name": "local wire"}, "already has a feed named 'local wire'"),
])
async def test_bad_feeds_and_arguments_get_clear_errors(
        bot: Bot, options: dict[str, str], expected: str) -> None:
    serve_wire(bot.feeds)
    bot.feeds.serve("/other.xml", rss(item("o1", "Other")))
    bot.feeds.serve("/html", HTML, content_type="text/html")
    await bot.feed_add(bot.feeds.url("/feed.xml"))
    url = options.get("url", "/new.xml")
    options = {**options, "url": bot.feeds.url(url) if url.startswith("/") else url}
    text = await bot.feed_add(**options)
    assert text.startswith("⚠️") and expected in text, text
    assert [s.name for s in await bot.app.store.subscriptions(GUILD_ID)] == ["Local Wire"]


async def test_remove_of_an_unknown_feed(bot: Bot) -> None:
    text = await bot.answer("feed", {"name": "nope"}, subcommand="remove")
    assert text == "⚠️ No feed named 'nope' in this server. See `/feed list`."


async def test_private_addresses_are_refused_unless_allowed(
        fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> None:
    url = serve_wire(feeds)
    env = {"WIREWATCH_ALLOW_PRIVATE_NETWORKS": ""}
    async with running_bot(fake, feeds, tmp_path, env=env) as bot:
        text = await bot.feed_add(url)
    assert text.startswith("⚠️ That feed could not be added: refused"), text
    assert feeds.hits("/feed.xml") == 0


async def test_the_default_minimum_interval_is_one_minute_for_other_peoples_servers(
        fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> None:
    config = Config(bot=BotConfig(guilds=(GUILD_ID,), private_network_guilds=(GUILD_ID,)))
    async with running_bot(fake, feeds, tmp_path, config) as bot:
        public = await bot.feed_add("https://news.example/rss", interval="30s")
        # A feed on a network the operator allowed (here 127.0.0.0/8) is theirs: down to 1s.
        local = await bot.feed_add(serve_wire(feeds), interval="2s")
    assert public == "⚠️ The interval must be at least 1m."
    assert local.startswith("✅ Feed **Local Wire** added"), local
    assert "checked every 2s" in local


async def test_a_url_shared_by_two_guilds_is_fetched_once_per_poll(
        feeds: FeedServer, tmp_path: Path) -> None:
    other = FakeGuild(id=OTHER_GUILD_ID, name="Other",
                      channels=(FakeChannel(OTHER_CHANNEL_ID, "news"),))
    url = serve_wire(feeds)
    config = make_config(guilds=(GUILD_ID, OTHER_GUILD_ID))
    async with FakeDiscord(FakeConfig(guilds=(FakeGuild(), other))) as fake, \
            running_bot(fake, feeds, tmp_path, config) as bot:
        await bot.feed_add(url, name="Wire")
        await bot.answer("feed", {"url": url, "name": "Draht"}, subcommand="add",
                         guild_id=OTHER_GUILD_ID)
        await bot.watch_add("here", "tariffs", channel_id=ALERTS_CHANNEL_ID)
        await bot.answer("watch", {"name": "there", "query": "tariffs"}, subcommand="add",
                         guild_id=OTHER_GUILD_ID)
        subs = await bot.app.store.subscriptions()
        assert sorted((s.guild_id, s.name) for s in subs) == [(GUILD_ID, "Wire"),
                                                            (OTHER_GUILD_ID, "Draht")]
        assert len({s.feed.id for s in subs}) == 1
        # Each guild sees only its own feeds.
        assert "Draht" not in await bot.answer("feed", subcommand="list")

        fetched = feeds.hits("/feed.xml")
        feeds.serve("/feed.xml", rss(item("a3", "Tariffs rise")))
        assert await bot.poll_and_deliver() == 2
        assert feeds.hits("/feed.xml") == fetched + 1
        [here] = fake.messages(ALERTS_CHANNEL_ID)
        [there] = fake.messages(OTHER_CHANNEL_ID)
        assert here["embeds"][0]["author"]["name"] == "Wire"
        assert there["embeds"][0]["author"]["name"] == "Draht"


async def test_config_feeds_are_listed_and_not_removable(
        fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> None:
    url = serve_wire(feeds)
    config = make_config(feeds=(FeedConfig(name="File Wire", url=url, interval=120),))
    async with running_bot(fake, feeds, tmp_path, config) as bot:
        listed = await bot.answer("feed", subcommand="list")
        assert listed.startswith("• **File Wire** (config file) every 2m — ⏳ not checked yet")
        text = await bot.answer("feed", {"name": "File Wire"}, subcommand="remove")
        assert text == "⚠️ 'File Wire' comes from the config file; change it there."


async def test_feed_names_autocomplete(bot: Bot) -> None:
    serve_wire(bot.feeds)
    bot.feeds.serve("/b.xml", rss(item("b1", "B")))
    await bot.feed_add(bot.feeds.url("/feed.xml"), name="Reuters World")
    await bot.feed_add(bot.feeds.url("/b.xml"), name="BBC World")
    interaction = await bot.command("feed", {"name": "wor"}, subcommand="remove",
                                    focused="name")
    callback = await bot.fake.wait_for_callback(interaction)
    assert callback["type"] == AUTOCOMPLETE_RESULT
    assert [c["value"] for c in callback["data"]["choices"]] == ["BBC World", "Reuters World"]


async def test_a_feed_paused_after_failures_is_announced_and_resumed(bot: Bot) -> None:
    url = serve_wire(bot.feeds)
    await bot.feed_add(url, name="Wire")
    bot.app.poller.deps.pause_after = 2
    bot.feeds.status("/feed.xml", 500)
    for _ in range(2):
        await bot.app.poller.poll_all_once()
    [sub] = await bot.app.store.subscriptions(GUILD_ID)
    assert sub.feed.paused
    # No system channel in this guild: the notice goes to the first channel it may post in.
    [notice] = await bot.fake.wait_for_messages(ALERTS_CHANNEL_ID)
    assert notice["content"].startswith("Feed 'Wire' failed too many times in a row and is "
                                        "paused: HTTP 500")
    assert notice["mention_everyone"] is False
    assert "⏸️ paused after 2 failed fetches \\(HTTP 500" in await bot.answer(
        "feed", subcommand="list")

    serve_wire(bot.feeds)
    text = await bot.answer("feed", {"name": "Wire"}, subcommand="resume")
    assert text.startswith("▶️ Feed **Wire** resumed")
    await bot.app.poller.tick()  # due now
    await bot.app.poller.wait_idle(5)
    assert "✅ ok" in await bot.answer("feed", subcommand="list")
    assert len(bot.fake.messages(ALERTS_CHANNEL_ID)) == 1  # told once


@pytest.mark.parametrize(("name", "expected"), [
    ("nope", "⚠️ No feed named 'nope' in this server. See `/feed list`."),
    ("File Wire", "⚠️ 'File Wire' comes from the config file; change it there."),
])
async def test_resume_of_a_feed_this_server_does_not_have(
        fake: FakeDiscord, feeds: FeedServer, tmp_path: Path, name: str, expected: str) -> None:
    config = make_config(feeds=(FeedConfig(name="File Wire", url=serve_wire(feeds)),))
    async with running_bot(fake, feeds, tmp_path, config) as bot:
        assert await bot.answer("feed", {"name": name}, subcommand="resume") == expected


def teaser_wire(feeds: FeedServer, *items: tuple[str, str]) -> bytes:
    """RSS of (guid, page path) items whose links are pages on ``feeds``; teasers only."""
    parts = "".join(f"<item><title>Story {guid}</title><link>{feeds.url(path)}</link>"
                    f"<guid>{guid}</guid><description>Talks on trade.</description></item>"
                    for guid, path in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Teasers</title>'
            f"<link>https://news.example/</link>{parts}</channel></rss>").encode()


async def test_full_text_option_and_article_counts_in_the_list(bot: Bot) -> None:
    feeds = bot.feeds
    feeds.serve("/story", news_page("Trump and Xi", TRUMP_XI), content_type="text/html")
    feeds.status("/paid", 403)
    feeds.serve("/ft.xml", teaser_wire(feeds))
    added = await bot.feed_add(feeds.url("/ft.xml"), name="Wire", full_text="never")
    assert added.startswith("✅ Feed **Wire** added")
    [sub] = await bot.app.store.subscriptions(GUILD_ID)
    assert await bot.app.store.full_text_mode(sub.feed.id) == "never"
    await bot.answer("feed", {"name": "Wire"}, subcommand="remove")
    await bot.feed_add(feeds.url("/ft.xml"), name="Wire", full_text="always")
    [sub] = await bot.app.store.subscriptions(GUILD_ID)
    assert await bot.app.store.full_text_mode(sub.feed.id) == "always"
    await bot.watch_add("talks", "trade", channel_id=ALERTS_CHANNEL_ID)
    assert "articles:" not in await bot.answer("feed", subcommand="list")
    feeds.serve("/ft.xml", teaser_wire(feeds, ("s1", "/story"), ("p1", "/paid")))
    assert await bot.poll_and_deliver() == 2  # the paywalled item still alerts
    listed = await bot.answer("feed", subcommand="list")
    assert "\n  articles: 50 % ok; 1 paywall" in listed, listed
    assert (feeds.hits("/story"), feeds.hits("/paid")) == (1, 1)


async def test_config_full_text_reaches_the_store(
        fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> None:
    url = serve_wire(feeds)
    config = make_config(feeds=(FeedConfig(name="File Wire", url=url, full_text="never"),))
    async with running_bot(fake, feeds, tmp_path, config) as bot:
        [sub] = await bot.app.store.subscriptions(0)
        assert await bot.app.store.full_text_mode(sub.feed.id) == "never"
