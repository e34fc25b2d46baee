"""The poll bench on today's store against the store of a base commit, in the same run.

    .venv/bin/python bench/store_compare.py                  # base 2e94115, 3 rounds each
    .venv/bin/python bench/store_compare.py --base main --rounds 5 --feeds 2000

The base commit is unpacked with ``git archive`` into a temporary folder (nothing is copied
into the repository); ``bench/poll_bench.py`` then runs in a subprocess there and here, in
alternating order, with this virtualenv. Prints CPU ms per poll of the poller row (this
process, its threads and the parser workers) for each run, the medians and new/old
(issue 10: at most 1.10).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^poller, [\d,]+ feeds\s+\d+\s+([\d.]+)", re.MULTILINE)
LIMIT = 1.10


def unpack(base: str, into: Path) -> Path:
    """The tree of commit ``base`` under ``into``."""
    archive = subprocess.run(["git", "-C", str(HERE), "archive", base], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def cpu_per_poll(tree: Path, feeds: int) -> float:
    """One poll-bench run in ``tree``: the poller's CPU ms per poll."""
    out = subprocess.run(
        [sys.executable, str(tree / "bench" / "poll_bench.py"), "--feeds", str(feeds),
         "--baseline-sample", "20"], cwd=tree, check=True, capture_output=True, text=True,
        timeout=900).stdout
    match = ROW.search(out)
    if match is None:
        raise SystemExit(f"no poller row in the output of {tree}:\n{out}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="2e94115", help="commit with the old store")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--feeds", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = unpack(args.base, Path(tmp))
        old: list[float] = []
        new: list[float] = []
        for round_ in range(args.rounds):
            # Alternate which goes first, so machine load drifts onto both alike.
            order = [("old", old_tree, old), ("new", HERE, new)]
            for label, tree, results in order if round_ % 2 == 0 else order[::-1]:
                results.append(cpu_per_poll(tree, args.feeds))
                print(f"round {round_ + 1} {label}: {results[-1]:.3f} CPU ms/poll", flush=True)
    ratio = statistics.median(new) / statistics.median(old)
    print(f"\n{args.feeds:,} feeds, {args.rounds} rounds each. CPU ms/poll median: old "
          f"({args.base}) {statistics.median(old):.3f}, new {statistics.median(new):.3f}; "
          f"new/old {ratio:.3f} [{'ok' if ratio <= LIMIT else 'MISSED'} <= {LIMIT}]")


if __name__ == "__main__":
    main()
