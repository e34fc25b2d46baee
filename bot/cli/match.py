"""``wirewatch match``: try a watch query on text, or many queries on a JSONL file of items.

    wirewatch match QUERY --text TEXT        explain one decision (exit 0 match, 1 no match)
    wirewatch match QUERY --file PATH        the same, TEXT read from a file
    wirewatch match QUERY --text TEXT --body ARTICLE
                                             the item also has an article body (plain text)
    wirewatch match QUERY --jsonl ITEMS      one JSON line per item: matched, terms, spans
    wirewatch match --queries FILE --jsonl ITEMS
                                             one JSON line per item: 1-based line numbers of
                                             the queries in FILE that match (the fast path)

TEXT is the item's content (HTML allowed); ARTICLE its article page's main text (plain text,
one paragraph per line; ``--body`` alone is an item with only that). ITEMS holds one JSON
object per line with any of ``title`` (plain text, as a parsed feed's title), ``summary``,
``content`` (HTML allowed), ``body`` (plain text), ``author``, ``tags`` (list), ``feed``,
``link``; only ``\n`` ends a line; ``-`` reads standard input. An invalid
query, a bad JSON line or a missing file exits with 2 and a message on stderr naming the
line, the problem and its position.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.core.errors import QueryError
from bot.core.model import Snippet
from bot.pipeline.match import (
    CompiledQuery,
    Document,
    Explanation,
    WatchMatcher,
    compile_query,
    document_from_mapping,
)
from bot.pipeline.meaning import embed_locally
from bot.pipeline.snippet import make_snippet
from bot.query.semantic import EXTRA_MESSAGE

__all__ = ["add_match_arguments", "run_match"]


class UsageError(Exception):
    """A problem with the command's input; the message goes to stderr, exit status 2."""


def add_match_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``match`` subcommand's arguments to ``parser``."""
    parser.add_argument("query", nargs="?", help="the watch query to try")
    parser.add_argument("--queries", metavar="FILE", help="one query per line (# comments)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", help="the item's content (HTML allowed)")
    source.add_argument("--file", metavar="PATH", help="read the item's content from PATH")
    source.add_argument("--jsonl", metavar="ITEMS", help="JSON object per line; '-' is stdin")
    parser.add_argument(
        "--body", metavar="ARTICLE", help="the item's article text (plain), with --text/--file"
    )


