"""``wirewatch match`` through a real argparse parser, real files, stdin and a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.match import add_match_arguments, run_match

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="wirewatch match")
    add_match_arguments(parser)
    status = run_match(parser.parse_args(argv))
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path: Path, name: str, lines: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_text_match_explains(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        ['"rare earths" -sports', "--text", "China curbs <b>rare-earth</b> exports."], capsys
    )
    assert status == 0
    assert out.splitlines()[0] == 'MATCH: "rare earths" -sports'
    assert "content[12:22] 'rare-earth' <- \"rare earths\"" in out
    assert "snippet: China curbs **rare-earth** exports." in out


def test_text_no_match_exits_1_and_names_the_blocker(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["copper -sports", "--text", "copper sports"], capsys)
    assert status == 1
    assert out.startswith("NO MATCH")
    assert "excluded terms present: sports" in out


def test_text_with_article_body(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        ["Bessent", "--text", "A teaser.", "--body", "Intro line.\nAnn Bessent joined."], capsys
    )
    assert status == 0
    assert "body[16:23] 'Bessent' <- Bessent" in out
    assert "snippet: Intro line. Ann **Bessent** joined." in out
    assert run(["content:Bessent", "--body", "Ann Bessent"], capsys)[0] == 1
    assert run(["body:Bessent", "--body", "Ann Bessent"], capsys)[0] == 0


def test_file_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "item.html", ["<p>Xi Jinping visits</p>"])
    assert run(["=Xi", "--file", path], capsys)[0] == 0
    assert run(["Xinjiang", "--file", path], capsys)[0] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["(copper", "--text", "x"], "invalid query: unbalanced '(': never closed (at position 0)"),
        (["a NEAR b", "--text", "x"], "NEAR needs a word distance"),
        (["copper"], "give --text TEXT, --file PATH or --jsonl ITEMS"),
        (["--text", "x"], "give a QUERY"),
        (["copper", "--file", "/nonexistent/wirewatch"], "cannot read /nonexistent/wirewatch"),
        (["copper", "--jsonl", "-", "--body", "x"], "--body goes with --text or --file"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(argv, capsys)
    assert status == 2
    assert out == ""
    assert message in err


def test_jsonl_single_query(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = write(
        tmp_path,
        "items.jsonl",
        [
            json.dumps({"title": "Tariffs rise", "summary": "<p>on steel</p>"}),
            "",
            json.dumps({"content": "nothing here", "tags": ["x"], "link": "https://e.com"}),
            json.dumps({"tags": ["Tariff"], "feed": "F", "author": None}),
            json.dumps({"summary": "A teaser", "body": "Steel.\nNew tariffs."}),
        ],
    )
    status, out, _ = run(["tariff", "--jsonl", items], capsys)
    assert status == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["matched"] for line in lines] == [True, False, False, True]
    assert lines[3]["spans"] == [{"field": "body", "start": 11, "end": 18, "term": "tariff"}]
    assert lines[0]["terms"] == ["tariff"]
    assert lines[0]["spans"] == [{"field": "title", "start": 0, "end": 7, "term": "tariff"}]


def test_bulk_queries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = write(
        tmp_path,
        "queries.txt",
        ["# metals", "copper", "", "tin OR zinc", "  # indented comment", "-sports", "/^Tin/"],
    )
    items = write(
        tmp_path,
        "items.jsonl",
        [
            json.dumps({"title": "Copper up"}),
            json.dumps({"title": "Tin sports"}),
            "{}",
            json.dumps({"title": "Metals", "body": "Zinc fell.\nTin rose."}),
        ],
    )
    status, out, _ = run(["--queries", queries, "--jsonl", items], capsys)
    assert status == 0
    matches = [json.loads(line)["matches"] for line in out.splitlines()]
    assert matches == [[2, 6], [4, 7], [6], [4, 6]]


def test_bulk_invalid_query_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write(tmp_path, "q.txt", ["copper", "# fine", "tin AND"])
    items = write(tmp_path, "i.jsonl", ["{}"])
    status, out, err = run(["--queries", queries, "--jsonl", items], capsys)
    assert status == 2
    assert out == ""
    assert "line 3: invalid query: 'AND' has no term on its right (at position 4)" in err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: invalid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"tags": [1]}', "line 2: field 'tags' must be a list of strings"),
        ('{"title": 5}', "line 2: field 'title' must be a string"),
    ],
)
def test_bad_items_exit_2_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    items = write(tmp_path, "i.jsonl", ["{}", line])
    status, out, err = run(["copper", "--jsonl", items], capsys)
    assert status == 2
    assert out == ""
    assert message in err


def test_items_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"content": "copper"}\n{"content": "tin"}\n'))
    status, out, _ = run(["copper", "--jsonl", "-"], capsys)
    assert status == 0
    assert [json.loads(line)["matched"] for line in out.splitlines()] == [True, False]


def test_bulk_through_a_real_process(tmp_path: Path) -> None:
    queries = write(tmp_path, "q.txt", ["=US", "tariff*"])
    code = (
        "import argparse, sys; from bot.cli.match import add_match_arguments, run_match; "
        "p = argparse.ArgumentParser(); add_match_arguments(p); "
        "sys.exit(run_match(p.parse_args(sys.argv[1:])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--queries", queries, "--jsonl", "-"],
        input='{"title": "US tariffs"}\n{"title": "tell us"}\n',
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ['{"matches": [1, 2]}', '{"matches": []}']


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
@pytest.mark.parametrize("source", ["file", "stdin"])
def test_jsonl_strings_may_hold_unicode_line_separators(
    separator: str,
    source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # json.dumps(ensure_ascii=False) writes these raw; only "\n" ends a JSONL line.
    lines = [
        json.dumps({"title": f"Copper{separator}rallies"}, ensure_ascii=False),
        json.dumps({"summary": f"tin{separator}news"}, ensure_ascii=False),
    ]
    if source == "file":
        items = write(tmp_path, "items.jsonl", lines)
    else:
        items = "-"
        monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    status, out, err = run(["copper", "--jsonl", items], capsys)
    assert (status, err) == (0, "")
    assert [json.loads(line)["matched"] for line in out.splitlines()] == [True, False]
