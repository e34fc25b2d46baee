"""Throughput of the watch matcher against the naive loop most feed bots use.

    .venv/bin/python bench/match_bench.py                       # 100,000 items; 10…10,000 rules
    .venv/bin/python bench/match_bench.py --items 5000 --rules 100,1000

Items are synthetic news (~400 characters: a title and an HTML summary) mentioning a few
names from a vocabulary of ~100,000 places, people, companies and commodities; rules are
drawn from the same vocabulary (words, plurals, phrases, ORs, AND/NOT with common words,
prefixes, case-sensitive names, NEAR, ~1 % regexes), so a realistic few percent of items
match at 1,000 rules. For each rule count it prints compile time, memory, items/s of
``WatchMatcher`` and of the naive baseline (one compiled ``re`` per rule, searched in turn,
measured in the same run; on a subsample when slow, as printed), their ratio, and how many
decisions on a sample agreed with the independent reference evaluator (must be all).
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.pipeline.match import (
    CompiledQuery,
    Document,
    WatchMatcher,
    compile_query,
    document_from_mapping,
)
from bot.query.reference import reference_matches

_REAL_NAMES = """Xi Jinping Putin Zelensky Biden Trump Macron Scholz Modi Erdogan Netanyahu Lula
Milei Kishida Albanese Sunak Starmer Meloni Orban Tusk Beijing Moscow Kyiv Washington Paris Berlin
Delhi Ankara Jerusalem Brasilia Tokyo Canberra London Rome Budapest Warsaw Taiwan Xinjiang Gaza
Crimea Donbas Sahel Niger Mali Sudan Yemen Syria Lebanon Iran Venezuela Argentina Chile Peru
Nvidia Tesla Apple Google Amazon Microsoft Huawei Xiaomi Alibaba Tencent Samsung Boeing Airbus
Shell Exxon Aramco Glencore Rio Tinto BHP Vale copper lithium cobalt nickel uranium wheat soybeans
cocoa coffee sugar palladium platinum silver gold brent gasoline diesel tariff sanctions"""
_FILLER = """the a of to in and said on for with as by at from that is was were will would has have
had been after over new more than about into up out not its their this year week month officials
government market markets prices price rose fell rate rates report reports data growth plan plans
deal talks state bank banks company companies people percent million billion first last two three
could may also while amid during under against since before between minister president leaders
sports economy policy trade exports imports supply demand shares investors analysts expected
announced warned agreed rejected continued increased decreased record high low early late"""
_SYLLABLES = """ka lo ri ve ta mi no sa ru de ko ba li zu fe mo ga pi te shi ran vel dor mar tis
len gar bro qui xan zor pel dra kin vos lum tor nex"""
REAL_NAMES, FILLER, SYLLABLES = _REAL_NAMES.split(), _FILLER.split(), _SYLLABLES.split()


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """Real names plus capitalised syllable compounds, all distinct."""
    words = set(REAL_NAMES)
    while len(words) < size:
        parts = rng.randint(2, 4)
        words.add("".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize())
    return sorted(words)


def make_item(rng: random.Random, vocab: list[str]) -> dict[str, object]:
    """A ~400-character news item mentioning three vocabulary names."""
    names = [rng.choice(vocab) for _ in range(3)]
    title = " ".join([names[0], *rng.sample(FILLER, 5)]).capitalize()
    sentences = []
    for name in names[1:]:
        words = rng.sample(FILLER, 24)
        words.insert(rng.randrange(len(words)), rng.choice([name, f"{name}’s", f"{name}s"]))
        sentences.append(" ".join(words).capitalize() + ".")
    summary = f"<p>{sentences[0]}</p><p><b>{sentences[1]}</b></p>"
    return {"title": title, "summary": summary, "tags": [rng.choice(FILLER)], "feed": "Wire"}


def make_rule(rng: random.Random, vocab: list[str]) -> str:
    """One watch rule of a realistic mix."""
    a, b, c = (rng.choice(vocab) for _ in range(3))
    roll = rng.random()
    table: list[tuple[float, Callable[[], str]]] = [
        (0.35, lambda: a),
        (0.45, lambda: f"{a}s"),
        (0.58, lambda: f'"{a} {rng.choice(FILLER)}"'),
        (0.72, lambda: f"{a} OR {b}" + (f" OR {c}" if rng.random() < 0.5 else "")),
        (0.80, lambda: f"{a} {rng.choice(FILLER)}"),
        (0.88, lambda: f"({a} OR {b}) -{rng.choice(FILLER)}"),
        (0.92, lambda: f"{a[:-1]}*" if len(a) >= 6 else f"{a}*"),
        (0.96, lambda: f"={a}"),
        (0.99, lambda: f"{a} NEAR/5 {rng.choice(FILLER)}"),
        (1.01, lambda: f"/\\b{a}(?:ia|ian|ese)?\\b/i"),
    ]
    return next(make() for limit, make in table if roll < limit)


def naive_pattern(rule: str) -> re.Pattern[str]:
    """What most bots do: the rule's words as one case-insensitive alternation."""
    words = [w for w in re.findall(r"[\w']+", rule) if w not in ("OR", "NEAR", "i", "b")]
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)


