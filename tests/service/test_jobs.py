"""The scheduler's daily jobs keep the outbox and the items table small."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest

from bot.core.model import Entry
from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps
from bot.service.jobs import (
    DELIVERY_RETENTION_S,
    ITEM_BODY_RETENTION_S,
    prune_items,
    prune_outbox,
    start_scheduler,
)
from bot.store import open_store


async def test_prune_job_is_scheduled_daily_and_prunes(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    fetcher = Fetcher(FetchLimits(), AddressGuard())
    parser = IsolatedParser(workers=1)
    deps = PollDeps(store=store, fetcher=fetcher, parser=parser,
                    clock=lambda: 1_800_000_000.0 + DELIVERY_RETENTION_S, rng=random.Random(1))
    scheduler = start_scheduler(deps)
    try:
        job = scheduler.get_job("prune-outbox")
        assert job is not None and "hour='4'" in str(job.trigger)
        assert await prune_outbox(deps) == 0  # an empty outbox: nothing to drop, no error
        items_job = scheduler.get_job("prune-items")
        assert items_job is not None and "hour='4'" in str(items_job.trigger)
        sub = await store.subscribe(111, "https://n.example/rss", "News", 300, 1_800_000_000.0)
        await store.ingest(sub.feed.id, [Entry(key="k", summary="long body")],
                           now=1_800_000_000.0 - ITEM_BODY_RETENTION_S, next_check=0.0,
                           title=None, etag=None, last_modified=None, body_hash=None,
                           plan=lambda new: [])
        result = await prune_items(deps)
        assert result is not None and (result.bodies, result.keys) == (1, 0)
    finally:
        scheduler.shutdown(wait=False)
        await fetcher.close()
        await parser.close()
        await store.close()


async def test_a_job_still_running_is_skipped_quietly_and_counted(
        caplog: pytest.LogCaptureFixture) -> None:
    """A slow run (a busy database) makes later triggers skip: a metric, no WARNING lines."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.core.metrics import JOBS_SKIPPED
    from bot.service.jobs import JOB_INSTANCES, one_at_a_time

    runs: list[float] = []

    async def slow() -> None:
        runs.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.6)

    before = JOBS_SKIPPED.labels(job="slow-test")._value.get()
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(one_at_a_time("slow-test", slow), "interval", seconds=0.1,
                      max_instances=JOB_INSTANCES, coalesce=True, id="slow")
    with caplog.at_level(logging.DEBUG, logger="apscheduler"):
        scheduler.start()
        await asyncio.sleep(1.5)
        scheduler.shutdown(wait=False)
    skipped = JOBS_SKIPPED.labels(job="slow-test")._value.get() - before
    assert 2 <= len(runs) <= 3  # one at a time: 0.6 s each in 1.5 s
    assert skipped >= 5
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
