"""``wirewatch stories --jsonl``: one story id per item, errors name the line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli.main import main

ITEMS = [
    {"title": "UPDATE 1-Fed raises interest rates by a quarter point - Reuters",
     "feed": "Reuters", "published": "2026-11-29T10:00:00Z"},
    {"title": "Fed holds interest rates steady", "feed": "AP", "published": 1795000000},
    {"title": "Fed raises interest rates by a quarter point | BBC News", "feed": "BBC",
     "summary": "<p>The Federal Reserve raised rates.</p>", "link": "https://bbc.example/1"},
    {"title": "Completely different: storm hits coast", "link": "https://www.bbc.example/1/"},
]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(["stories", *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_items_of_one_story_share_an_id(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    status, lines, _ = _run(capsys, "--jsonl", str(path))
    stories = [json.loads(line)["story"] for line in lines]
    assert status == 0
    assert len(stories) == 4
    assert stories[0] == stories[2] == stories[3]  # rewrite, then the same canonical link
    assert stories[1] != stories[0]


def test_reads_stdin(monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(ITEMS[0]) + "\n\n" + json.dumps(ITEMS[2]) + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    status, lines, _ = _run(capsys, "--jsonl", "-")
    assert status == 0
    assert len(lines) == 2 and lines[0] == lines[1]


@pytest.mark.parametrize(("line", "problem"), [
    ("not json", "line 2: invalid JSON"),
    ('["a list"]', "line 2: expected a JSON object"),
    ('{"summary": "no title"}', "line 2: missing 'title'"),
    ('{"title": 5}', "line 2: 'title' must be a string"),
    ('{"title": "x", "published": "yesterday"}', "line 2: 'published' is not ISO 8601"),
    ('{"title": "x", "published": true}', "line 2: 'published' must be"),
])
def test_bad_line_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    line: str, problem: str) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(ITEMS[0]) + "\n" + line + "\n", encoding="utf-8")
    status, lines, err = _run(capsys, "--jsonl", str(path))
    assert status == 2
    assert problem in err
    assert lines == []


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "--jsonl", str(tmp_path / "nope.jsonl"))
    assert status == 2 and "cannot read" in err
