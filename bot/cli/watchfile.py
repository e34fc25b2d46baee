"""Watch lists as TOML in the config file's ``[[watches]]`` format: parse, export, import."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.config.cadence import SEND_NOW
from bot.config.file import WatchConfig, describe_validation_error
from bot.core.errors import ConfigError
from bot.core.quotas import quota_error
from bot.store.base import Store
from bot.store.rows import CONFIG_GUILD, NewWatch, WatchRow


class _WatchFile(BaseModel):
    # Other tables ([bot], [[feeds]]) are ignored, so a whole config file can be imported.
    model_config = ConfigDict(extra="ignore")
    watches: tuple[WatchConfig, ...] = ()


def parse_watches(text: str, source: str = "TOML") -> list[WatchConfig]:
    """The ``[[watches]]`` tables of a TOML document, validated like the config file."""
    try:
        parsed = _WatchFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None
    seen: set[str] = set()
    for index, watch in enumerate(parsed.watches):
        if watch.name.casefold() in seen:
            raise ConfigError(f"{source}: watches[{index}].name: duplicate name {watch.name!r}")
        seen.add(watch.name.casefold())
    return list(parsed.watches)


def toml_string(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML; DEL must be escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def export_watches(watches: Sequence[WatchRow]) -> str:
    """Watches as ``[[watches]]`` tables that ``watches import`` and the config file accept."""
    lines = ["# Wirewatch watches. Webhook URLs contain their secret token: keep this file safe."]
    guild: int | None = None
    for watch in watches:
        if watch.guild_id != guild:
            guild = watch.guild_id
            scope = "the config file's scope" if guild == CONFIG_GUILD else f"guild {guild}"
            lines += ["", f"# ---- {scope}"]
        lines += ["", "[[watches]]", f"name = {toml_string(watch.name)}",
                  f"query = {toml_string(watch.query)}"]
        if watch.webhook_url:
            lines.append(f"webhook = {toml_string(watch.webhook_url)}")
        for key, number in (("channel", watch.channel_id), ("role", watch.role_id),
                            ("collapse_after", watch.collapse_after)):
            if number is not None:
                lines.append(f"{key} = {number}")
        if watch.feed_names is not None:
            lines.append(f"feeds = [{', '.join(toml_string(n) for n in watch.feed_names)}]")
        if watch.color is not None:
            lines.append(f"color = 0x{watch.color:06X}")
        lines += _delivery_lines(watch)
        if watch.paused:
            lines.append(f"# paused: {watch.paused_reason or 'by a command'}")
    return "\n".join(lines) + "\n"


def _delivery_lines(watch: WatchRow) -> list[str]:
    """The stories and cadence keys that differ from the defaults (issues 14 and 15)."""
    lines = [f"stories = {toml_string(watch.stories)}"] if watch.stories != "group" else []
    if watch.follow_ups != "edit":  # issue 22
        lines.append(f"follow_ups = {toml_string(watch.follow_ups)}")
    cadence = watch.cadence
    if cadence.deliver != SEND_NOW.deliver:
        lines.append(f"deliver = {toml_string(cadence.deliver)}")
    if cadence.timezone != SEND_NOW.timezone:
        lines.append(f"timezone = {toml_string(cadence.timezone)}")
    for key, value in (("quiet", cadence.quiet), ("urgent", cadence.urgent)):
        if value is not None:
            lines.append(f"{key} = {toml_string(value)}")
    return lines


async def import_watches(store: Store, watches: Sequence[WatchConfig], guild_id: int,
                         now: float, *, replace: bool = False,
                         limit: int | None = None) -> tuple[list[str], list[str]]:
    """Add each watch to ``guild_id``; returns (added names, notes: skipped or warnings).

    An existing name is kept unless ``replace``; a config-file watch is never replaced (the
    next start would put the config file's version back). A new name past ``limit`` watches
    in the guild (the quota) is skipped with the quota's message.
    """
    existing = {watch.name.casefold(): watch for watch in await store.watches(guild_id)}
    feed_names = {sub.name for sub in await store.subscriptions(guild_id)}
    added: list[str] = []
    notes: list[str] = []
    count = len(existing)
    for watch in watches:
        old = existing.get(watch.name.casefold())
        if old is not None and (old.source == "config" or not replace):
            why = "the config file defines it" if old.source == "config" else "exists (--replace)"
            notes.append(f"{watch.name}: skipped: {why}")
            continue
        refused = quota_error("watch", count, limit) if limit is not None and old is None \
            else None
        if refused is not None:
            notes.append(f"{watch.name}: skipped: {refused}")
            continue
        count += old is None
        unknown = sorted(set(watch.feeds or ()) - feed_names)
        if unknown:
            notes.append(f"{watch.name}: no such feeds (yet): {', '.join(unknown)}")
        await store.add_watch(NewWatch(
            guild_id=guild_id, name=watch.name, query=watch.query, channel_id=watch.channel,
            webhook_url=watch.webhook, role_id=watch.role, feed_names=watch.feeds,
            color=watch.color, collapse_after=watch.collapse_after, stories=watch.stories,
            cadence=watch.cadence, follow_ups=watch.follow_ups), now)
        added.append(watch.name)
    return added, notes
