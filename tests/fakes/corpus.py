"""Where the feed corpora live, and how to fetch feedparser's own test corpus once.

* feedparser's sdist ships its ``tests/`` folder (about 2,200 small feeds, many of them
  edge cases). ``make corpus`` (``python -m tests.fakes.corpus``) downloads the sdist of the
  *installed* feedparser with pip into ``.cache/feedparser-tests/`` and extracts that folder.
  Offline it prints a warning and exits 0; the corpus test then skips and says why.
* ``../shared/corpus/real-news/`` (next to the repository) holds saved real news feeds with a
  ``SOURCES.txt``; a fresh clone does not have it, so its tests skip.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.model import Alert, Entry, Span
from bot.delivery.embed import alert_to_message
from bot.pipeline.match import compile_query, document_from_entry
from bot.pipeline.snippet import make_snippet
from tests.fakes.discord_validate import check_message

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "feedparser-tests"
FEED_SUFFIXES = frozenset({".xml", ".rdf", ".atom", ".json"})
DOWNLOAD_TIMEOUT_S = 300
_HEADER = re.compile(rb"^Header:\s+([^:\r\n]+):([^\r\n]+)$", re.MULTILINE)
_VERSION_FILE = "VERSION"


def feedparser_version() -> str:
    """The installed feedparser's version (the corpus must match it)."""
    return importlib.metadata.version("feedparser")


def feedparser_tests_dir(cache: Path = CACHE) -> Path | None:
    """The extracted ``tests/`` folder for the installed feedparser, or None if absent."""
    tests = cache / "tests"
    marker = cache / _VERSION_FILE
    if not tests.is_dir() or not marker.is_file():
        return None
    return tests if marker.read_text().strip() == feedparser_version() else None


def missing_feedparser_reason(cache: Path = CACHE) -> str:
    """Why the feedparser corpus is unavailable, for a skip message."""
    return (f"feedparser {feedparser_version()}'s test corpus is not in {cache}: run "
            "`make corpus` (downloads the feedparser sdist from PyPI once)")


def download_feedparser_tests(cache: Path = CACHE) -> Path:
    """Download the installed feedparser's sdist with pip and extract its ``tests/`` folder.

    Nothing is replaced until extraction succeeded, so an interrupted download leaves no
    half corpus behind. Raises ``RuntimeError`` (pip failed) or ``OSError``.
    """
    found = feedparser_tests_dir(cache)
    if found is not None:
        return found
    version = feedparser_version()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        work = Path(tmp)
        _extract_tests(download_sdist("feedparser", version, work), work / "out")
        shutil.rmtree(cache / "tests", ignore_errors=True)
        (work / "out" / "tests").rename(cache / "tests")
        (cache / _VERSION_FILE).write_text(version + "\n")
    return cache / "tests"


def download_sdist(name: str, version: str, work: Path) -> Path:
    """The sdist of ``name==version``, downloaded by pip into ``work``; else RuntimeError."""
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--no-binary", ":all:", "--timeout", "20", "--retries", "1",
           f"{name}=={version}", "-d", str(work)]
    done = subprocess.run(pip, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S,
                          check=False)
    archives = sorted(work.glob(f"{name}-*.tar.gz"))
    if done.returncode != 0 or not archives:
        raise RuntimeError(f"pip download failed: {done.stderr.strip()[-500:]}")
    return archives[0]