def rss_kib() -> int:
    """Resident set size of this process (Linux), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def build(sources: list[str]) -> tuple[list[tuple[int, CompiledQuery]], WatchMatcher[int], str]:
    """Compile the rules and build the matcher; report times and the memory it added."""
    gc.collect()
    rss_before = rss_kib()
    started = time.perf_counter()
    compiled = [(i, compile_query(s)) for i, s in enumerate(sources)]
    parsed = time.perf_counter()
    matcher = WatchMatcher(compiled)
    built = time.perf_counter()
    memory = (rss_kib() - rss_before) / 1024
    report = (
        f"compile {parsed - started:5.2f} s + build {built - parsed:5.2f} s | +{memory:5.1f} MiB"
    )
    return compiled, matcher, report


def naive_rate(sources: list[str], texts: list[str]) -> tuple[float, int]:
    """Items/s of the naive loop, on a subsample sized so one run takes seconds, not hours."""
    naive = [naive_pattern(s) for s in sources]
    sample = texts[: max(50, min(len(texts), 1_000_000 // len(sources)))]
    started = time.perf_counter()
    for text in sample:
        for pattern in naive:
            pattern.search(text)
    return len(sample) / (time.perf_counter() - started), len(sample)


def agreement(
    matcher: WatchMatcher[int], compiled: list[tuple[int, CompiledQuery]], docs: list[Document]
) -> tuple[int, int]:
    """(agreeing, total) rule decisions of the fast path against the reference evaluator."""
    agree = total = 0
    for doc in docs:
        got = set(matcher.match(doc))
        for i, query in compiled:
            total += 1
            agree += (i in got) == reference_matches(query.node, doc.fields)
    return agree, total


def measure(
    count: int,
    docs: list[Document],
    texts: list[str],
    rng: random.Random,
    vocab: list[str],
    verify: int,
) -> None:
    """Compile ``count`` rules, time both matchers and check agreement; print one report."""
    sources = [make_rule(rng, vocab) for _ in range(count)]
    compiled, matcher, build_report = build(sources)
    started = time.perf_counter()
    matched_items = sum(1 for doc in docs if matcher.match(doc))
    fast = len(docs) / (time.perf_counter() - started)
    naive, naive_items = naive_rate(sources, texts)
    check = docs[: max(10, min(verify, 200_000 // count))]
    agree, total = agreement(matcher, compiled, check)
    print(
        f"{count:>6} rules | {build_report} | fast {fast:>9,.0f} items/s"
        f" | naive {naive:>8,.0f} items/s (on {naive_items:,} items) | x{fast / naive:,.0f}"
        f" | matched {100 * matched_items / len(docs):5.1f} %"
        f" | agree {agree:,}/{total:,} on {len(check)} items",
        flush=True,
    )
    if agree != total:
        raise SystemExit("fast path and reference disagree")


def main() -> None:
    """Parse options, build the corpus, run every rule count."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rules", default="10,100,1000,10000")
    parser.add_argument(
        "--verify", type=int, default=2000, help="items checked against the reference"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    vocab = vocabulary(rng, 100_000)
    items = [make_item(rng, vocab) for _ in range(args.items)]
    started = time.perf_counter()
    docs = [document_from_mapping(item) for item in items]
    build_rate = len(docs) / (time.perf_counter() - started)
    texts = [doc.fields["title"] + "\n" + doc.fields["summary"] for doc in docs]
    mean = sum(len(t) for t in texts) / len(texts)
    print(
        f"{len(docs):,} items, mean {mean:.0f} chars; documents built at {build_rate:,.0f} items/s"
    )
    for count in (int(c) for c in args.rules.split(",")):
        measure(count, docs, texts, rng, vocab, args.verify)


if __name__ == "__main__":
    main()
