"""OPML and TOML import/export and backups, against real files and a real SQLite store."""

from __future__ import annotations

import argparse
import io
import sqlite3
import threading
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cli.portability import (
    OpmlFeed,
    add_portability_commands,
    export_opml,
    export_watches,
    import_feeds,
    import_watches,
    parse_opml,
    parse_watches,
    run_portability,
    toml_string,
)
from bot.config.file import Config, FeedConfig, WatchConfig
from bot.core.errors import ConfigError
from bot.core.settings import Settings, load_settings
from bot.store import SqlStore, open_store
from bot.store.rows import NewWatch

pytestmark = pytest.mark.timeout(30)
NOW = 1_800_000_000.0

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="BBC  World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
      <outline type="rss" text="ignored" title="DW &amp; Co" xmlUrl="https://rss.dw.com/rdf"/>
    </outline>
    <outline text="a folder without a feed"/>
    <outline type="rss" xmlUrl="https://example.org/untitled.xml"/>
  </body>
</opml>
"""
EXPECTED = [OpmlFeed("BBC World", "https://feeds.bbci.co.uk/news/world/rss.xml"),
            OpmlFeed("DW & Co", "https://rss.dw.com/rdf"),
            OpmlFeed("https://example.org/untitled.xml", "https://example.org/untitled.xml")]


def opml_of(*outlines: str) -> bytes:
    return (f'<opml version="1.0"><body>{"".join(outlines)}</body></opml>').encode()


@pytest.mark.parametrize("document", [
    OPML,
    OPML.decode().replace("UTF-8", "UTF-16").encode("utf-16"),  # with a byte-order mark
    OPML.replace(b"xmlUrl", b"xmlurl"),  # some exporters write it in lower case
], ids=["utf-8", "utf-16", "lowercase-xmlurl"])
def test_parse_opml_finds_every_feed_at_any_depth(document: bytes) -> None:
    assert parse_opml(document) == EXPECTED


def test_parse_opml_honours_the_declared_encoding() -> None:
    document = ('<?xml version="1.0" encoding="ISO-8859-1"?><opml><body>'
                '<outline text="Le Monde é" xmlUrl="https://lemonde.fr/rss"/></body></opml>')
    assert parse_opml(document.encode("latin-1"))[0].name == "Le Monde é"


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<opml><body><outline text="&d;&d;&d;&d;&d;&d;&d;&d;" xmlUrl="https://x.example/"/></body></opml>
"""
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<opml><body><outline text="&x;" xmlUrl="https://x.example/"/></body></opml>')