def _extract_tests(archive: Path, target: Path) -> None:
    """Extract ``<top>/tests/**`` of an sdist as ``target/tests/**`` (regular files only)."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            # Only plain files under <top>/tests, and no path tricks ("..", absolute names).
            if (len(parts) < 3 or parts[1] != "tests" or not member.isfile()
                    or ".." in parts or member.name.startswith("/")):
                continue
            dest = target.joinpath(*parts[1:])
            dest.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is not None:
                dest.write_bytes(source.read())
    if not (target / "tests").is_dir():
        raise RuntimeError(f"{archive.name} has no tests/ folder")


def feed_files(root: Path) -> list[Path]:
    """Every ``*.xml``/``*.rdf``/``*.atom``/``*.json`` file under ``root``, sorted."""
    return sorted(p for p in root.rglob("*") if p.suffix in FEED_SUFFIXES and p.is_file())


def declared_headers(body: bytes) -> dict[str, str]:
    """HTTP headers a feedparser test file declares in its leading ``Header:`` comment lines.

    feedparser's own runner passes these as response headers; some tests need them (a
    charset given only by Content-Type).
    """
    head = body[:4096]
    return {name.decode("latin-1").strip(): value.decode("latin-1").strip()
            for name, value in _HEADER.findall(head)}


def shared_dir() -> Path | None:
    """``../shared`` next to the repository, or None (a fresh clone lacks it).

    In a git worktree (``.git`` is a file naming the main checkout's git directory) it is
    looked for next to the main checkout too, so worktree runs do not skip the corpus tests.
    """
    checkouts = [REPO]
    git = REPO / ".git"
    if git.is_file():
        gitdir = Path(git.read_text(encoding="utf-8").removeprefix("gitdir:").strip())
        if gitdir.parent.name == "worktrees" and gitdir.parent.parent.name == ".git":
            checkouts.append(gitdir.parent.parent.parent)
    for checkout in checkouts:
        shared = checkout.parent / "shared"
        if shared.is_dir():
            return shared
    return None


def real_news_dir() -> Path | None:
    """``../shared/corpus/real-news``, or None when absent."""
    shared = shared_dir()
    news = shared / "corpus" / "real-news" if shared is not None else None
    return news if news is not None and news.is_dir() else None


def real_news_notes(news: Path) -> dict[str, str]:
    """File name → the note column of ``SOURCES.txt`` (notes starting NEGATIVE mark non-feeds)."""
    notes: dict[str, str] = {}
    for line in (news / "SOURCES.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        columns = line.split("\t")
        notes[columns[0]] = columns[-1] if len(columns) > 1 else ""
    return notes


# Terms common in the corpora's languages, so most entries get real match spans to embolden.
PROBE = compile_query('the OR a OR de OR der OR die OR da OR example OR news OR "test"')
# Discord's limits for the parts of an alert embed (discord_validate re-checks them all).
EMBED_LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}
EMBED_TOTAL = 6000
_WORD = re.compile(r"\w+")


def _lead_span(fields: Mapping[str, str]) -> list[Span]:
    """A span on the first word of the summary (else content), so snippets always anchor."""
    for name in ("summary", "content"):
        found = _WORD.search(fields.get(name, ""))
        if found:
            return [Span(name, found.start(), found.end(), found.group())]
    return []


def render_message(entry: Entry, feed_name: str) -> dict[str, Any]:
    """The Discord message an alert for ``entry`` would post, via the real render path."""
    doc = document_from_entry(entry, feed_name)
    explanation = PROBE.explain(doc)
    spans = [*explanation.spans, *_lead_span(doc.fields)]
    alert = Alert(
        watch_name="corpus probe", feed_name=feed_name, title=entry.title or entry.link,
        link=entry.link, snippet=make_snippet(doc, spans),
        matched_terms=(*explanation.terms, "lead"), published=entry.published,
        first_seen=datetime(2026, 1, 1, tzinfo=UTC), thumbnail=entry.thumbnail,
        role_id=123456789012345678)
    return alert_to_message(alert, nonce="w" + "0" * 24)


def render_problems(entry: Entry, feed_name: str) -> list[str]:
    """What is wrong with the alert message for ``entry`` (empty when it fits Discord)."""
    message = render_message(entry, feed_name)
    [embed] = message["embeds"]
    sizes = {"title": len(embed.get("title", "")),
             "description": len(embed.get("description", "")),
             "footer": len(embed.get("footer", {}).get("text", "")),
             "author": len(embed.get("author", {}).get("name", ""))}
    problems = [f"{part} has {size} chars (limit {EMBED_LIMITS[part]})"
                for part, size in sizes.items() if size > EMBED_LIMITS[part]]
    if sum(sizes.values()) > EMBED_TOTAL:
        problems.append(f"embed totals {sum(sizes.values())} chars (limit {EMBED_TOTAL})")
    if not sizes["title"]:
        problems.append("empty title")
    refusal = check_message(message)
    if refusal is not None:
        problems.append(f"Discord would answer 400: {refusal['errors']}")
    return problems


def main() -> int:
    """``make corpus``: fetch the feedparser corpus once; never fail the build over it."""
    try:
        tests = download_feedparser_tests()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        print(f"warning: feedparser test corpus not downloaded ({exc}); "
              "tests/pipeline/test_feedparser_corpus.py will skip", file=sys.stderr)
        return 0
    print(f"feedparser test corpus: {len(feed_files(tests))} feeds in {tests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
