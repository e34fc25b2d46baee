"""Prometheus metrics: the pipeline's histograms and counters, and a scrape-time collector.

Two kinds of metrics:

* pipeline metrics the poll code reports as it goes (``observe_fetch``, ``observe_parse``,
  ``count_items``, ``count_matches``), kept in ``PIPELINE``, a registry of our own (never the
  global default registry, so tests and several apps in one process do not collide);
* state read at scrape time by ``AppCollector``: the poller's and the outbox's counters (plain
  dicts on those objects), the outbox depth and the failing feeds (read from the database, cached
  for a few seconds so a fast scraper cannot load it), the event-loop lag and the gateway.
  It reads the running app through ``MetricsSource``, a protocol of just what it reads, so this
  bottom-layer module never imports the composition root (``bot.service``).

``build_registry`` puts both together for one ``/metrics`` endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from bot.core.settings import Settings

log = logging.getLogger(__name__)

PIPELINE = CollectorRegistry(auto_describe=True)

_FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
_PARSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

FETCH_SECONDS = Histogram("wirewatch_fetch_duration_seconds",
                          "Time to fetch one feed body (including not-modified answers).",
                          buckets=_FETCH_BUCKETS, registry=PIPELINE)
PARSE_SECONDS = Histogram("wirewatch_parse_duration_seconds",
                          "Time to parse one feed body in the isolated parser.",
                          buckets=_PARSE_BUCKETS, registry=PIPELINE)
ITEMS_SEEN = Counter("wirewatch_items_seen", "Feed items read from parsed feeds.",
                     registry=PIPELINE)
MATCHES = Counter("wirewatch_matches", "Watch matches found in new items.", registry=PIPELINE)
_SCHEDULE_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
SCHEDULE_LAG = Histogram("wirewatch_schedule_lag_seconds",
                         "How late a due feed was when a poll for it started.",
                         buckets=_SCHEDULE_LAG_BUCKETS, registry=PIPELINE)
ARTICLES = Counter("wirewatch_article_fetches",
                   "Article page fetches for full-text matching, by outcome (ok, paywall, …).",
                   ["reason"], registry=PIPELINE)
INTERACTIONS_REFUSED = Counter(
    "wirewatch_interactions_refused",
    "Slash commands not handled: late (past the 3 s window), lease (not provably held), "
    "claimed (handled elsewhere), store (the claim failed).", ["reason"], registry=PIPELINE)
ITEMS_DROPPED = Counter("wirewatch_items_dropped",
                        "Items left out of a feed body that held more than the parser takes.",
                        registry=PIPELINE)
# Issue 23: embedding for about: watches. Lag is the wait of a batch of new items from
# entering the embedding queue to having vectors; the queue gauge counts items waiting.
_EMBED_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
EMBED_LAG = Histogram("wirewatch_embed_lag_seconds",
                      "Wait of new items for their meaning vectors (queue + model).",
                      buckets=_EMBED_BUCKETS, registry=PIPELINE)
EMBED_QUEUE = Gauge("wirewatch_embed_queue_items",
                    "Items waiting for (or being given) a meaning vector.", registry=PIPELINE)
EMBEDDED = Counter("wirewatch_embedded_items", "Items given a meaning vector.",
                   registry=PIPELINE)
EMBED_FAILURES = Counter("wirewatch_embed_failures",
                         "Batches that got no vectors (their about: terms did not match).",
                         registry=PIPELINE)
DUPLICATES_DELETED = Counter(
    "wirewatch_duplicates_deleted",
    "Second copies of an alert (same ref marker) found in a channel and deleted.",
    registry=PIPELINE)

JOBS_SKIPPED = Counter("wirewatch_jobs_skipped",
                       "Scheduled job runs skipped because the previous run was still going.",
                       ["job"], registry=PIPELINE)

DB_CACHE_S = 5.0
LAG_INTERVAL_S = 0.5


def observe_fetch(seconds: float) -> None:
    """Record how long one fetch took."""
    FETCH_SECONDS.observe(max(seconds, 0.0))


def observe_parse(seconds: float) -> None:
    """Record how long one parse took."""
    PARSE_SECONDS.observe(max(seconds, 0.0))


def observe_schedule_lag(seconds: float) -> None:
    """Record how late one due feed was when its poll started."""
    SCHEDULE_LAG.observe(max(seconds, 0.0))


def count_items(n: int) -> None:
    """Count ``n`` items read from a parsed feed."""
    if n > 0:  # Counter.inc refuses negatives; zero is a no-op anyway
        ITEMS_SEEN.inc(n)


def count_dropped(n: int) -> None:
    """Count ``n`` items dropped from an oversized feed body."""
    if n > 0:
        ITEMS_DROPPED.inc(n)


def count_duplicates_deleted(n: int) -> None:
    """Copies of an alert deleted because another copy was there first (issue 20)."""
    if n > 0:
        DUPLICATES_DELETED.inc(n)


def count_interaction_refused(reason: str) -> None:
    """A slash command this process did not run, and why (issue 20)."""
    INTERACTIONS_REFUSED.labels(reason=reason).inc()


def count_matches(n: int) -> None:
    """Count ``n`` watch matches."""
    if n > 0:
        MATCHES.inc(n)


def count_job_skipped(job: str) -> None:
    """Count one run of ``job`` skipped because its previous run had not finished."""
    JOBS_SKIPPED.labels(job=job).inc()


def embed_queued(n: int) -> None:
    """``n`` items entered (positive) or left (negative) the embedding queue."""
    EMBED_QUEUE.inc(n)


def observe_embedding(items: int, seconds: float, ok: bool) -> None:
    """One batch of ``items`` waited ``seconds`` for vectors (``ok``: it got them)."""
    EMBED_LAG.observe(max(seconds, 0.0))
    if ok and items > 0:
        EMBEDDED.inc(items)
    elif not ok:
        EMBED_FAILURES.inc()


def count_article(reason: str) -> None:
    """Count one article fetch that ended with ``reason`` (``ArticleReason``'s values)."""
    ARTICLES.labels(reason=reason).inc()


class LoopLagMonitor:
    """Measures how late the event loop wakes a task that sleeps ``interval`` seconds.

    A blocking call on the loop (a slow parse, a sync DNS lookup) shows up here before it shows
    up as missed polls.
    """

    def __init__(self, interval: float = LAG_INTERVAL_S) -> None:
        self.interval = interval
        self.last = 0.0
        self.max_seen = 0.0
        self.samples = 0
        self._registry = CollectorRegistry(auto_describe=True)
        self.histogram = Histogram("wirewatch_event_loop_lag_seconds",
                                   "How late the event loop woke a 0.5 s sleep.",
                                   buckets=_LAG_BUCKETS, registry=self._registry)

    def record(self, lag: float) -> None:
        """Record one measured overshoot."""
        self.last = lag
        self.max_seen = max(self.max_seen, lag)
        self.samples += 1
        self.histogram.observe(lag)

    async def run(self) -> None:
        """Sleep, measure the overshoot, repeat until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval)
            self.record(max(loop.time() - started - self.interval, 0.0))

    def collect(self) -> Iterable[Metric]:
        """The lag histogram and the latest sample."""
        yield from self._registry.collect()
        yield GaugeMetricFamily("wirewatch_event_loop_lag_last_seconds",
                                "The most recent event-loop lag sample.", value=self.last)


class _Counts(Protocol):
    @property
    def pending(self) -> int: ...
    @property
    def failed(self) -> int: ...


class _Feed(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def error_count(self) -> int: ...
    @property
    def paused(self) -> bool: ...


class _Subscription(Protocol):
    @property
    def feed(self) -> _Feed: ...


class _Store(Protocol):
    async def outbox_counts(self) -> _Counts: ...
    async def subscriptions(self) -> Sequence[_Subscription]: ...


class _Lag(Protocol):
    def summary(self, now: float) -> Mapping[str, float]: ...


class _Poller(Protocol):
    @property
    def results(self) -> Mapping[Any, int]: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def last_tick(self) -> float | None: ...
    @property
    def lag(self) -> _Lag: ...


class _Outbox(Protocol):
    @property
    def outcomes(self) -> Mapping[str, int]: ...


class MetricsSource(Protocol):
    """What the scrape-time collector reads of the running app (``bot.service.runtime.App``)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> _Store: ...
    @property
    def poller(self) -> _Poller: ...
    @property
    def outbox(self) -> _Outbox: ...
    @property
    def started_at(self) -> float: ...
    @property
    def gateway_down_since(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class DbSnapshot:
    """What the database said at the last refresh."""

    up: bool
    outbox_pending: int = 0
    outbox_failed: int = 0
    feeds: int = 0
    feeds_failing: int = 0
    feeds_paused: int = 0


class AppCollector:
    """Exports a running App's state at scrape time; call ``refresh`` before collecting."""

    def __init__(self, app: MetricsSource, lag: LoopLagMonitor, *, cache_s: float = DB_CACHE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.lag = lag
        self.cache_s = cache_s
        self._clock = clock
        self._snapshot = DbSnapshot(up=False)
        self._refreshed_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> DbSnapshot:
        """Re-read the database unless the last read is younger than ``cache_s``."""
        async with self._lock:  # concurrent scrapes share one read
            now = self._clock()
            if self._refreshed_at is not None and now - self._refreshed_at < self.cache_s:
                return self._snapshot
            self._snapshot = await self._read()
            self._refreshed_at = self._clock()
            return self._snapshot

    async def _read(self) -> DbSnapshot:
        store = self.app.store
        try:
            counts = await store.outbox_counts()
            subscriptions = await store.subscriptions()
        except Exception as exc:  # a metrics scrape must answer even when the database does not
            log.warning("metrics: database read failed: %s", exc)
            return DbSnapshot(up=False)
        # Several subscriptions can share one fetched feed: count feeds, not subscriptions.
        feeds = {sub.feed.id: sub.feed for sub in subscriptions}
        return DbSnapshot(
            up=True, outbox_pending=counts.pending, outbox_failed=counts.failed,
            feeds=len(feeds),
            feeds_failing=sum(1 for feed in feeds.values() if feed.error_count > 0),
            feeds_paused=sum(1 for feed in feeds.values() if feed.paused))

    def collect(self) -> Iterable[Metric]:
        """Every scrape-time metric (prometheus_client calls this from ``generate_latest``)."""
        yield from self._counters()
        yield from self._gauges()
        yield from self.lag.collect()

    def _counters(self) -> Iterator[Metric]:
        polls = CounterMetricFamily("wirewatch_polls", "Feed polls by outcome.",
                                    labels=["outcome"])
        for outcome, count in sorted(self.app.poller.results.items()):
            polls.add_metric([str(outcome)], count)
        yield polls
        deliveries = CounterMetricFamily("wirewatch_deliveries", "Delivery attempts by outcome.",
                                         labels=["outcome"])
        for outcome, count in sorted(self.app.outbox.outcomes.items()):
            deliveries.add_metric([outcome], count)
        yield deliveries

    def _gauges(self) -> Iterator[Metric]:
        snap, app = self._snapshot, self.app
        yield _gauge("wirewatch_database_up", "1 if the last metrics read of the database "
                     "worked.", float(snap.up))
        yield _gauge("wirewatch_outbox_depth", "Deliveries waiting to be sent.",
                     snap.outbox_pending)
        yield _gauge("wirewatch_outbox_failed", "Deliveries that failed permanently.",
                     snap.outbox_failed)
        yield _gauge("wirewatch_feeds", "Feeds subscribed to.", snap.feeds)
        yield _gauge("wirewatch_feeds_failing", "Feeds whose last poll failed.",
                     snap.feeds_failing)
        yield _gauge("wirewatch_feeds_paused", "Feeds paused.", snap.feeds_paused)
        yield _gauge("wirewatch_polls_in_flight", "Polls running now.", app.poller.in_flight)
        lag = app.poller.lag.summary(time.monotonic())
        yield _gauge("wirewatch_schedule_lag_p95_seconds", "95th percentile of how late due "
                     "feeds were when claimed, over the last minute.", lag["p95_s"])
        yield _gauge("wirewatch_schedule_lag_max_seconds", "Largest schedule lag over the "
                     "last minute.", lag["max_s"])
        if app.poller.last_tick is not None:
            yield _gauge("wirewatch_scheduler_last_tick_age_seconds",
                         "Seconds since the scheduler last ticked.",
                         max(time.monotonic() - app.poller.last_tick, 0.0))
        yield _gauge("wirewatch_start_time_seconds", "Unix time the bot started.",
                     app.started_at)
        if app.settings.discord_token:
            yield _gauge("wirewatch_gateway_connected", "1 while the Discord gateway is "
                         "connected.", float(app.gateway_down_since is None))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _Forward:
    """Exposes another registry's metrics inside this one (the shared pipeline metrics)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()


def build_registry(collector: AppCollector, *, process: bool = True) -> CollectorRegistry:
    """A registry for one ``/metrics`` endpoint: pipeline, app state and process metrics."""
    # auto_describe=False: names are checked for clashes per registry, and the forwarded
    # pipeline registry already checked its own.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward(PIPELINE))
    registry.register(collector)
    if process:
        ProcessCollector(registry=registry)
    return registry
