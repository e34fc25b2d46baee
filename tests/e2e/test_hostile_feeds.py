"""The bot under attack: hostile feeds cost one feed each, never the healthy feed or memory.

``wirewatch run`` (a subprocess, as a user runs it) polls a healthy feed plus a feed server
full of hostile answers, all every second: an entity blow-up, feedparser's author-e-mail
ReDoS, a gzip bomb, a one-byte-per-second drip, a redirect loop, a redirect to a disallowed
address (only 127.0.0.1/32 is allowed, so 127.0.0.2 is refused), an HTML page, an empty body
and a 200 MB body (announced, and streamed without a length). While they are polled, new
items on the healthy feed must reach the fake Discord within seconds; afterwards every
hostile feed must carry its error in the database, and the bot with its parser workers must
have stayed under a memory bound throughout.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tests.e2e.harness import BotProcess, bot_env, rss, wait_for
from tests.fakes.discord_payloads import WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import MIB, FeedServer, author_redos, entity_bomb

RSS_LIMIT_MB = 400
DELIVERY_S = 5.0  # polled every second: an alert later than this was held up
# The bot's fetch deadline is FetchLimits' default (30 s); the drip ends there.
DRIP_DEADLINE_S = 30
HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
             b"<body>Checking your browser before accessing the site.</body></html>")


def redirect_loop(server: FeedServer, path: str, other: str) -> None:
    server.redirect(path, other)
    server.redirect(other, path)


@dataclass(frozen=True)
class Hostile:
    name: str
    path: str
    setup: Callable[[FeedServer, str], None]
    error: str | None  # regex the feed's last_error must match; None: it must succeed


HOSTILE = (
    Hostile("entity bomb", "/entity", lambda s, p: s.serve(p, entity_bomb()),
            r"refused: the document declares XML entities"),
    # parse.py caps the author before feedparser's e-mail regex: harmless, so a success.
    Hostile("author redos", "/redos", lambda s, p: s.serve(p, author_redos()), None),
    Hostile("gzip bomb", "/gzip", lambda s, p: s.gzip_bomb(p),
            r"body too large: more than \d+ bytes after decoding"),
    Hostile("drip", "/drip", lambda s, p: s.drip(p, interval=1.0),
            rf"timed out: .*/drip did not answer completely within the {DRIP_DEADLINE_S} s"),
    Hostile("redirect loop", "/loop-a", lambda s, p: redirect_loop(s, p, "/loop-b"),
            r"redirect loop"),
    Hostile("redirect to 127.0.0.2", "/private",
            lambda s, p: s.redirect(p, f"http://127.0.0.2:{s.port}/healthy"),
            r"refused: 127\.0\.0\.2 is not a public address"),
    Hostile("html page", "/html",
            lambda s, p: s.serve(p, HTML_PAGE, content_type="text/html; charset=utf-8"),
            r"not a feed: the server sent an HTML page"),
    Hostile("empty body", "/empty", lambda s, p: s.serve(p, b""), r"empty body \(0 bytes\)"),
    Hostile("200 MB announced", "/huge", lambda s, p: s.endless(p, size=200 * MIB),
            r"body too large: 209715200 bytes announced"),
    Hostile("200 MB streamed", "/huge-stream",
            lambda s, p: s.endless(p, size=200 * MIB, announce=False),
            r"body too large: more than \d+ bytes after decoding"),
)


def write_config(path: Path, feeds: FeedServer) -> None:
    tables = [("healthy", feeds.url("/healthy"))] + [(h.name, feeds.url(h.path))
                                                     for h in HOSTILE]
    text = "".join(f'[[feeds]]\nname = "{name}"\nurl = "{url}"\ninterval = "1s"\n\n'
                   for name, url in tables)
    text += (f'[[watches]]\nname = "trade"\nquery = "tariffs"\nfeeds = ["healthy"]\n'
             f'webhook = "{FakeWebhook().url}"\n')
    path.write_text(text, encoding="utf-8")


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` plus its children (the parser workers), in MB; 0 if gone."""
    total_kb = 0
    pids = [pid] + [int(p.name) for p in Path("/proc").iterdir()
                    if p.name.isdigit() and _ppid(p) == pid]
    for one in pids:
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total_kb += int(found.group(1)) if found else 0
    return total_kb / 1024


