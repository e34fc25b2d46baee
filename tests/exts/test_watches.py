"""/watch through the real client: happy paths, error replies, permissions, autocomplete."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.cadence import make_cadence
from bot.config.file import WatchConfig
from bot.store.rows import CONFIG_GUILD
from tests.exts.harness import (
    AUTOCOMPLETE_RESULT,
    DEFERRED,
    Bot,
    item,
    make_config,
    rss,
    running_bot,
)
from tests.fakes.discord_payloads import (
    ALERTS_CHANNEL_ID,
    GENERAL_CHANNEL_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    ROLE_ID,
    FakeConfig,
    FakeGuild,
    FakeRole,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(30)

ROLE = FakeGuild().roles[0]
UNKNOWN_CHANNEL_ID = 2222222222222222999


async def test_add_list_pause_resume_remove(bot: Bot) -> None:
    added = await bot.watch_add("china-trade", '"rare earths" OR tariffs',
                                channel_id=ALERTS_CHANNEL_ID, role=ROLE)
    assert added.startswith("✅ Watch **china\\-trade** added")
    assert f"<#{ALERTS_CHANNEL_ID}>" in added and f"<@&{ROLE_ID}>" in added
    # Without a channel option, alerts go to the channel the command was typed in.
    assert f"<#{GENERAL_CHANNEL_ID}>" in await bot.watch_add("chips", "semiconductor*")
    [trade, chips] = await bot.app.store.watches(GUILD_ID)  # by name
    assert (trade.name, trade.channel_id, trade.role_id) == ("china-trade", ALERTS_CHANNEL_ID,
                                                             ROLE_ID)
    assert (chips.channel_id, chips.role_id) == (GENERAL_CHANNEL_ID, None)

    listed = await bot.answer("watch", subcommand="list")
    assert "**china\\-trade** →" in listed and "**chips** →" in listed
    assert '`"rare earths" OR tariffs`' in listed
    assert "English (en), detected from the query's words" in listed  # the watch's language

    assert "paused" in await bot.answer("watch", {"name": "chips"}, subcommand="pause")
    assert "paused: paused by a moderator" in await bot.answer("watch", subcommand="list")
    assert "resumed" in await bot.answer("watch", {"name": "chips"}, subcommand="resume")
    assert not any(w.paused for w in await bot.app.store.watches(GUILD_ID))

    assert "removed" in await bot.answer("watch", {"name": "chips"}, subcommand="remove")
    assert [w.name for w in await bot.app.store.watches(GUILD_ID)] == ["china-trade"]


@pytest.mark.parametrize(("subcommand", "options", "expected"), [
    ("add", {"name": "x", "query": '"rare earths'}, "Invalid query: unbalanced quote"),
    ("add", {"name": "x", "query": "tariffs AND"}, "(at position"),
    ("add", {"name": "   ", "query": "tariffs"}, "must not be blank"),
    ("add", {"name": "taken", "query": "tariffs"}, "A watch named 'taken' exists"),
    ("add", {"name": "x", "query": "tariffs", "deliver": "weekly"},
     'Option `deliver`: expected "instant", "hourly" or "daily HH:MM"'),
    ("add", {"name": "x", "query": "tariffs", "timezone": "Mars/Base"},
     "Option `timezone`: unknown time zone 'Mars/Base'"),
    ("add", {"name": "x", "query": "tariffs", "quiet": "late"}, "Option `quiet`: expected"),
    ("add", {"name": "x", "query": "tariffs", "urgent": "(quake"},
     "Option `urgent`: invalid query"),
    ("remove", {"name": "nope"}, "No watch named 'nope'"),
    ("pause", {"name": "nope"}, "No watch named 'nope'"),
    ("resume", {"name": "nope"}, "No watch named 'nope'"),
    ("test", {"query": "(tariffs"}, "Invalid query"),
])
async def test_bad_arguments_get_a_clear_ephemeral_error(
        bot: Bot, subcommand: str, options: dict[str, str], expected: str) -> None:
    await bot.watch_add("taken", "tariffs")
    text = await bot.answer("watch", options, subcommand=subcommand)
    assert text.startswith("⚠️") and expected in text, text
    assert "Traceback" not in text and "went wrong" not in text


async def test_invalid_query_error_points_at_the_position(bot: Bot) -> None:
    text = await bot.answer("watch", {"name": "x", "query": "tariffs OR OR Xi"},
                            subcommand="add")
    shown, caret = text.split("```\n")[1].splitlines()[:2]
    assert shown == "tariffs OR OR Xi"
    assert caret.index("^") == int(text.split("(at position ")[1].split(")")[0])
    assert await bot.app.store.watches(GUILD_ID) == []


async def test_a_channel_the_bot_cannot_see_is_refused(bot: Bot) -> None:
    text = await bot.watch_add("x", "tariffs", channel_id=UNKNOWN_CHANNEL_ID)
    assert text.startswith("⚠️ That is not a valid channel"), text
    assert await bot.app.store.watches(GUILD_ID) == []


async def test_a_channel_without_send_permission_is_refused(
        feeds: FeedServer, tmp_path: Path) -> None:
    muted = FakeGuild(everyone_permissions=MEMBER_PERMISSIONS & ~(1 << 11))  # no SEND_MESSAGES
    async with FakeDiscord(FakeConfig(guilds=(muted,))) as fake, \
            running_bot(fake, feeds, tmp_path) as bot:
        text = await bot.watch_add("x", "tariffs", channel_id=ALERTS_CHANNEL_ID)
    assert text.startswith(f"⚠️ I cannot post alerts in <#{ALERTS_CHANNEL_ID}>"), text
    assert "Send Messages" in text and "View Channel" not in text


async def test_pinging_everyone_is_refused(bot: Bot) -> None:
    everyone = FakeRole(GUILD_ID, "@everyone")
    text = await bot.watch_add("x", "tariffs", role=everyone)
    assert text.startswith("⚠️ Pick a role to ping, not @everyone"), text


@pytest.mark.parametrize("command,subcommand", [
    ("watch", "list"), ("watch", "add"), ("watch", "test"), ("feed", "list"), ("status", None)])
async def test_members_without_manage_server_are_refused(
        bot: Bot, command: str, subcommand: str | None) -> None:
    options = {"name": "x", "query": "tariffs"} if subcommand == "add" else None
    if subcommand == "test":
        options = {"query": "tariffs"}
    text = await bot.answer(command, options, subcommand=subcommand,
                            permissions=MEMBER_PERMISSIONS)
    assert text == "⚠️ You need the Manage Server permission to use Wirewatch."
    assert await bot.app.store.watches(GUILD_ID) == []


@pytest.mark.parametrize(("typed", "permissions", "expected"), [
    ("", None, ["china-trade", "chips", "energy"]),
    ("CH", None, ["china-trade", "chips"]),
    ("trade", None, ["china-trade"]),
    ("e", None, ["energy", "china-trade"]),  # names starting with what was typed come first
    ("ch", MEMBER_PERMISSIONS, []),  # names are not shown to members who cannot manage
])
async def test_watch_names_autocomplete(bot: Bot, typed: str, permissions: int | None,
                                        expected: list[str]) -> None:
    for name in ("energy", "china-trade", "chips"):
        await bot.watch_add(name, "tariffs")
    extra = {} if permissions is None else {"permissions": permissions}
    for subcommand in ("remove", "pause", "resume"):
        interaction = await bot.command("watch", {"name": typed}, subcommand=subcommand,
                                        focused="name", **extra)
        callback = await bot.fake.wait_for_callback(interaction)
        assert callback["type"] == AUTOCOMPLETE_RESULT
        assert [c["value"] for c in callback["data"]["choices"]] == expected


@pytest.mark.parametrize(("query", "text", "expected"), [
    ("tariffs", "China curbs exports as tariffs bite.", "✅ Match on: tariffs ← tariffs. Language: "
     "English (en), detected from the query's words.\n> China curbs exports as **tariffs** bite."),
    ("Zoll lang:de", "Neue Zölle auf Stahl.", "✅ Match on: Zölle ← Zoll. Language: German (de),"
     " from lang:."),
    ("пошлины", "Введение пошлин отложено.", "Language: Russian (ru), detected"),
    ('"rare earths" OR Xi', "Xi meets traders about rare earths.", "**rare earths**"),
    ("tariffs", "Markets were calm.", "❌ No match."),
    ("tariffs -opinion", "Opinion: tariffs are bad.", "❌ No match. Excluded by: opinion."),
])
async def test_watch_test_explains_text(bot: Bot, query: str, text: str, expected: str) -> None:
    reply = await bot.answer("watch", {"query": query, "text": text}, subcommand="test")
    assert expected in reply, reply


async def test_watch_test_without_text_checks_the_last_day(bot: Bot) -> None:
    bot.feeds.serve("/feed.xml", rss(item("a3", "Xi speaks"), item("a2", "Tariffs rise"),
                                     item("a1", "Tariffs fall"), title="Wire"))
    await bot.feed_add(bot.feeds.url("/feed.xml"))
    interaction = await bot.command("watch", {"query": "tariffs"}, subcommand="test")
    assert (await bot.fake.wait_for_callback(interaction))["type"] == DEFERRED
    [followup] = await bot.fake.wait_for_followups(interaction)
    lines = followup["content"].splitlines()
    assert lines[0] == "2 of 3 items from the last 24 hours would have matched."
    assert sorted(line.split("**")[1] for line in lines[1:]) == ["Tariffs fall", "Tariffs rise"]
    assert all("— Wire, <t:" in line for line in lines[1:])


async def test_add_previews_what_the_watch_would_have_matched(bot: Bot) -> None:
    bot.feeds.serve("/feed.xml", rss(item("a3", "Xi speaks"), item("a2", "Tariffs rise"),
                                     item("a1", "Tariffs fall"), title="Wire"))
    await bot.feed_add(bot.feeds.url("/feed.xml"))
    lines = (await bot.watch_add("trade", "tariffs", channel_id=ALERTS_CHANNEL_ID)).splitlines()
    assert lines[1] == ("Among the 3 items of the last 24 hours, 2 match now (not alerted); "
                        "new matching items will be alerted.")
    assert sorted(line.split("**")[1] for line in lines[2:]) == ["Tariffs fall", "Tariffs rise"]
    assert await bot.poll_and_deliver() == 0  # a preview, not alerts


async def test_delivery_options_on_add_set_and_list(bot: Bot) -> None:
    options = [{"name": "name", "type": 3, "value": "night"},
               {"name": "query", "type": 3, "value": "tariffs"},
               {"name": "deliver", "type": 3, "value": "Daily 8:00"},
               {"name": "timezone", "type": 3, "value": "Europe/Berlin"}]
    added = await bot.answer("watch", options, subcommand="add")
    assert "delivery: daily 08:00 Europe/Berlin" in added
    [watch] = await bot.app.store.watches(GUILD_ID)
    assert watch.cadence == make_cadence(deliver="daily 08:00", timezone="Europe/Berlin")

    changed = await bot.answer("watch", {"name": "night", "quiet": "22:00-07:00",
                                         "urgent": "earthquake"}, subcommand="set")
    assert changed == ("🕒 Watch **night** now delivers: daily 08:00 Europe/Berlin, "
                       "quiet 22:00\\-07:00, urgent: earthquake.")
    listed = await bot.answer("watch", subcommand="list")
    assert "daily 08:00 Europe/Berlin, quiet 22:00\\-07:00, urgent: earthquake" in listed

    # Only what is given changes; "off" clears quiet hours and the urgent query.
    await bot.answer("watch", {"name": "night", "quiet": "off", "urgent": "none",
                               "deliver": "instant"}, subcommand="set")
    [watch] = await bot.app.store.watches(GUILD_ID)
    assert watch.cadence == make_cadence(timezone="Europe/Berlin")
    assert "Option `quiet`" in await bot.answer("watch", {"name": "night", "quiet": "late"},
                                                subcommand="set")
    assert "No watch named 'nope'" in await bot.answer("watch", {"name": "nope"},
                                                       subcommand="set")


async def test_config_watches_are_listed_but_not_editable(
        fake: FakeDiscord, feeds: FeedServer, tmp_path: Path) -> None:
    config = make_config(watches=(WatchConfig(name="from-file", query="Xi"),))
    async with running_bot(fake, feeds, tmp_path, config) as bot:
        listed = await bot.answer("watch", subcommand="list")
        assert "**from\\-file** → the console (config file)" in listed
        for subcommand in ("remove", "pause"):
            text = await bot.answer("watch", {"name": "from-file"}, subcommand=subcommand)
            assert "comes from the config file" in text
        [watch] = await bot.app.store.watches(CONFIG_GUILD)
        assert not watch.paused


async def test_add_with_stories_every_item(bot: Bot) -> None:
    """``stories:`` chooses between editing a story's alert and one alert per item."""
    await bot.answer("watch", {"name": "each", "query": "tariffs", "stories": "every-item"},
                     subcommand="add")
    await bot.watch_add("grouped", "tariffs")
    [each, grouped] = await bot.app.store.watches(GUILD_ID)
    assert (each.stories, grouped.stories) == ("every-item", "group")
    assert "every item" in await bot.answer("watch", subcommand="list")
