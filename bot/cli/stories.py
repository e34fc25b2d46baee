"""``wirewatch stories``: group items into stories, the way the bot does.

    wirewatch stories --jsonl ITEMS [--window HOURS]

ITEMS holds one JSON object per line, in arrival order, with ``title`` and optionally
``summary``, ``link``, ``feed`` and ``published`` (ISO 8601 or Unix seconds); ``-`` reads
standard input. For each item one line ``{"story": "<id>"}`` is written; items of one story
share the id. A bad line exits with status 2 and a message naming the line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from bot.stories import DEFAULT_WINDOW, StoryGrouper, StoryItem

__all__ = ["add_stories_arguments", "item_from_json", "main", "run_stories"]


class BadLine(Exception):
    """An input line that is not a usable item; the message names the problem."""


def add_stories_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``stories`` subcommand's arguments to ``parser``."""
    parser.add_argument("--jsonl", metavar="ITEMS", required=True,
                        help="one JSON object per line, in arrival order; '-' is stdin")
    parser.add_argument("--window", metavar="HOURS", type=float,
                        default=DEFAULT_WINDOW / 3600, help="story window (default 24)")


def _published(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadLine("'published' must be ISO 8601 text or Unix seconds")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise BadLine("'published' must be ISO 8601 text or Unix seconds")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadLine(f"'published' is not ISO 8601 or Unix seconds: {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _text(row: Mapping[str, Any], name: str, required: bool = False) -> str:
    value = row.get(name)
    if value is None:
        if required:
            raise BadLine(f"missing '{name}'")
        return ""
    if not isinstance(value, str):
        raise BadLine(f"'{name}' must be a string")
    return value


def item_from_json(row: Any, number: int, last_at: float = 0.0) -> StoryItem:
    """The item of one decoded JSON line; ``number`` also makes its key. BadLine if invalid."""
    if not isinstance(row, dict):
        raise BadLine("expected a JSON object")
    at = _published(row.get("published"))
    return StoryItem(
        key=f"s{number}", title=_text(row, "title", required=True),
        summary=_text(row, "summary"), link=_text(row, "link"), feed=_text(row, "feed"),
        at=last_at if at is None else at)


def _lines(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    with open(path, encoding="utf-8", errors="replace") as handle:
        yield from handle


def _read(path: str) -> list[StoryItem]:
    """Every item of the file, validated before any is grouped (blank lines are skipped)."""
    items = []
    last_at = 0.0
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadLine(f"line {number}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        try:
            item = item_from_json(row, number, last_at)
        except BadLine as exc:
            raise BadLine(f"line {number}: {exc}") from None
        last_at = max(last_at, item.at)
        items.append(item)
    return items


def _group(items: list[StoryItem], window: float, out: IO[str]) -> None:
    grouper = StoryGrouper(window=window)
    for item in items:
        out.write(json.dumps({"story": grouper.assign(item).story}) + "\n")


def run_stories(args: argparse.Namespace) -> int:
    """Run ``wirewatch stories``; write one line per item to stdout; return the exit status."""
    if args.window <= 0:
        print("wirewatch stories: --window must be positive", file=sys.stderr)
        return 2
    try:
        items = _read(args.jsonl)
    except BadLine as exc:
        print(f"wirewatch stories: {args.jsonl} {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"wirewatch stories: cannot read {args.jsonl}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    _group(items, args.window * 3600, sys.stdout)
    return 0


def main(argv: list[str]) -> int:
    """``wirewatch stories ARGS`` without loading the bot (no Discord, no database)."""
    parser = argparse.ArgumentParser(prog="wirewatch stories",
                                     description="Group JSONL items into stories.")
    add_stories_arguments(parser)
    return run_stories(parser.parse_args(argv))
