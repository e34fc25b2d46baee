"""Getting feeds and watches in and out: OPML feed lists, TOML watch lists, database backups.

    wirewatch feeds import FILE.opml [--guild ID] [--interval 5m]
    wirewatch feeds export [--guild ID]            OPML 2.0 on stdout
    wirewatch watches import FILE.toml [--guild ID] [--replace]
    wirewatch watches export [--guild ID]          the config file's [[watches]] format on stdout
    wirewatch backup PATH [--force]                a consistent SQLite copy, safe while running

The config file is read-only to the bot, so imports go into the database as command-made
subscriptions and watches (guild 0, the config file's scope, unless ``--guild`` says otherwise);
they survive restarts and config reloads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import TextIO
from xml.parsers import expat

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.app import open_store, wall_clock
from bot.config import FeedConfig, WatchConfig, describe_validation_error
from bot.durations import parse_duration
from bot.errors import ConfigError, StoreError
from bot.settings import Settings
from bot.store.base import Store
from bot.store.rows import CONFIG_GUILD, NewWatch, Subscription, WatchRow
from bot.store.sqlite import SqliteStore

MAX_FILE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One outline with an ``xmlUrl``."""

    name: str
    url: str


# ---------------------------------------------------------------- OPML


def parse_opml(data: bytes, source: str = "OPML") -> list[OpmlFeed]:
    """The feeds (outlines with ``xmlUrl``, at any depth) of an OPML document.

    ElementTree expands entities, so a "billion laughs" document would eat the memory: any
    document with a DTD is refused before ElementTree sees it.
    """
    _refuse_dtd(data, source)
    try:
        root = ET.fromstring(data)  # noqa: S314 - DTDs refused above; no entity can expand
    except ET.ParseError as exc:
        raise ConfigError(f"{source}: not well-formed XML: {exc}") from None
    if root.tag != "opml":
        raise ConfigError(f"{source}: not OPML (the root element is <{root.tag}>)")
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            name = " ".join((outline.get("title") or outline.get("text") or "").split())
            feeds.append(OpmlFeed(name or url, url))
    return feeds


def _refuse_dtd(data: bytes, source: str) -> None:
    refusal = f"{source}: refusing a document with a DOCTYPE or ENTITY declaration"
    upper = data.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise ConfigError(refusal)

    # The byte check misses other encodings (UTF-16...): expat, which decodes exactly as
    # ElementTree will, reports the DOCTYPE before it reads any entity, and stops there.
    def refuse(*_args: object) -> None:
        raise ConfigError(refusal)

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ConfigError(f"{source}: not well-formed XML: {exc}") from None


