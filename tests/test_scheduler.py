"""The scheduler's daily job keeps the outbox small."""

from __future__ import annotations

import random
from pathlib import Path

from bot.pipeline.fetch import Fetcher, FetchLimits
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.netguard import AddressGuard
from bot.pipeline.poll import PollDeps
from bot.scheduler import DELIVERY_RETENTION_S, Poller, prune_outbox, start_scheduler
from bot.store import open_store


async def test_prune_job_is_scheduled_daily_and_prunes(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'ww.db'}")
    fetcher = Fetcher(FetchLimits(), AddressGuard())
    parser = IsolatedParser(workers=1)
    deps = PollDeps(store=store, fetcher=fetcher, parser=parser,
                    clock=lambda: 1_800_000_000.0 + DELIVERY_RETENTION_S, rng=random.Random(1))
    scheduler = start_scheduler(Poller(deps, 4))
    try:
        job = scheduler.get_job("prune-outbox")
        assert job is not None and "hour='4'" in str(job.trigger)
        assert await prune_outbox(deps) == 0  # an empty outbox: nothing to drop, no error
    finally:
        scheduler.shutdown(wait=False)
        await fetcher.close()
        await parser.close()
        await store.close()
