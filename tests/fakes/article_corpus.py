"""Real article pages with expected text, from trafilatura's sdist, fetched once into ``.cache/``.

trafilatura's 1.0.0 sdist ships ``tests/cache/`` (about 110 real web pages: news, blogs,
shops, institutions) and ``tests/realworld_tests.py``, which names for each page sentences
that belong to its main text (``'…' in result``) and site furniture that must not
(``'…' not in result``: navigation, cookie notices, "related" lists, comments, footers).
Later sdists no longer ship them, so this corpus is pinned to that version, independent of
the installed trafilatura. ``make corpus`` (``python -m tests.fakes.article_corpus``)
downloads it with pip; offline it warns and the corpus test skips saying why.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.corpus import REPO, _extract_tests, download_sdist

CORPUS_VERSION = "1.0.0"
CACHE = REPO / ".cache" / "trafilatura-tests"
_EXPECTATIONS = "realworld_tests.py"


@dataclass
class PageCase:
    """One real page and the snippets its extracted text must and must not contain."""

    url: str
    path: Path
    keep: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)


def corpus_dir(cache: Path = CACHE) -> Path | None:
    """The extracted ``tests/`` folder, or None if it was not downloaded yet."""
    tests = cache / "tests"
    ok = (tests / _EXPECTATIONS).is_file() and (tests / "cache").is_dir()
    return tests if ok else None


def missing_reason(cache: Path = CACHE) -> str:
    """Why the corpus is unavailable, for a skip message."""
    return (f"trafilatura {CORPUS_VERSION}'s real-page corpus is not in {cache}: run "
            "`make corpus` (downloads that sdist from PyPI once)")


def download(cache: Path = CACHE) -> Path:
    """Download the sdist with pip and keep its ``tests/``; RuntimeError or OSError on failure."""
    found = corpus_dir(cache)
    if found is not None:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        work = Path(tmp)
        _extract_tests(download_sdist("trafilatura", CORPUS_VERSION, work), work / "out")
        (work / "out" / "tests").rename(cache / "tests")
    found = corpus_dir(cache)
    if found is None:
        raise RuntimeError(f"trafilatura {CORPUS_VERSION}'s sdist lacks tests/cache")
    return found


def _snippet_checks(test: ast.expr) -> list[tuple[str, bool]]:
    """``'x' in result and 'y' not in result`` → [("x", True), ("y", False)]."""
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) \
        else [test]
    checks: list[tuple[str, bool]] = []
    for part in parts:
        if (isinstance(part, ast.Compare) and len(part.ops) == 1
                and isinstance(part.left, ast.Constant) and isinstance(part.left.value, str)
                and isinstance(part.comparators[0], ast.Name)
                and part.comparators[0].id == "result"
                and isinstance(part.ops[0], ast.In | ast.NotIn)):
            checks.append((part.left.value, isinstance(part.ops[0], ast.In)))
    return checks


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements in order, entering ``if xmloutput is False`` blocks (we extract text)."""
    out: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, ast.If):
            if "xmloutput is False" in ast.unparse(stmt.test):
                out.extend(_statements(stmt.body))
            continue
        out.append(stmt)
    return out


def cases(tests: Path) -> list[PageCase]:
    """Every page of ``tests/cache`` that ``realworld_tests.py`` gives snippets for."""
    tree = ast.parse((tests / _EXPECTATIONS).read_text(encoding="utf-8"))
    pages: dict[str, str] = {}
    found: dict[str, PageCase] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "MOCK_PAGES":
            pages = ast.literal_eval(node.value)
    for func in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        current: PageCase | None = None
        for stmt in _statements(func.body):
            call = stmt.value if isinstance(stmt, ast.Assign) else None
            if isinstance(call, ast.Call) and ast.unparse(call.func) == "load_mock_page" \
                    and isinstance(call.args[0], ast.Constant):
                url = str(call.args[0].value)
                current = found.setdefault(url, PageCase(url, tests / "cache" / pages[url]))
            elif isinstance(stmt, ast.Assert) and current is not None:
                for snippet, keep in _snippet_checks(stmt.test):
                    (current.keep if keep else current.drop).append(snippet)
    return [case for case in found.values() if (case.keep or case.drop) and case.path.is_file()]


def main() -> int:
    """``make corpus``: fetch the corpus once; never fail the build over it."""
    try:
        tests = download()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        print(f"warning: {missing_reason()} ({exc})", file=sys.stderr)
        return 0
    print(f"trafilatura {CORPUS_VERSION} real pages: {len(cases(tests))} with expectations "
          f"in {tests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
