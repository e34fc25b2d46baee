"""One feed poll, step by step (miniflux's RefreshFeed is the model).

fetch → not modified? stop → same body? stop → only known items? stop → parse (isolated)
→ store, learning what is new, and in the same transaction match + render + queue alerts
→ schedule the next check. A failure at any step is recorded on the feed, never raised:
a database error too (a deadlock, a lock wait past its bound). Every write names the claim's
fencing token (``FeedRow.lease_token``): a poll whose claim passed to another (it paused or
stalled past its lease) writes nothing, and says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from bot.core import metrics
from bot.core.errors import FeedError, FetchError, LeaseLost, StoreError
from bot.core.model import Entry
from bot.pipeline.article import ArticleFetcher
from bot.pipeline.fetch import Fetcher, NotModified
from bot.pipeline.fulltext import (
    FullTextMode,
    add_article_text,
    as_asked,
    by_follower_mode,
    full_text_mode,
    strongest_mode,
)
from bot.pipeline.hold import hold_drafts
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.next_check import (
    DEFAULT_MAX_AUTO_S,
    DEFAULT_MIN_AUTO_S,
    PAUSE_AFTER_FAILURES,
    PAUSED_PROBE_S,
    feed_interval,
    next_check_after_failure,
    next_check_in_force,
    schedule_after_parse,
)
from bot.pipeline.prescan import prescan_keys
from bot.pipeline.preview import Preview, preview_matches
from bot.pipeline.render import MatcherCache, in_publication_order, plan_deliveries
from bot.store.base import Store
from bot.store.rows import DeliveryDraft, FeedRow

log = logging.getLogger(__name__)

CORRECTION_WINDOW_S = 24 * 3600.0  # corrections of alerts older than this are not looked for


class Outcome(StrEnum):
    """How a poll ended (a metrics label)."""

    NOT_MODIFIED = "not_modified"
    UNCHANGED = "unchanged"
    KNOWN = "known"
    INGESTED = "ingested"
    FAILED = "failed"


@dataclass
class PollResult:
    """What one poll did."""

    outcome: Outcome
    new_items: int = 0
    deliveries: int = 0
    error: str | None = None
    # Set on a feed's silent first poll: what was recorded and what would have matched.
    preview: Preview | None = None
    unreachable: bool = False  # failed before any server answered (DNS, connect, timeout)


@dataclass
class PollDeps:
    """What a poll needs, built once by the application."""

    store: Store
    fetcher: Fetcher
    parser: IsolatedParser
    matchers: MatcherCache = field(default_factory=MatcherCache)
    clock: Callable[[], float] = field(default=lambda: datetime.now(UTC).timestamp())
    rng: random.Random = field(default_factory=random.Random)
    on_queued: Callable[[int], None] = lambda count: None
    on_feed_paused: Callable[[FeedRow, str], Awaitable[None]] | None = None
    pause_after: int = PAUSE_AFTER_FAILURES
    # Full text (issue 13): None turns article fetches off; the mode is the feed's (store).
    articles: ArticleFetcher | None = None
    # The console reporter (bot.service.reporting): sees every result; picks the failure log level,
    # so that an offline machine is said once rather than per feed.
    on_result: Callable[[FeedRow, PollResult], None] = lambda feed, result: None
    failure_level: Callable[[FeedError], int] = lambda exc: logging.WARNING
    # [bot] min_interval / max_interval: the range of an "auto" interval.
    interval_bounds: tuple[float, float] = (DEFAULT_MIN_AUTO_S, DEFAULT_MAX_AUTO_S)


async def poll_feed(feed: FeedRow, deps: PollDeps) -> PollResult:
    """Poll one feed; record success or failure on it; queue alerts for new matching items."""
    try:
        result = await _poll(feed, deps)
    except FeedError as exc:
        result = await _record_failure(feed, deps, exc)
    except LeaseLost as exc:
        log.warning("feed %r: result dropped: %s", feed.name, exc, extra={"feed": feed.name})
        result = PollResult(Outcome.FAILED, error=str(exc))
    except StoreError as exc:
        result = await _record_store_error(feed, deps, exc)
    deps.on_result(feed, result)
    return result


async def _poll(feed: FeedRow, deps: PollDeps) -> PollResult:
    store, now = deps.store, deps.clock()
    started = time.perf_counter()
    response = await deps.fetcher.fetch(feed.url, etag=feed.etag,
                                        last_modified=feed.last_modified)
    metrics.observe_fetch(time.perf_counter() - started)
    interval = feed_interval(feed, now, deps.interval_bounds, response.max_age_s)
    next_check = next_check_in_force(now, interval, response.max_age_s, deps.rng)
    if isinstance(response, NotModified):
        await store.record_unchanged(feed.id, now, next_check, lease=feed.lease_token)
        return PollResult(Outcome.NOT_MODIFIED)
    body_hash = hashlib.sha256(response.body).hexdigest()
    if feed.primed and body_hash == feed.body_hash:
        await store.record_unchanged(feed.id, now, next_check, response.etag,
                                     response.last_modified, lease=feed.lease_token)
        return PollResult(Outcome.UNCHANGED)
    if feed.primed and await _all_known(feed, response.body, response.headers, store, now):
        await store.record_unchanged(feed.id, now, next_check, response.etag,
                                     response.last_modified, body_hash, lease=feed.lease_token)
        return PollResult(Outcome.KNOWN)
    started = time.perf_counter()
    parsed = await deps.parser.parse(response.body, response.headers, response.final_url)
    metrics.observe_parse(time.perf_counter() - started)
    next_check, publishing = schedule_after_parse(feed, parsed, now, deps.interval_bounds,
                                                  response.max_age_s, deps.rng)
    watches = await store.watches_for_feed(feed.id)
    entries, modes = await _with_articles(feed, parsed.entries, bool(watches), deps)
    seen_at = datetime.fromtimestamp(now, UTC)

    def plan(new_entries: Sequence[Entry]) -> list[DeliveryDraft]:
        # Each follower's watches match the text that follower asked for (issue 24).
        drafts: list[DeliveryDraft] = []
        for mode, group in by_follower_mode(watches, modes).items():
            seen = as_asked(new_entries, mode)
            found = plan_deliveries(seen, group, deps.matchers, feed.url, seen_at)
            # Digest periods by the clock when matched, just before the write: a draft late
            # for a digest already made is sent alone by the store (bot.store.digests).
            drafts += hold_drafts(found, group, seen, datetime.fromtimestamp(deps.clock(), UTC))
        return drafts if len(modes) < 2 else in_publication_order(drafts, new_entries)

    result = await store.ingest(
        feed.id, entries, now=now, next_check=next_check, title=parsed.title or None,
        etag=response.etag, last_modified=response.last_modified, body_hash=body_hash,
        plan=plan, publishing=publishing, lease=feed.lease_token)
    metrics.count_items(result.new_items)
    metrics.count_matches(result.deliveries)
    if result.new_items:
        log.info("feed %r: %d new items, %d alerts queued", feed.name, result.new_items,
                 result.deliveries, extra={"feed": feed.name})
    if result.deliveries:
        deps.on_queued(result.deliveries)
    preview = None
    if not feed.primed and not result.deliveries:
        # Decided outside the store's transaction; HTML→text is CPU work, off the loop.
        preview = await asyncio.to_thread(preview_matches, feed.name, result.new_items,
                                          parsed.entries, watches, deps.matchers)
    return PollResult(Outcome.INGESTED, result.new_items, result.deliveries, preview=preview)


async def _with_articles(feed: FeedRow, entries: Sequence[Entry], watched: bool, deps: PollDeps
                         ) -> tuple[Sequence[Entry], dict[int, FullTextMode]]:
    """Entries with the article text of new teaser items (issue 13), when any watch sees them;
    and each follower's mode (guild id → mode), empty when no text was added.

    Never on a feed's first poll (it records silently) and never for known items: the
    store's ``known_keys`` says which are new before anything is written. Pages are fetched
    for the strongest mode any follower asks; ``as_asked`` gives each follower its own.
    """
    if deps.articles is None or not feed.primed or not watched or not entries:
        return entries, {}
    modes = {guild: full_text_mode(mode)
             for guild, mode in (await deps.store.full_text_modes(feed.id)).items()}
    mode = strongest_mode(modes.values())
    if mode == "never":
        return entries, {}
    known = await deps.store.known_keys(feed.id, [entry.key for entry in entries])
    new_keys = {entry.key for entry in entries} - known
    # A page may reach the allowed private networks only if its feed may (bot.pipeline.access),
    # and only on the feed's own host (bot.pipeline.fulltext).
    access = deps.fetcher.access
    private = None if access is None else await access.permits(feed.url)
    enriched, outcomes = await add_article_text(entries, new_keys, mode, deps.articles,
                                                feed.name, private, feed.url)
    if outcomes:
        try:  # for /feed list; a poll never fails over its statistics
            await deps.store.record_articles(feed.id, Counter(a.reason.value for a in outcomes))
        except StoreError as exc:
            log.warning("feed %r: article counts not recorded: %s", feed.name, exc,
                        extra={"feed": feed.name})
    return enriched, modes


async def _all_known(feed: FeedRow, body: bytes, headers: Mapping[str, str],
                     store: Store, now: float) -> bool:
    # A lean pre-scan costs ~1 ms where feedparser costs 50–80 ms: skip the parse when
    # every item id in the body is already recorded. Off the event loop: a 5 MB body
    # takes ~100 ms.
    keys = await asyncio.to_thread(prescan_keys, body, headers)
    if not keys:
        return False
    if len(await store.known_keys(feed.id, keys)) != len(set(keys)):
        return False
    # A changed body may carry a corrected headline of an item we alerted on (issue 14):
    # parse then, so the alert is edited; the ingest compares a title+summary hash. Only
    # bodies with recently alerted items pay for it, never the plain "nothing new" polls.
    return not await store.alerted_keys(feed.id, keys, now - CORRECTION_WINDOW_S)


async def _record_failure(feed: FeedRow, deps: PollDeps, exc: FeedError) -> PollResult:
    now = deps.clock()
    retry_after = exc.retry_after if isinstance(exc, FetchError) else None
    next_check = next_check_after_failure(now, feed.interval_s, feed.error_count + 1,
                                          retry_after, deps.rng)
    if feed.paused:
        next_check = max(next_check, now + PAUSED_PROBE_S)
    count = await deps.store.record_failure(feed.id, now, str(exc), next_check,
                                            lease=feed.lease_token)
    level = deps.failure_level(exc)
    log.log(level, "feed %r failed (%d in a row): %s; next try in %.0fs",
            feed.name, count, exc, next_check - now, extra={"feed": feed.name})
    # Below WARNING: this machine is offline, which is no reason to give up on the feed.
    if count >= deps.pause_after and level >= logging.WARNING \
            and await deps.store.pause_feed(feed.id, now + PAUSED_PROBE_S,
                                            lease=feed.lease_token):
        log.error("feed %r paused after %d failures in a row: %s", feed.name, count, exc,
                  extra={"feed": feed.name})
        if deps.on_feed_paused is not None:
            try:
                await deps.on_feed_paused(feed, str(exc))
            except Exception:
                log.exception("feed %r: could not tell its guilds it was paused", feed.name)
    return PollResult(Outcome.FAILED, error=str(exc),
                      unreachable=isinstance(exc, FetchError) and exc.unreachable)


async def _record_store_error(feed: FeedRow, deps: PollDeps, exc: StoreError) -> PollResult:
    """A database error (a deadlock, a lock wait past its bound): written on the feed row
    like any failure, retried soon, never a reason to pause the feed."""
    now = deps.clock()
    next_check = next_check_after_failure(now, feed.interval_s, 1, None, deps.rng)
    log.warning("feed %r: poll failed on the database: %s; next try in %.0fs", feed.name,
                exc, next_check - now, extra={"feed": feed.name})
    try:
        await deps.store.record_failure(feed.id, now, str(exc), next_check,
                                        lease=feed.lease_token)
    except StoreError as again:  # the database is away: the claim expires, the feed is due
        log.warning("feed %r: the failure could not be recorded either: %s", feed.name, again,
                    extra={"feed": feed.name})
    return PollResult(Outcome.FAILED, error=str(exc))
