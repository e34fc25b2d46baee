"""``wirewatch why URL [--json]``: the operator's view of an article's fate, across guilds.

The same answer as ``/why`` (``bot.core.fate.decide`` over ``store.why``), but for every
guild at once: every feed that saw the article and every watch that judged it. ``--json``
prints one object: ``fate``, ``feeds``, ``watches`` (``{"watch", "matched", "reason"}``),
``message`` (a link, or null) and ``text`` (the lines ``/why`` shows); when several articles
fit headline words, ``fate`` is null and ``candidates`` lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.core.errors import StoreError
from bot.core.fate import decide
from bot.core.settings import Settings
from bot.service.app import open_store
from bot.store.why import Lookup


def add_why_arguments(parser: argparse.ArgumentParser) -> None:
    """``why ARTICLE [--json]``."""
    parser.add_argument("article", help="the article's link (or words of its headline)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def answer_json(lookup: Lookup) -> dict[str, Any]:
    """The ``--json`` object."""
    if lookup.evidence is None:
        return {"fate": None, "feeds": [], "watches": [], "message": None, "text": [],
                "candidates": [{"title": c.title, "feed": c.feed, "link": c.link,
                                "first_seen": c.first_seen} for c in lookup.candidates]}
    answer = decide(lookup.evidence)
    return {"fate": answer.fate, "feeds": list(answer.feeds),
            "watches": [{"watch": w.watch, "matched": w.matched, "reason": w.reason}
                        for w in answer.watches],
            "message": answer.message, "text": list(answer.lines)}


def answer_text(lookup: Lookup) -> list[str]:
    """The plain-text answer, one line each."""
    if lookup.evidence is None:
        return [f"{len(lookup.candidates)} articles fit; ask again with one of their links:",
                *(f"  {c.title} — {c.feed} — {c.link}" for c in lookup.candidates)]
    answer = decide(lookup.evidence)
    return [answer.fate, *(f"  {line}" for line in answer.lines)]


async def _lookup(settings: Settings, article: str) -> Lookup:
    store = await open_store(settings)
    try:
        return await store.why(None, article)
    finally:
        await store.close()


def run_why(args: argparse.Namespace, settings: Settings) -> int:
    """Print the answer; 0 when one article was found or ruled out, 1 when several fit,
    2 when the database cannot be read."""
    try:
        lookup = asyncio.run(_lookup(settings, args.article))
    except StoreError as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer_json(lookup), ensure_ascii=False))
    else:
        print("\n".join(answer_text(lookup)))
    return 0 if lookup.evidence is not None else 1