def run_match(args: argparse.Namespace) -> int:
    """Run ``wirewatch match``; print results to stdout and return the exit status."""
    try:
        return _run(args)
    except UsageError as exc:
        print(f"wirewatch match: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    query: str | None = getattr(args, "query", None)
    queries: str | None = getattr(args, "queries", None)
    text: str | None = getattr(args, "text", None)
    file: str | None = getattr(args, "file", None)
    jsonl: str | None = getattr(args, "jsonl", None)
    body: str | None = getattr(args, "body", None)
    if body is not None and jsonl is not None:
        raise UsageError('--body goes with --text or --file (JSONL items carry their own "body")')
    if queries is not None:
        if query is not None:
            raise UsageError("give either QUERY or --queries FILE, not both")
        if jsonl is None:
            raise UsageError("--queries needs --jsonl ITEMS")
        return _bulk(_read_queries(queries), _read_items(jsonl))
    if query is None:
        raise UsageError("give a QUERY (or --queries FILE)")
    compiled = _compile(query)
    if jsonl is not None:
        for doc in _meant(compiled.topics, _read_items(jsonl)):
            print(json.dumps(_explanation_json(compiled.explain(doc))))
        return 0
    if text is None and file is None and body is None:
        raise UsageError("give --text TEXT, --file PATH or --jsonl ITEMS")
    content = text if text is not None or file is None else _read_text(file)
    [doc] = _meant(compiled.topics, [document_from_mapping({"content": content, "body": body})])
    explanation = compiled.explain(doc)
    snippet = make_snippet(doc, explanation.spans) if explanation.matched else None
    print(_describe(compiled, doc, explanation, snippet))
    return 0 if explanation.matched else 1


def _compile(query: str) -> CompiledQuery:
    try:
        return compile_query(query)
    except QueryError as exc:
        raise UsageError(f"invalid query: {exc.reason} (at position {exc.position})") from None


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_lines(path: str) -> list[str]:
    # Only "\n" ends a line (text mode already turned "\r\n" into it). str.splitlines would
    # also split at U+2028, U+0085 and friends, which JSON strings may hold unescaped.
    if path == "-":
        return sys.stdin.read().split("\n")
    return _read_text(path).split("\n")


def _read_queries(path: str) -> list[tuple[int, CompiledQuery]]:
    """(1-based physical line number, compiled query) for each non-blank, non-# line."""
    rules = []
    for number, line in enumerate(_read_lines(path), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            rules.append((number, compile_query(stripped)))
        except QueryError as exc:
            raise UsageError(
                f"{path} line {number}: invalid query: {exc.reason} (at position {exc.position})"
            ) from None
    return rules


def _read_items(path: str) -> list[Document]:
    """Every item of a JSONL file, validated before anything is printed."""
    docs = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{path} line {number}: invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path} line {number}: expected a JSON object")
        try:
            docs.append(document_from_mapping(data))
        except TypeError as exc:
            raise UsageError(f"{path} line {number}: {exc}") from None
    return docs


def _meant(topics: Sequence[str], docs: Sequence[Document]) -> list[Document]:
    """The documents with their meaning when the query has about: terms (model in-process)."""
    try:
        return embed_locally(topics, docs)
    except ImportError:  # compile_query already refused about: without the model
        raise UsageError(EXTRA_MESSAGE) from None


def _bulk(rules: list[tuple[int, CompiledQuery]], docs: Sequence[Document]) -> int:
    topics = list(dict.fromkeys(t for _, rule in rules for t in rule.topics))
    docs = _meant(topics, docs)
    matcher = WatchMatcher(rules)
    out = sys.stdout
    for doc in docs:
        out.write(json.dumps({"matches": matcher.match(doc)}) + "\n")
    return 0


def _explanation_json(explanation: Explanation) -> dict[str, object]:
    return {
        "matched": explanation.matched,
        "terms": list(explanation.terms),
        "about": [{"topic": a.topic, "score": a.score, "threshold": a.threshold}
                  for a in explanation.scores],
        "spans": [
            {"field": s.field, "start": s.start, "end": s.end, "term": s.term}
            for s in explanation.spans
        ],
    }


def _describe(
    query: CompiledQuery, doc: Document, explanation: Explanation, snippet: Snippet | None
) -> str:
    """Human-readable explanation of one decision."""
    lines = [f"{'MATCH' if explanation.matched else 'NO MATCH'}: {query.source}"]
    lines.append(f"language: {query.language}")
    if explanation.terms:
        lines.append("terms found: " + ", ".join(explanation.terms))
    else:
        lines.append("terms found: none")
    for span in explanation.spans:
        found = doc.fields.get(span.field, "")[span.start : span.end]
        # Which form in the text matched which word of the query (Zölle <- Zoll).
        lines.append(f"  {span.field}[{span.start}:{span.end}] {found!r} <- {span.term}")
    for score in explanation.scores:
        verdict = "passes" if score.passed else "below"
        lines.append(f"  {score.describe()}: {verdict}{' (negated)' if score.negated else ''}")
    if explanation.excluded:
        lines.append("excluded terms present: " + ", ".join(explanation.excluded))
    if snippet is not None:
        lines.append("snippet: " + _bold_markdown(snippet))
    return "\n".join(lines)


def _bold_markdown(snippet: Snippet) -> str:
    parts, pos = [], 0
    for start, end in snippet.bold:
        parts += [snippet.text[pos:start], "**", snippet.text[start:end], "**"]
        pos = end
    parts.append(snippet.text[pos:])
    return "".join(parts)