def export_opml(subscriptions: Sequence[Subscription], title: str = "Wirewatch feeds") -> str:
    """An OPML 2.0 document with one outline per feed URL (first name wins)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = formatdate(wall_clock(), usegmt=True)
    body = ET.SubElement(root, "body")
    seen: set[str] = set()
    for sub in subscriptions:
        if sub.feed.url in seen:
            continue
        seen.add(sub.feed.url)
        ET.SubElement(body, "outline", type="rss", text=sub.name, title=sub.name,
                      xmlUrl=sub.feed.url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


async def import_feeds(store: Store, feeds: Sequence[OpmlFeed], guild_id: int,
                       interval_s: float, now: float) -> tuple[list[str], list[str]]:
    """Subscribe ``guild_id`` to each feed; returns (added names, skipped with reasons).

    A URL the guild already has is skipped; a name already taken gets " (2)", " (3)"...,
    so an import never re-points or takes over an existing subscription.
    """
    existing = await store.subscriptions(guild_id)
    urls = {sub.feed.url for sub in existing}
    names = {sub.name.casefold() for sub in existing}
    added: list[str] = []
    skipped: list[str] = []
    for feed in feeds:
        if feed.url in urls:
            skipped.append(f"{feed.name}: already subscribed ({feed.url})")
            continue
        name = _free_name(feed.name[:90], names)
        try:
            FeedConfig(name=name, url=feed.url, interval=interval_s)
        except ValidationError as exc:
            skipped.append(f"{feed.name}: {describe_validation_error(exc)}")
            continue
        await store.subscribe(guild_id, feed.url, name, interval_s, now)
        urls.add(feed.url)
        names.add(name.casefold())
        added.append(name)
    return added, skipped


def _free_name(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{name} ({number})"
    return candidate


# ---------------------------------------------------------------- watches as TOML


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
        if watch.paused:
            lines.append(f"# paused: {watch.paused_reason or 'by a command'}")
    return "\n".join(lines) + "\n"


async def import_watches(store: Store, watches: Sequence[WatchConfig], guild_id: int,
                         now: float, *, replace: bool = False) -> tuple[list[str], list[str]]:
    """Add each watch to ``guild_id``; returns (added names, notes: skipped or warnings).

    An existing name is kept unless ``replace``; a config-file watch is never replaced (the
    next start would put the config file's version back).
    """
    existing = {watch.name.casefold(): watch for watch in await store.watches(guild_id)}
    feed_names = {sub.name for sub in await store.subscriptions(guild_id)}
    added: list[str] = []
    notes: list[str] = []
    for watch in watches:
        old = existing.get(watch.name.casefold())
        if old is not None and (old.source == "config" or not replace):
            why = "the config file defines it" if old.source == "config" else "exists (--replace)"
            notes.append(f"{watch.name}: skipped: {why}")
            continue
        unknown = sorted(set(watch.feeds or ()) - feed_names)
        if unknown:
            notes.append(f"{watch.name}: no such feeds (yet): {', '.join(unknown)}")
        await store.add_watch(NewWatch(
            guild_id=guild_id, name=watch.name, query=watch.query, channel_id=watch.channel,
            webhook_url=watch.webhook, role_id=watch.role, feed_names=watch.feeds,
            color=watch.color, collapse_after=watch.collapse_after), now)
        added.append(watch.name)
    return added, notes


# ---------------------------------------------------------------- the command line


def add_portability_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                             ) -> None:
    """Add ``feeds``, ``watches`` and ``backup`` to the ``wirewatch`` subcommands."""
    for noun, kind in (("feeds", "OPML"), ("watches", "TOML [[watches]]")):
        parser = commands.add_parser(noun, help=f"import or export {noun} as {kind}")
        actions = parser.add_subparsers(dest=f"{noun}_command", metavar="ACTION", required=True)
        importer = actions.add_parser("import", help=f"add the {noun} of FILE ({kind})")
        importer.add_argument("file", metavar="FILE", help=f"{kind} file, or - for stdin")
        importer.add_argument("--guild", type=int, default=CONFIG_GUILD, metavar="ID",
                              help="into this guild (default: 0, the config file's scope)")
        exporter = actions.add_parser("export", help=f"print the {noun} as {kind}")
        exporter.add_argument("--guild", type=int, metavar="ID", help="one guild (default: all)")
        if noun == "feeds":
            importer.add_argument("--interval", default="5m", help="poll interval (default 5m)")
        else:
            importer.add_argument("--replace", action="store_true",
                                  help="replace existing watches of the same name")
    backup = commands.add_parser("backup", help="write a consistent copy of the SQLite database")
    backup.add_argument("path", metavar="PATH", type=Path)
    backup.add_argument("--force", action="store_true", help="overwrite PATH if it exists")


def run_portability(args: argparse.Namespace, settings: Settings,
                    out: TextIO | None = None) -> int | None:
    """Run a portability command and return its exit status; None if ``args`` is another one."""
    command = getattr(args, "command", None)
    if command not in ("feeds", "watches", "backup"):
        return None
    output = out or sys.stdout
    try:
        if command == "backup":
            return asyncio.run(_backup(settings, args.path, args.force, output))
        if getattr(args, f"{command}_command") == "export":
            return asyncio.run(_export(settings, command, args.guild, output))
        return asyncio.run(_import(settings, args, output))
    except (ConfigError, StoreError, OSError) as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)
        return 2


async def _export(settings: Settings, noun: str, guild_id: int | None, out: TextIO) -> int:
    store = await open_store(settings)
    try:
        if noun == "feeds":
            text = export_opml(await store.subscriptions(guild_id))
        else:
            text = export_watches(await store.watches(guild_id))
    finally:
        await store.close()
    out.write(text)
    return 0


async def _import(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    # Parse and validate the whole file before opening the database: a bad file changes nothing.
    data = _read_input(args.file)
    if args.command == "feeds":
        feeds, interval = parse_opml(data, args.file), _interval(args.interval)
    else:
        try:
            text = data.decode("utf-8")  # TOML is UTF-8 by definition
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{args.file}: not UTF-8: {exc}") from None
        watches = parse_watches(text, args.file)
    store = await open_store(settings)
    try:
        if args.command == "feeds":
            added, notes = await import_feeds(store, feeds, args.guild, interval, wall_clock())
        else:
            added, notes = await import_watches(store, watches, args.guild, wall_clock(),
                                                replace=args.replace)
    finally:
        await store.close()
    for note in notes:
        print(f"  {note}", file=sys.stderr)
    print(f"imported {len(added)} {args.command} into guild {args.guild}", file=out)
    return 0


def _read_input(name: str) -> bytes:
    if name == "-":
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    else:
        with Path(name).open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{name}: larger than {MAX_FILE_BYTES >> 20} MB")
    return data


def _interval(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"--interval: {exc}") from None
    if seconds < 1.0:
        raise ConfigError(f"--interval: must be at least 1s, got {text!r}")
    return seconds


async def _backup(settings: Settings, target: Path, force: bool, out: TextIO) -> int:
    source = settings.sqlite_path
    if source is None:
        raise ConfigError("backup: only a sqlite:/// database can be backed up this way")
    if not source.exists():
        raise ConfigError(f"backup: no database at {source} (WIREWATCH_DATABASE_URL)")
    if target.exists() and target.resolve() == source.resolve():
        raise ConfigError(f"backup: {target} is the database itself")
    if target.exists() and not force:
        raise ConfigError(f"backup: {target} exists (--force overwrites it)")
    store = await open_store(settings)
    try:
        if not isinstance(store, SqliteStore):
            raise ConfigError("backup: this database cannot be backed up by wirewatch")
        # SQLite's online backup API: a consistent snapshot even while the bot writes. Into a
        # fresh file renamed at the end, so PATH is never a half-written or mixed database.
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        await store.backup_to(partial)
        partial.replace(target)
    finally:
        await store.close()
    print(f"backed up {source} to {target}", file=out)
    return 0
