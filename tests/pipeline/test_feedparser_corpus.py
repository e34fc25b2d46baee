"""feedparser's own test corpus (~2,200 feeds of edge cases) through our parse and render path.

Every file must either parse, or be refused with ``ParseError`` for a reason we own (it
declares an entity, or feedparser itself finds no feed in it); nothing else may escape. Every
entry must render to an alert message within Discord's limits, and no file may take long.
The corpus comes from ``make corpus``; without it these tests skip and say so.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import feedparser
import pytest

from bot.core.errors import ParseError
from bot.pipeline.parse import parse_feed
from tests.fakes.corpus import (
    declared_headers,
    feed_files,
    feedparser_tests_dir,
    missing_feedparser_reason,
    render_problems,
)

FEED_URL = "http://example.com/feed/"
# The slowest file parses and renders in ~70 ms here; a regression to seconds is a hang.
MAX_FILE_S = 5.0
GROUPS = ("wellformed", "illformed", "encoding", "entities", "http")
_FIRST_ELEMENT = re.compile(rb"<\w")


@pytest.fixture(scope="module")
def corpus() -> Path:
    found = feedparser_tests_dir()
    if found is None:
        pytest.skip(missing_feedparser_reason())
    return found


def declares_entity(body: bytes) -> bool:
    """Whether the prolog (before the first element) declares an entity (ASCII bodies only)."""
    first = _FIRST_ELEMENT.search(body)
    return b"<!ENTITY" in (body if first is None else body[: first.start()]).upper()


def refusal_is_ours(body: bytes, headers: dict[str, str], error: ParseError) -> bool:
    """A refusal is justified by our entity policy, or feedparser finds no feed either."""
    if "ENTITY" in str(error):
        return True
    result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    return not result.get("version")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("group", GROUPS)
def test_each_file_parses_or_is_refused_and_renders_within_discord_limits(
        corpus: Path, group: str) -> None:
    files = feed_files(corpus / group)
    assert files, f"no feeds under {corpus / group}: corpus incomplete?"
    failures: list[str] = []
    parsed = entries = 0
    for path in files:
        name = str(path.relative_to(corpus))
        body = path.read_bytes()
        headers = declared_headers(body)
        started = time.perf_counter()
        try:
            feed = parse_feed(body, headers, FEED_URL)
        except ParseError as exc:
            if not refusal_is_ours(body, headers, exc):
                failures.append(f"{name}: refused, yet feedparser reads a feed: {exc}")
            continue
        except Exception as exc:  # the point: nothing but ParseError may escape
            failures.append(f"{name}: {type(exc).__name__} escaped: {exc}")
            continue
        if declares_entity(body):
            failures.append(f"{name}: declares an entity but was parsed")
        for entry in feed.entries:
            failures += [f"{name}: {problem}"
                         for problem in render_problems(entry, feed.title or "Corpus")]
        elapsed = time.perf_counter() - started
        if elapsed > MAX_FILE_S:
            failures.append(f"{name}: took {elapsed:.1f} s to parse and render")
        parsed += 1
        entries += len(feed.entries)
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:50])
    # Almost every file is a feed; a parser that refused everything would pass the above.
    assert parsed >= 0.8 * len(files), f"only {parsed} of {len(files)} files parsed"
    assert entries > 0


def test_entity_declarations_in_the_corpus_are_refused(corpus: Path) -> None:
    declaring = [p for p in feed_files(corpus) if declares_entity(p.read_bytes())]
    assert declaring, "the corpus has entity-declaring feeds; the scan found none"
    for path in declaring:
        body = path.read_bytes()
        with pytest.raises(ParseError, match="ENTITY"):
            parse_feed(body, declared_headers(body), FEED_URL)
