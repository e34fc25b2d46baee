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
import sys
from pathlib import Path
from typing import TextIO

from bot.cli.opml import OpmlFeed, export_opml, import_feeds, parse_opml
from bot.cli.watchfile import export_watches, import_watches, parse_watches, toml_string
from bot.config.file import BotConfig, load_config
from bot.core.durations import AUTO_INTERVAL_S, parse_feed_interval
from bot.core.errors import ConfigError, StoreError
from bot.core.settings import Settings
from bot.service.app import open_store
from bot.service.runtime import wall_clock
from bot.store import SqlStore
from bot.store.rows import CONFIG_GUILD

MAX_FILE_BYTES = 10 * 1024 * 1024

__all__ = ["OpmlFeed", "add_portability_commands", "export_opml", "export_watches",
           "import_feeds", "import_watches", "parse_opml", "parse_watches", "run_portability",
           "toml_string"]


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
            importer.add_argument("--interval", default="1m",
                                  help='poll interval, or "auto" (default 1m)')
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
    limits = _quotas(settings, args.guild)
    store = await open_store(settings)
    try:
        if args.command == "feeds":
            added, notes = await import_feeds(store, feeds, args.guild, interval, wall_clock(),
                                              limit=limits.max_feeds_per_guild if limits else None)
        else:
            added, notes = await import_watches(
                store, watches, args.guild, wall_clock(), replace=args.replace,
                limit=limits.max_watches_per_guild if limits else None)
    finally:
        await store.close()
    for note in notes:
        print(f"  {note}", file=sys.stderr)
    print(f"imported {len(added)} {args.command} into guild {args.guild}", file=out)
    return 0


def _quotas(settings: Settings, guild_id: int) -> BotConfig | None:
    """The per-guild quotas an import into a server obeys; none for the config file's scope."""
    if guild_id == CONFIG_GUILD:
        return None
    if not settings.config_path.exists():
        return BotConfig()  # the defaults, as the bot would apply them
    return load_config(settings.config_path).bot


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
        seconds = parse_feed_interval(text)
    except ValueError as exc:
        raise ConfigError(f"--interval: {exc}") from None
    if seconds == AUTO_INTERVAL_S:
        return seconds
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
        if not isinstance(store, SqlStore) or store.dialect != "sqlite":
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
