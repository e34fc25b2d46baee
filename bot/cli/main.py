"""The ``wirewatch`` command line: run, once, check-config, match, stories, why."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot import __version__
from bot.cli.stories import add_stories_arguments, run_stories
from bot.config.file import Config, load_config
from bot.core.errors import ConfigError, StoreError
from bot.core.settings import Settings, load_settings
from bot.service.logs import setup_logging
from bot.service.roles import ROLE_CHOICES, parse_roles

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    # Imported here: they load the store and the app, which `wirewatch stories` never needs.
    from bot.cli.match import add_match_arguments
    from bot.cli.portability import add_portability_commands
    from bot.cli.why import add_why_arguments

    parser = argparse.ArgumentParser(
        prog="wirewatch", description="Watch news feeds and post keyword alerts into Discord.")
    parser.add_argument("--version", action="version", version=f"wirewatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="poll feeds and deliver alerts until stopped (default)")
    run.add_argument("--role", default="all", metavar="|".join(ROLE_CHOICES),
                     help="what this process does: all (default), or poll, send, gateway "
                          "(comma-separated for several); replicas share the database")
    commands.add_parser("once", help="poll every feed once, deliver, and exit")
    commands.add_parser("check-config", help="validate settings and the config file, then exit")
    match = commands.add_parser("match", help="test a watch query against text or JSONL items")
    add_match_arguments(match)
    stories = commands.add_parser("stories", help="group JSONL items into stories")
    add_stories_arguments(stories)
    add_portability_commands(commands)
    why = commands.add_parser("why", help="what became of an article (every guild)")
    add_why_arguments(why)
    return parser


def load_all() -> tuple[Settings, Config]:
    """Settings from the environment, then the config file; ConfigError on any problem."""
    settings = load_settings()
    return settings, load_config(settings.config_path)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wirewatch`` console script; returns the exit status."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["stories"]:
        # Batch grouping must start fast: it needs none of the bot (Discord, store, app).
        from bot.cli.stories import main as stories_main

        return stories_main(raw[1:])
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    if command == "match":
        from bot.cli.match import run_match

        return run_match(args)
    if command == "stories":
        return run_stories(args)
    try:
        settings = load_settings()
        setup_logging(settings.log_level, settings.log_format,
                      secrets=(settings.discord_token,) if settings.discord_token else ())
        from bot.cli.portability import run_portability

        portability = run_portability(args, settings)
        if portability is not None:
            return portability
        if command == "why":
            from bot.cli.why import run_why

            return run_why(args, settings)
        config = load_config(settings.config_path)
        roles = parse_roles(getattr(args, "role", None) or "all")
    except ConfigError as exc:
        print(f"wirewatch: configuration error: {exc}", file=sys.stderr)
        return 2
    if command == "check-config":
        print(f"{settings.config_path}: OK ({len(config.feeds)} feeds, "
              f"{len(config.watches)} watches)")
        return 0
    # Imported here: `wirewatch stories` and `match` never need the app.
    from bot.service.app import run_once
    from bot.service.runner import run_forever

    try:
        if command == "once":
            return asyncio.run(run_once(settings, config))
        return asyncio.run(run_forever(settings, config, roles))
    except (ConfigError, StoreError) as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
