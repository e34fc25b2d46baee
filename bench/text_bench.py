"""Worst-case cost of one item: matching and snippeting hostile text at the size limits.

    .venv/bin/python bench/text_bench.py                   # every case at 100,000 characters
    .venv/bin/python bench/text_bench.py --size 25000 --cases dots,near

Each case is one item whose summary (the largest field: ``MAX_TEXT`` characters) repeats a
hostile pattern: a run of 40,000 dots after a sentence, thousands of NEAR operands, one
unspaced Chinese run, a letter under thousands of combining marks, flags, full-width text,
markup, abbreviations, invisible characters. For each case the item is built, matched by the
default watch plus a NEAR rule and a few others, explained and snippeted, as the poller does.
It prints the CPU milliseconds of this process (``time.process_time``: on a shared machine
wall time mostly measures the neighbours) at a quarter, half and the full size, and the
growth per doubling of the size: about 2 is linear, 4 is quadratic. The baseline, measured
in the same run, is one ``str.casefold`` pass over the same text. The target: every case
well under a second at the full size (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.pipeline.fields import MAX_TEXT, MAX_TITLE
from bot.pipeline.match import WatchMatcher, compile_query, document_from_mapping
from bot.pipeline.snippet import make_snippet

QUERIES = [
    '"rare earths" OR tariffs OR Xi OR Bessent',
    "tariffs NEAR/0 china",
    "Bessent NEAR/5 Xi",
    "title:TSLA",
    "稀土",
    "tariff*",
    "/rare.earths?/i",
]


def _fill(pattern: str, size: int, head: str = "", tail: str = "") -> str:
    room = max(0, size - len(head) - len(tail))
    return head + (pattern * (room // max(1, len(pattern)) + 1))[:room] + tail


CASES: dict[str, Callable[[int], dict[str, str]]] = {
    "dots": lambda n: {"summary": _fill(".", n, head="Tariffs rise")},
    "near": lambda n: {"summary": _fill("tariffs on china ", n)},
    "near-apart": lambda n: {"summary": _fill("tariffs ", n // 2) + _fill("china ", n // 2)},
    "cjk-run": lambda n: {"summary": _fill("中国限制稀土出口美国加征关税", n, tail="tariffs")},
    "marks": lambda n: {"summary": _fill("\u0301", n, head="tariffs e")},
    "flags": lambda n: {"summary": _fill("🇨🇳👍🏽", n // 2, head="tariffs ")},
    "full-width": lambda n: {"summary": _fill("ＴＡＲＩＦＦＳ，ＣＯ₂、１０⁶™！", n)},
    "markup": lambda n: {"summary": _fill("<b>tariffs</b> &amp; <i>x</i><p>", n)},
    "abbrev": lambda n: {"summary": _fill("U.S. Mr. ", n, tail="tariffs")},
    "invisible": lambda n: {"summary": _fill(" \u200b\u00ad", n, head="tariffs")},
    "long-title": lambda n: {"title": _fill("<TSLA.O> ", MAX_TITLE), "summary": _fill("x ", n)},
}


def _item_cost(item: dict[str, str], matcher: WatchMatcher[int]) -> float:
    start = time.process_time()
    doc = document_from_mapping(item)
    for key in matcher.match(doc):
        explanation = COMPILED[key].explain(doc)
        make_snippet(doc, explanation.spans)
    return time.process_time() - start


def _baseline(item: dict[str, str]) -> float:
    start = time.process_time()
    for text in item.values():
        text.casefold()
    return time.process_time() - start


COMPILED = [compile_query(q) for q in QUERIES]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=MAX_TEXT)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    matcher = WatchMatcher(list(enumerate(COMPILED)))
    print(f"{'case':<12} {'n/4 ms':>8} {'n/2 ms':>8} {'n ms':>8} {'x/doubling':>10} "
          f"{'baseline ms':>11}")
    worst = 0.0
    for name in args.cases.split(","):
        make = CASES[name]
        times = []
        for size in (args.size // 4, args.size // 2, args.size):
            item = make(size)
            times.append(min(_item_cost(item, matcher) for _ in range(args.rounds)))
        base = statistics.median(_baseline(make(args.size)) for _ in range(args.rounds))
        growth = (times[2] / max(times[0], 1e-9)) ** 0.5
        worst = max(worst, times[2])
        print(f"{name:<12} {times[0] * 1e3:8.1f} {times[1] * 1e3:8.1f} {times[2] * 1e3:8.1f} "
              f"{growth:10.2f} {base * 1e3:11.2f}")
    print(f"worst case at {args.size:,} characters: {worst * 1e3:.0f} ms (target: well under 1 s)")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