def _ppid(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def delivered(fake: FakeDiscord, count: int) -> bool:
    return len(fake.webhook_messages(WEBHOOK_ID)) >= count


async def sample_memory(pid: int, samples: list[float]) -> None:
    while True:
        samples.append(rss_mb(pid))
        await asyncio.sleep(0.2)


def feed_rows(db: Path) -> dict[str, tuple[int, str | None, float | None]]:
    """Feed name → (error_count, last_error, last_success), read as any SQLite client would."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT s.name, f.error_count, f.last_error, f.last_success"
                            " FROM feeds f JOIN subscriptions s ON s.feed_id = f.id").fetchall()
    conn.close()
    return {name: (count, error, success) for name, count, error, success in rows}


async def test_hostile_feeds_fail_alone_while_the_healthy_feed_delivers_on_time(
        tmp_path: Path) -> None:
    stories = [("old", "Old news on tariffs")]
    async with FeedServer() as feeds, FakeDiscord() as fake:
        feeds.serve("/healthy", rss(stories))
        for hostile in HOSTILE:
            hostile.setup(feeds, hostile.path)
        config = tmp_path / "wirewatch.toml"
        write_config(config, feeds)
        env = bot_env(tmp_path, config, fake.api_base,
                      WIREWATCH_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32")
        bot = BotProcess(env, tmp_path / "bot.log")
        memory: list[float] = []
        await bot.start()
        assert bot.process is not None
        sampler = asyncio.create_task(sample_memory(bot.process.pid, memory))
        started = time.monotonic()
        db = tmp_path / "state" / "ww.db"
        try:
            await wait_for(lambda: feeds.hits("/healthy") >= 2 and all(
                feeds.hits(h.path) >= 1 for h in HOSTILE), 20, "every feed to be polled")
            # Three new stories spread over the drip's 30 s: each must arrive promptly.
            for number in range(1, 4):
                stories.insert(0, (f"new{number}", f"Story {number} on tariffs"))
                feeds.serve("/healthy", rss(stories))
                published = time.monotonic()
                await wait_for(partial(delivered, fake, number), DELIVERY_S + 5,
                               f"alert {number}")
                took = time.monotonic() - published
                assert took < DELIVERY_S, f"alert {number} took {took:.1f} s\n{bot.output()}"
                # ... while the drip still holds its connection (its error comes at 30 s).
                assert feed_rows(db)["drip"][0] == 0 and feeds.hits("/drip") == 1
                await asyncio.sleep(max(0.0, started + 8 * number - time.monotonic()))
            await wait_for(lambda: all(feed_rows(db)[h.name][0] > 0
                                       for h in HOSTILE if h.error is not None),
                           DRIP_DEADLINE_S + 20, "every hostile feed to record its error")
            status, _ = await bot.stop()
        finally:
            sampler.cancel()
            if bot.process.returncode is None:
                await bot.kill()
        assert status == 0, bot.output()

    titles = [m["embeds"][0]["title"] for m in fake.webhook_messages(WEBHOOK_ID)]
    assert titles == [f"Story {n} on tariffs" for n in range(1, 4)]
    rows = feed_rows(db)
    assert rows["healthy"][0] == 0 and rows["healthy"][2] is not None
    for hostile in HOSTILE:
        count, error, success = rows[hostile.name]
        if hostile.error is None:
            assert (count, error) == (0, None) and success is not None, hostile.name
        else:
            assert count > 0 and error is not None, hostile.name
            assert re.search(hostile.error, error), f"{hostile.name}: {error}"
    assert len(memory) > 50, "memory was hardly sampled"
    assert max(memory) < RSS_LIMIT_MB, f"peak RSS {max(memory):.0f} MB"