@pytest.mark.parametrize(("document", "message"), [
    (LAUGHS, "DOCTYPE or ENTITY"),
    (EXTERNAL, "DOCTYPE or ENTITY"),
    (LAUGHS.lower(), "DOCTYPE or ENTITY"),
    # UTF-16 hides "<!DOCTYPE" from a byte search; the parser-level guard still refuses it.
    (LAUGHS.decode().replace("<?xml version=\"1.0\"?>", "").encode("utf-16"), "DOCTYPE"),
    (b"<rss><channel/></rss>", "not OPML"),
    (b"<opml><body>", "not well-formed"),
    (b"", "not well-formed"),
], ids=["billion-laughs", "external-entity", "lowercase", "utf-16", "rss", "truncated", "empty"])
def test_parse_opml_refuses_hostile_and_broken_documents(document: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_opml(document, "feeds.opml")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = await open_store(f"sqlite:///{tmp_path / 'wirewatch.db'}")
    yield store
    await store.close()


CONFIG = Config(feeds=(FeedConfig(name="BBC World", url="https://feeds.bbci.co.uk/w.xml"),),
                watches=(WatchConfig(name="config-watch", query="tariffs"),))


async def test_import_feeds_never_takes_over_existing_subscriptions(store: SqlStore) -> None:
    await store.sync_config(CONFIG, NOW)
    feeds = [OpmlFeed("Same URL", "https://feeds.bbci.co.uk/w.xml"),
             OpmlFeed("BBC World", "https://other.example/bbc.xml"),
             OpmlFeed("Gopher", "gopher://old.example/feed"),
             OpmlFeed("DW", "https://rss.dw.com/rdf"),
             OpmlFeed("DW again", "https://rss.dw.com/rdf")]
    added, skipped = await import_feeds(store, feeds, 0, 600.0, NOW)
    assert added == ["BBC World (2)", "DW"]
    assert [note.split(":")[0] for note in skipped] == ["Same URL", "Gopher", "DW again"]
    subs = {sub.name: sub for sub in await store.subscriptions(0)}
    assert subs["BBC World"].source == "config"
    assert subs["BBC World"].feed.url == "https://feeds.bbci.co.uk/w.xml"
    assert (subs["DW"].source, subs["DW"].interval_s) == ("command", 600.0)
    await store.sync_config(CONFIG, NOW + 1)  # a restart keeps what was imported
    assert sorted(sub.name for sub in await store.subscriptions(0)) == [
        "BBC World", "BBC World (2)", "DW"]


async def test_opml_export_then_import_round_trips(store: SqlStore, tmp_path: Path) -> None:
    await import_feeds(store, EXPECTED, 0, 300.0, NOW)
    await store.subscribe(42, EXPECTED[0].url, "same feed, other guild", 300.0, NOW)
    document = export_opml(await store.subscriptions())
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    # One outline per URL: the other guild's name for the same feed is not repeated.
    assert sorted(parse_opml(document.encode()), key=str) == sorted(EXPECTED, key=str)
    fresh = await open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        await import_feeds(fresh, parse_opml(document.encode()), 7, 300.0, NOW)
        assert sorted((s.name, s.feed.url) for s in await fresh.subscriptions(7)) == sorted(
            (feed.name, feed.url) for feed in EXPECTED)
    finally:
        await fresh.close()


@given(st.text())
def test_toml_string_round_trips_any_text(text: str) -> None:
    assert tomllib.loads(f"value = {toml_string(text)}")["value"] == text


WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz_-0123"
WATCHES = [
    NewWatch(guild_id=0, name="china-trade", query='"rare earths" OR tariffs OR Xi',
             webhook_url=WEBHOOK, feed_names=("BBC World", 'odd "name" \\ é'),
             color=0x3498DB, collapse_after=5),
    NewWatch(guild_id=111111111111111111, name="fed", query=r"title:(Fed) AND /rate\s+cut/",
             channel_id=222222222222222222, role_id=333333333333333333),
    NewWatch(guild_id=111111111111111111, name="console", query="Bessent"),
]


def as_config(watch: NewWatch) -> WatchConfig:
    return WatchConfig(name=watch.name, query=watch.query, webhook=watch.webhook_url,
                       channel=watch.channel_id, role=watch.role_id, feeds=watch.feed_names,
                       color=watch.color, collapse_after=watch.collapse_after)


async def test_watches_export_is_importable_toml(store: SqlStore) -> None:
    for watch in WATCHES:
        await store.add_watch(watch, NOW)
    await store.set_watch_paused(0, "china-trade", True, "channel gone")
    text = export_watches(await store.watches())
    assert "# paused: channel gone" in text
    assert "color = 0x3498DB" in text
    in_store_order = sorted(WATCHES, key=lambda watch: (watch.guild_id, watch.name))
    assert parse_watches(text) == [as_config(watch) for watch in in_store_order]


async def test_stories_and_delivery_settings_survive_export_and_import(
        store: SqlStore) -> None:
    digest = WatchConfig(name="digest", query="tariffs", stories="every-item",
                         deliver="daily 08:00", timezone="Europe/Berlin",
                         quiet="22:00-07:00", urgent="Bessent")
    await import_watches(store, [digest, WatchConfig(name="plain", query="Xi")], 7, NOW)
    text = export_watches(await store.watches(7))
    assert parse_watches(text) == [digest, WatchConfig(name="plain", query="Xi")]
    await import_watches(store, parse_watches(text), 8, NOW)
    copied = {watch.name: (watch.stories, watch.cadence) for watch in await store.watches(8)}
    assert copied == {"digest": ("every-item", digest.cadence),
                      "plain": ("group", WatchConfig(name="p", query="x").cadence)}


async def test_import_watches_keeps_existing_unless_replace(store: SqlStore) -> None:
    await store.sync_config(CONFIG, NOW)
    await store.add_watch(NewWatch(guild_id=0, name="mine", query="old"), NOW)
    incoming = [WatchConfig(name="mine", query="new"),
                WatchConfig(name="CONFIG-WATCH", query="new"),
                WatchConfig(name="fresh", query="Xi", feeds=("BBC World", "Nope"))]
    added, notes = await import_watches(store, incoming, 0, NOW)
    assert added == ["fresh"]
    assert notes == ["mine: skipped: exists (--replace)",
                     "CONFIG-WATCH: skipped: the config file defines it",
                     "fresh: no such feeds (yet): Nope"]
    added, _ = await import_watches(store, incoming, 0, NOW, replace=True)
    assert added == ["mine", "fresh"]
    queries = {watch.name: (watch.query, watch.source) for watch in await store.watches(0)}
    assert queries == {"config-watch": ("tariffs", "config"), "fresh": ("Xi", "command"),
                       "mine": ("new", "command")}


@pytest.mark.parametrize(("text", "message"), [
    ('[[watches]]\nname = "x"\nquery = "(unclosed"\n', r"watches\[0\]\.query"),
    ('[[watches]]\nname = "x"\nquery = "a"\n[[watches]]\nname = "X"\nquery = "b"\n',
     "duplicate name 'X'"),
    ('[[watches]]\nname = "x"\nquery = "a"\nchanel = 1\n', "unknown key"),
    ("[[watches]\n", "not valid TOML"),
])
def test_parse_watches_reports_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_watches(text, "w.toml")


def test_parse_watches_accepts_a_whole_config_file() -> None:
    config = Path(__file__).resolve().parents[2] / "config" / "wirewatch.example.toml"
    names = [watch.name for watch in parse_watches(config.read_text(encoding="utf-8"))]
    assert names == ["china-trade", "fed-watch"]


# ---------------------------------------------------------------- the commands


def settings_for(tmp_path: Path) -> Settings:
    return load_settings({"WIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'w.db'}",
                          "WIREWATCH_CONFIG": str(tmp_path / "wirewatch.toml")})


def run(settings: Settings, *argv: str) -> tuple[int | None, str]:
    parser = argparse.ArgumentParser(prog="wirewatch")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run")
    add_portability_commands(commands)
    out = io.StringIO()
    return run_portability(parser.parse_args(argv), settings, out), out.getvalue()


def test_feeds_and_watches_commands_round_trip(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    (tmp_path / "feeds.opml").write_bytes(OPML)
    watches = tmp_path / "watches.toml"
    watches.write_text(export_watches([]) + '[[watches]]\nname = "w"\nquery = "Xi"\n', "utf-8")
    assert run(settings, "feeds", "import", str(tmp_path / "feeds.opml"), "--guild", "5",
               "--interval", "10m") == (0, "imported 3 feeds into guild 5\n")
    assert run(settings, "watches", "import", str(watches))[0] == 0
    status, opml = run(settings, "feeds", "export", "--guild", "5")
    assert status == 0
    assert parse_opml(opml.encode()) == EXPECTED
    status, toml = run(settings, "watches", "export")
    assert parse_watches(toml) == [WatchConfig(name="w", query="Xi")]


def test_a_refused_file_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        ) -> None:
    settings = settings_for(tmp_path)
    (tmp_path / "evil.opml").write_bytes(LAUGHS)
    assert run(settings, "feeds", "import", str(tmp_path / "evil.opml"))[0] == 2
    assert "DOCTYPE" in capsys.readouterr().err
    assert run(settings, "feeds", "import", str(tmp_path / "missing.opml"))[0] == 2
    (tmp_path / "good.opml").write_bytes(OPML)
    assert run(settings, "feeds", "import", str(tmp_path / "good.opml"), "--interval", "soon",
               )[0] == 2
    assert parse_opml(run(settings, "feeds", "export")[1].encode()) == []


def test_other_commands_are_not_ours(tmp_path: Path) -> None:
    assert run(settings_for(tmp_path), "run") == (None, "")


def test_backup_is_consistent_while_another_connection_writes(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    (tmp_path / "feeds.opml").write_bytes(OPML)
    run(settings, "feeds", "import", str(tmp_path / "feeds.opml"))
    database = settings.sqlite_path
    assert database is not None
    stop, started = threading.Event(), threading.Event()

    def write_batches() -> None:
        # Another connection writing 100 rows per transaction, as the running bot would.
        with sqlite3.connect(database, timeout=10) as conn:
            conn.execute("CREATE TABLE load (n INTEGER)")
            while not stop.is_set():
                with conn:
                    conn.executemany("INSERT INTO load VALUES (?)", [(n,) for n in range(100)])
                started.set()

    writer = threading.Thread(target=write_batches)
    writer.start()
    try:
        assert started.wait(5)
        status, message = run(settings, "backup", str(tmp_path / "copy.db"))
    finally:
        stop.set()
        writer.join()
    assert status == 0, message
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT COUNT(*) FROM subscriptions").fetchone() == (3,)
        rows = copy.execute("SELECT COUNT(*) FROM load").fetchone()[0]
        assert rows > 0
        assert rows % 100 == 0  # whole transactions only
    finally:
        copy.close()


def test_backup_refuses_to_overwrite(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert run(settings, "backup", str(tmp_path / "copy.db"))[0] == 2  # no database yet
    run(settings, "feeds", "export")  # opens, so creates, the database
    target = tmp_path / "copy.db"
    target.write_bytes(b"precious")
    assert run(settings, "backup", str(target))[0] == 2
    assert target.read_bytes() == b"precious"
    assert run(settings, "backup", str(target), "--force")[0] == 0
    assert settings.sqlite_path is not None
    assert run(settings, "backup", str(settings.sqlite_path), "--force")[0] == 2


async def test_imports_into_a_server_stop_at_its_quotas(store: SqlStore) -> None:
    await store.subscribe(5, "https://a.example/rss", "A", 300.0, NOW)
    feeds = [OpmlFeed("A again", "https://a.example/rss"), OpmlFeed("B", "https://b.example/"),
             OpmlFeed("C", "https://c.example/")]
    added, skipped = await import_feeds(store, feeds, 5, 300.0, NOW, limit=2)
    assert added == ["B"]
    assert skipped[0].startswith("A again: already subscribed")
    assert skipped[1] == ("C: skipped: This server has 2 feeds; the limit is 2 "
                          "(`max_feeds_per_guild` in the bot's config). Remove one with "
                          "`/feed remove` first, or ask the bot's operator.")
    await store.add_watch(NewWatch(guild_id=5, name="mine", query="old"), NOW)
    incoming = [WatchConfig(name="mine", query="new"), WatchConfig(name="two", query="b"),
                WatchConfig(name="three", query="c")]
    added, notes = await import_watches(store, incoming, 5, NOW, replace=True, limit=2)
    assert added == ["mine", "two"]  # replacing one does not count against the quota
    assert notes == ["three: skipped: This server has 2 watches; the limit is 2 "
                     "(`max_watches_per_guild` in the bot's config). Remove one with "
                     "`/watch remove` first, or ask the bot's operator."]


def test_the_import_command_reads_the_quotas_from_the_config_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path)
    settings.config_path.write_text("[bot]\nmax_feeds_per_guild = 1\n", "utf-8")
    (tmp_path / "feeds.opml").write_bytes(OPML)
    assert run(settings, "feeds", "import", str(tmp_path / "feeds.opml"), "--guild", "5") == (
        0, "imported 1 feeds into guild 5\n")
    assert capsys.readouterr().err.count("max_feeds_per_guild") == 2
    # The config file's own scope (no --guild) is the operator's: no quota.
    assert run(settings, "feeds", "import", str(tmp_path / "feeds.opml"))[1] == (
        "imported 3 feeds into guild 0\n")
