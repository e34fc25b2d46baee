"""The TOML config file: feeds and watches, validated once at start-up.

Errors name the file, the key path (``watches[0].query``) and the problem, and become
``ConfigError`` so the CLI can exit with status 2.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config.cadence import Cadence, CadenceError, make_cadence
from bot.core.durations import AUTO, AUTO_INTERVAL_S, parse_duration
from bot.core.errors import ConfigError, QueryError
from bot.query.ast import abouts
from bot.query.parser import parse as parse_query
from bot.query.semantic import EXTRA_MESSAGE, semantic_available

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 1.0
WARN_INTERVAL_S = 60.0
# Users must know within a minute; conditional GET keeps a 1-minute poll cheap for publishers.
DEFAULT_INTERVAL_S = 60.0
# Discord's shape (id and token), but lenient on lengths: only the API base is ever contacted.
WEBHOOK_URL = re.compile(
    r"^https://(?:(?:canary|ptb)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/(\d{1,21})/"
    r"([\w.-]{1,200})/?$"
)


def _duration(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = parse_duration(value)
    else:
        raise ValueError('write a duration such as "30s", "5m" or "1h"')
    if seconds < MIN_INTERVAL_S:
        raise ValueError(f"interval must be at least 1s (got {value!r})")
    return seconds


Duration = Annotated[float, BeforeValidator(_duration)]


def _feed_interval(value: Any) -> float:
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO_INTERVAL_S
    return _duration(value)


# A duration, or "auto": from how often the feed publishes, within [bot] min/max_interval.
FeedInterval = Annotated[float, BeforeValidator(_feed_interval)]


def _snowflake(value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 15 <= len(text) <= 21:
        raise ValueError(f"expected a Discord id (15–21 digits), got {value!r}")
    return int(text)


Snowflake = Annotated[int, BeforeValidator(_snowflake)]


def _role(value: Any) -> str:
    text = " ".join(str(value).split())
    if not 1 <= len(text) <= 100 or isinstance(value, bool):
        raise ValueError(f"expected a role id or a role name, got {value!r}")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class FeedConfig(_Strict):
    """One ``[[feeds]]`` table."""

    name: str = Field(min_length=1, max_length=100)
    url: str
    interval: FeedInterval = DEFAULT_INTERVAL_S
    # Fetch the article page of new items to match its text: "auto" when the item's own
    # text is a teaser (under ~1,000 characters), "always", or "never" (issue 13).
    full_text: Literal["auto", "always", "never"] = "auto"

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+[^\s]*$", url, re.IGNORECASE):
            raise ValueError(f"feed url must be an http:// or https:// URL, got {url!r}")
        return url


class WatchConfig(_Strict):
    """One ``[[watches]]`` table. Neither ``webhook`` nor ``channel``: alerts go to the console."""

    name: str = Field(min_length=1, max_length=100)
    query: str = Field(min_length=1, max_length=2000)
    webhook: str | None = None
    channel: Snowflake | None = None
    role: Snowflake | None = None
    feeds: tuple[str, ...] | None = None
    color: int | None = Field(default=None, ge=0, le=0xFFFFFF)
    collapse_after: int | None = Field(default=None, ge=1, le=100)
    # "group": later items of an alerted story edit its message; "every-item": one each.
    stories: Literal["group", "every-item"] = "group"
    # What a story's later sources do (issue 22): "edit" its message ("Also reported by"),
    # "thread": also post each into a thread on that message (a forum: into its post), "off".
    follow_ups: Literal["edit", "thread", "off"] = "edit"
    # When matches go out (bot.config.cadence): digests, quiet hours, urgent exceptions.
    deliver: str = "instant"
    timezone: str = "UTC"
    quiet: str | None = None
    urgent: str | None = Field(default=None, min_length=1, max_length=2000)

    @field_validator("deliver", "timezone", "quiet", "urgent")
    @classmethod
    def _valid_cadence(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        try:
            cadence = make_cadence(**{info.field_name or "": value})
        except CadenceError as exc:
            raise ValueError(exc.reason) from None
        return str(getattr(cadence, info.field_name or ""))

    @property
    def cadence(self) -> Cadence:
        """The validated delivery settings."""
        return make_cadence(self.deliver, self.timezone, self.quiet, self.urgent)

    @field_validator("webhook")
    @classmethod
    def _webhook_url(cls, url: str | None) -> str | None:
        if url is not None and not WEBHOOK_URL.match(url):
            raise ValueError(
                "webhook must look like https://discord.com/api/webhooks/<id>/<token>"
            )
        return url

    @field_validator("query")
    @classmethod
    def _valid_query(cls, query: str) -> str:
        try:
            node = parse_query(query)
        except QueryError as exc:
            raise ValueError(f"invalid query: {exc}") from None
        if abouts(node) and not semantic_available():
            raise ValueError(EXTRA_MESSAGE)
        return query

    @model_validator(mode="after")
    def _one_target(self) -> WatchConfig:
        if self.webhook and self.channel:
            raise ValueError("set either webhook or channel, not both")
        return self


class BotConfig(_Strict):
    """The optional ``[bot]`` table."""

    guilds: tuple[Snowflake, ...] = ()
    poll_concurrency: int = Field(default=32, ge=1, le=512)
    # Accepted for old config files only: the first poll of a feed is always silent (adding a
    # feed must not flood a channel with its backlog), so `false` is refused, `true` ignored.
    first_poll_silent: bool | None = None
    # Per-guild quotas: no server can make the bot poll, store or match without bound.
    max_feeds_per_guild: int = Field(default=100, ge=0, le=100_000)
    max_watches_per_guild: int = Field(default=50, ge=0, le=100_000)
    # Guilds whose /feed add may reach WIREWATCH_ALLOW_PRIVATE_NETWORKS (config feeds always
    # may): any other guild's admin could use the bot to probe the operator's network.
    private_network_guilds: tuple[Snowflake, ...] = ()
    # The shortest interval `/feed add` accepts. Chat users are not operators: a low floor
    # protects publishers from hammering. Tests against a local feed server lower it.
    min_feed_interval: Duration = WARN_INTERVAL_S
    # Gateway shards; each is held by one process of a cluster (see README, Scale out).
    shards: int = Field(default=1, ge=1, le=1024)
    # Items are grouped into stories with the items seen in this window (issue 14).
    story_window: Duration = Field(default=24 * 3600.0, ge=60.0, le=7 * 24 * 3600.0)
    # The range of a feed's interval "auto" (issue 24): never polled more often than
    # min_interval, nor less often than max_interval (a WebSub feed's safety-net poll too).
    min_interval: Duration = 30.0
    max_interval: Duration = Field(default=3600.0, le=7 * 24 * 3600.0)
    # Where hubs reach this bot's HTTP endpoint (WIREWATCH_HTTP_ADDR, behind your proxy), e.g.
    # "https://wirewatch.example.org": feeds that advertise a WebSub hub are then subscribed.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # Members with this role (its id, or its name) may use an alert's Mute and Pause
    # controls without Manage Server (issue 22).
    manager_role: Annotated[str, BeforeValidator(_role)] | None = None

    @model_validator(mode="after")
    def _interval_range(self) -> BotConfig:
        if self.min_interval > self.max_interval:
            raise ValueError(f"min_interval ({self.min_interval:g}s) is above max_interval "
                             f"({self.max_interval:g}s)")
        return self


    @field_validator("first_poll_silent")
    @classmethod
    def _first_poll_is_always_silent(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("false is not supported: the first poll of a feed is always "
                             "silent (its current items are recorded, not alerted); remove "
                             "the key")
        if value is True:
            log.warning("[bot] first_poll_silent is obsolete (the first poll is always "
                        "silent); remove it from the config file")
        return value


class Config(_Strict):
    """The whole config file."""

    bot: BotConfig = BotConfig()
    feeds: tuple[FeedConfig, ...] = ()
    watches: tuple[WatchConfig, ...] = ()

    @model_validator(mode="after")
    def _names_unique_and_known(self) -> Config:
        _require_unique("feeds", [feed.name for feed in self.feeds])
        _require_unique("watches", [watch.name for watch in self.watches])
        feed_names = {feed.name for feed in self.feeds}
        for index, watch in enumerate(self.watches):
            for name in watch.feeds or ():
                if name not in feed_names:
                    raise ValueError(f"watches[{index}].feeds names unknown feed {name!r}")
        return self


def _require_unique(table: str, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name.casefold() in seen:
            raise ValueError(f"{table}[{index}].name: duplicate name {name!r}")
        seen.add(name.casefold())


def load_config(path: Path) -> Config:
    """Read and validate the config file; raise ConfigError naming file, key and problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (set WIREWATCH_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: " + describe_validation_error(exc)) from None
    for feed in config.feeds:
        if AUTO_INTERVAL_S < feed.interval < WARN_INTERVAL_S:
            log.warning("feed %r polls every %.0fs; most publishers ask for 60s or more",
                        feed.name, feed.interval)
    return config


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``key.path: message``."""
    lines = []
    for error in exc.errors():
        key = _key_path(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message}" if key else message)
    return "; ".join(lines)


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path
