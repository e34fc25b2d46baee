"""Any single item up to the size limits is matched, explained and snippeted quickly.

These are size checks, not benchmarks (``bench/text_bench.py`` measures): each hostile item
is as large as the parser lets a field be, and a generous bound catches a quadratic path,
which costs tens of seconds here (the bound is far above the linear cost of ~0.1 s).
"""

from __future__ import annotations

import pytest

from bot.core.model import Snippet
from bot.pipeline.fields import MAX_TEXT
from bot.pipeline.match import compile_query, document_from_mapping
from bot.pipeline.snippet import make_snippet


def _fill(pattern: str, head: str = "", tail: str = "") -> str:
    room = MAX_TEXT - len(head) - len(tail)
    return head + (pattern * (room // len(pattern) + 1))[:room] + tail


def _run(query: str, summary: str) -> tuple[int, Snippet]:
    doc = document_from_mapping({"summary": summary})
    explanation = compile_query(query).explain(doc)
    assert explanation.matched
    return len(explanation.spans), make_snippet(doc, explanation.spans)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("query", "summary", "spans"),
    [
        # NEAR compared every pair of operands: 10 s for this one summary.
        ("tariffs NEAR/0 china", _fill("tariffs on china "), 50),  # capped per leaf
        ("tariffs NEAR/0 china", _fill("tariffs ", tail=" china" * 8_000), 2),
        # The snippet's sentence regex backtracked: 11 s for 40,000 dots, x4 per doubling.
        ("tariffs", "Tariffs rise" + "." * 40_000, 1),
        ("tariffs", _fill(".", head="Tariffs rise"), 1),
        ("tariffs", _fill("!?…", head="Tariffs rise"), 1),
        ("tariffs", _fill("。", head="Tariffs rise"), 1),
        ("tariffs", _fill("U.S. Mr. ", tail=" tariffs"), 1),
        # One unspaced run, marks, flags, full-width text, invisible characters.
        ("/稀土/", _fill("中国限制稀土出口"), 50),
        ("tariffs", _fill("\u0301", head="tariffs e"), 1),
        ("tariffs", _fill("🇨🇳👍🏽", head="tariffs "), 1),
        ("tariffs", _fill("ＴＡＲＩＦＦＳ，ＣＯ₂、１０⁶™！"), 50),
        ("tariffs", _fill(" \u200b\u00ad", head="tariffs"), 1),
    ],
)
def test_hostile_items_at_the_size_limit(query: str, summary: str, spans: int) -> None:
    found, snippet = _run(query, summary)
    assert found == spans
    assert snippet.bold
