"""Long differential run: the bulk matcher decides for every rule what the rule alone decides.

    .venv/bin/python bench/match_differential.py                  # 2,000 rules x 20,000 items
    .venv/bin/python bench/match_differential.py --rules 5000 --items 50000 --seeds 1,2,3,4
    .venv/bin/python bench/match_differential.py --corpus ../shared/corpus/real-news

Rules and items come from ``tests/query/differential.py``: a vocabulary of real news text
(the saved feeds under ``--corpus``, default ``../shared/corpus/real-news``; skipped with a
reason when absent) and the bundled one, most common words included, with whole words reused
as prefixes, plurals, phrases, NOT, OR, NEAR/n, fields, ``=Case`` terms and regexes. For each
vocabulary and seed it builds one ``WatchMatcher`` over all rules and compares every
(rule, item) decision with the single-query evaluator; every ``--alone-every``-th item also
with a matcher over that rule alone (``--queries`` with a one-line file), and every
``--reference-every``-th decision with the slow reference. It prints decisions compared and
mismatches (must be 0; exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.pipeline.match import document_from_mapping
from tests.query.differential import (
    Comparison,
    ItemMaker,
    RuleMaker,
    Vocabulary,
    bundled_vocabulary,
    compare,
    compile_rules,
    corpus_entries,
    vocabulary_from_entries,
)

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-news"


def vocabularies(corpus: Path) -> list[tuple[str, Vocabulary]]:
    """The real-news vocabulary when the corpus is there, and the bundled one."""
    out = [("bundled", bundled_vocabulary())]
    if corpus.is_dir():
        entries = corpus_entries(corpus)
        out.insert(0, (f"real-news ({len(entries)} items)", vocabulary_from_entries(entries)))
    else:
        print(f"real-news vocabulary skipped: {corpus} is absent (a fresh clone has no ../shared)")
    return out


def run_one(vocab: Vocabulary, seed: int, args: argparse.Namespace) -> Comparison:
    """One seed: fresh rules and items, one comparison."""
    rng = random.Random(seed)
    rules = compile_rules(RuleMaker(vocab, rng).rule() for _ in range(args.rules))
    maker = ItemMaker(vocab, rng)
    docs = [document_from_mapping(maker.item()) for _ in range(args.items)]
    return compare(rules, docs, alone_every=args.alone_every, reference_every=args.reference_every)


def main() -> None:
    """Parse options, run every vocabulary and seed, print the totals."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--alone-every", type=int, default=50)
    parser.add_argument("--reference-every", type=int, default=500)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    total = Comparison()
    for name, vocab in vocabularies(args.corpus):
        for seed in (int(s) for s in args.seeds.split(",")):
            started = time.perf_counter()
            result = run_one(vocab, seed, args)
            print(
                f"{name:>26} seed {seed}: {result.decisions:,} decisions compared,"
                f" {result.mismatches:,} mismatches | {result.matches:,} matches,"
                f" {result.rules_matching:,} rules matched something"
                f" | {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            for example in result.examples[:3]:
                print("   ", example)
            total.add(result)
    print(f"total: {total.decisions:,} decisions compared, {total.mismatches:,} mismatches")
    if total.mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
