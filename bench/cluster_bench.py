"""``wirewatch run`` processes polling N feeds: SQLite × 1, PostgreSQL × 1 and × 3, same run.

    .venv/bin/python bench/cluster_bench.py                   # 4,000 feeds every 60 s
    .venv/bin/python bench/cluster_bench.py --quick           # 1,000 feeds every 15 s
    .venv/bin/python bench/cluster_bench.py --feeds 20000 --interval 300

Real processes (``python -m bot run --role poll``, identical environment, log level WARNING)
against the feed farm (``bench/feed_farm.py``, its own process, many loopback hosts). Each
setup gets a fresh database (a SQLite file; a PostgreSQL schema of its own), primed in this
process (fetch + pre-scan, due times spread over one interval) and then left to the
processes for ``--warmup`` + ``--seconds``. Measured over the last ``--seconds``: polls/s
achieved (requests the farm answered) against asked (feeds / interval), CPU per poll and CPU
as a share of one core of all the bot processes together (their parser workers included).
PostgreSQL: ``WIREWATCH_TEST_DATABASE_URL`` (default the local test server); skipped if absent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import feed_farm
from poll_bench import LOOPBACK, Row, prime, proc_cpu

from bot.config.file import Config, FeedConfig
from bot.core.settings import load_settings
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.service.app import open_store

REPO = Path(__file__).resolve().parents[1]
PG = os.environ.get("WIREWATCH_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the parser workers)."""
    found, frontier = [pid], [pid]
    while frontier:
        parent = str(frontier.pop())
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except OSError:
                continue
            if ppid == parent:
                found.append(int(entry.name))
                frontier.append(int(entry.name))
    return found


def farm_hits(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as answer:
        return sum(json.loads(answer.read()).values())


def postgres_url(schema: str) -> str:
    return f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{schema}"


def admin(statement: str) -> None:
    import psycopg
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(statement)


def write_config(path: Path, args: argparse.Namespace, port: int) -> Config:
    feeds = [FeedConfig(name=f"feed {i}", url=feed_farm.feed_url(i, args.hosts, port),
                        interval=args.interval) for i in range(args.feeds)]
    path.write_text("".join(f'[[feeds]]\nname = "{f.name}"\nurl = "{f.url}"\n'
                            f"interval = {f.interval}\n\n" for f in feeds), encoding="utf-8")
    return Config(feeds=tuple(feeds))


async def prepare(env: dict[str, str], config: Config, interval: float) -> None:
    """Create the schema, subscribe the feeds and prime them, due times spread."""
    store = await open_store(load_settings(env))
    try:
        await store.sync_config(config, time.time())
        fetcher = Fetcher(FetchLimits(), LOOPBACK)
        try:
            await prime(store, fetcher, interval, time.time() + 2.0)  # type: ignore[arg-type]
        finally:
            await fetcher.close()
    finally:
        await store.close()


async def measure(label: str, env: dict[str, str], count: int, args: argparse.Namespace,
                  port: int, logs: Path) -> Row:
    """Start ``count`` processes, let them warm up, measure, stop them."""
    procs = [subprocess.Popen([sys.executable, "-m", "bot", "run", "--role", "poll"],
                              env=env, cwd=REPO, stdout=(logs / f"{label}-{i}.log").open("wb"),
                              stderr=subprocess.STDOUT) for i in range(count)]
    try:
        await asyncio.sleep(args.warmup)
        pids = [pid for proc in procs for pid in tree(proc.pid)]
        hits, cpu, started = farm_hits(port), sum(map(proc_cpu, pids)), time.monotonic()
        await asyncio.sleep(args.seconds)
        pids = sorted(set(pids) | {pid for proc in procs for pid in tree(proc.pid)})
        row = Row(label, args.feeds / args.interval, farm_hits(port) - hits,
                  time.monotonic() - started, sum(map(proc_cpu, pids)) - cpu, {}, 0.0, {})
        dead = [p.returncode for p in procs if p.poll() is not None]
        assert not dead, f"{label}: a process exited ({dead}); see {logs}"
        return row
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=20)


async def setup(label: str, database: str, count: int, args: argparse.Namespace, port: int,
                tmp: Path) -> Row:
    config_path = tmp / f"{label}.toml"
    config = write_config(config_path, args, port)
    env = {**os.environ, "WIREWATCH_CONFIG": str(config_path), "WIREWATCH_DATABASE_URL": database,
           "WIREWATCH_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8", "WIREWATCH_LOG_LEVEL": "WARNING"}
    for name in ("DISCORD_TOKEN", "WIREWATCH_HTTP_ADDR"):
        env.pop(name, None)
    await prepare(env, config, args.interval)
    return await measure(label, env, count, args, port, tmp)


async def bench(args: argparse.Namespace) -> None:
    farm, port = feed_farm.start(args.hosts, args.items, args.latency_ms)
    schemas: list[str] = []
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            rows.append(await setup("sqlite x1", f"sqlite:///{tmp}/bench.db", 1, args, port, tmp))
            print(f"{rows[-1].label}: done", flush=True)
            for count in () if args.sqlite_only else (1, 3):
                schema = f"wwbench_{secrets.token_hex(4)}"
                try:
                    admin(f"CREATE SCHEMA {schema}")
                except Exception as exc:  # no PostgreSQL here: say so, keep the SQLite row
                    print(f"PostgreSQL skipped: {exc}")
                    break
                schemas.append(schema)
                rows.append(await setup(f"postgres x{count}", postgres_url(schema), count, args,
                                        port, tmp))
                print(f"{rows[-1].label}: done", flush=True)
    finally:
        farm.terminate()
        farm.wait(timeout=10)
        for schema in schemas:
            admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    report(rows, args)


def report(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"\n{args.feeds:,} feeds every {args.interval:g} s on {args.hosts} hosts, "
          f"farm latency {args.latency_ms:g} ms; `wirewatch run --role poll` processes; "
          f"measured {args.seconds:g} s after {args.warmup:g} s")
    print(f"{'setup':<14}{'asked/s':>9}{'achieved/s':>12}{'ratio':>7}{'CPU ms/poll':>13}"
          f"{'% core':>8}")
    for row in rows:
        print(f"{row.label:<14}{row.asked:>9.1f}{row.achieved:>12.1f}"
              f"{row.achieved / row.asked:>7.2f}{row.cpu_ms:>13.2f}{row.core_pct:>8.1f}")
    for row in rows[1:]:
        ratio = row.cpu_ms / max(rows[0].cpu_ms, 1e-9)
        print(f"{row.label}: CPU per poll {ratio:.2f}x that of {rows[0].label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    feed_farm.add_load_arguments(parser, warmup=10.0)
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = feed_farm.parse_load(parser)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
