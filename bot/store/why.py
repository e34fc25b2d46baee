"""``/why`` and ``wirewatch why``: gather the rows about one article for one audience.

The audience is a guild (its own feeds and watches and the config file's, as ``/feed list``
and ``/watch list`` show them) or the operator (``None``: every guild). Nothing outside the
audience is read into the answer: items are looked for only in the audience's feeds, feed
names are the audience's, outcomes only of its watches. ``bot.core.fate.decide`` makes the
answer from the ``Evidence`` built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, and_, func, or_, select

from bot.core.fate import Evidence, FeedFacts, Outcome, Sighting, WatchFacts
from bot.core.urls import host_of, normalise_link, redact_urls
from bot.store.database import Database
from bot.store.feeds import subscription_rows
from bot.store.rows import CONFIG_GUILD, Subscription
from bot.store.schema import (
    deliveries,
    held_matches,
    item_trail,
    items,
    story_posts,
    subscriptions,
    watches,
)
from bot.store.stories import target_key
from bot.store.trail import verdicts_from_json

MAX_CANDIDATES = 10
DIGEST_FEED_ID = 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """An item that fits the question (shown when several different articles do)."""

    feed: str
    title: str
    link: str
    first_seen: float


@dataclass(frozen=True, slots=True)
class Lookup:
    """The evidence about the one article asked for, or the candidates when several fit."""

    evidence: Evidence | None
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True, slots=True)
class _Item:
    feed_id: int
    key: str
    title: str
    link: str
    first_seen: float


def is_link(asked: str) -> bool:
    """Whether ``/why``'s argument is a link (else it is words of a headline)."""
    return asked.strip().lower().startswith(("http://", "https://"))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Why(Database):
    """What became of an article, for one guild or for the operator."""

    async def why(self, guild_id: int | None, asked: str) -> Lookup:
        """The rows behind ``/why`` (``guild_id``) or ``wirewatch why`` (None: all guilds)."""
        return await self.read(lambda conn: _lookup(conn, guild_id, asked.strip()))


def _audience_feeds(conn: Connection, guild_id: int | None) -> dict[int, Subscription]:
    """Feed id → the audience's subscription (a guild's own name before the config's)."""
    subs = subscription_rows(conn, guild_id, None)
    if guild_id is not None and guild_id != CONFIG_GUILD:
        subs += subscription_rows(conn, CONFIG_GUILD, None)
    found: dict[int, Subscription] = {}
    for sub in subs:
        found.setdefault(sub.feed.id, sub)
    return found


def _lookup(conn: Connection, guild_id: int | None, asked: str) -> Lookup:
    subs = _audience_feeds(conn, guild_id)
    link = normalise_link(asked) if is_link(asked) else ""
    found = _by_link(conn, subs, link) if link else _by_words(conn, subs, asked)
    groups: dict[str, list[_Item]] = {}
    for item in found:
        groups.setdefault(normalise_link(item.link) or item.key, []).append(item)
    if len(groups) > 1:
        newest = sorted(found, key=lambda i: -i.first_seen)
        return Lookup(None, tuple(Candidate(subs[i.feed_id].name, i.title, i.link, i.first_seen)
                                  for i in newest[:MAX_CANDIDATES]))
    chosen = next(iter(groups.values()), [])
    return Lookup(_evidence(conn, guild_id, subs, chosen, link))


def _by_link(conn: Connection, subs: dict[int, Subscription], link: str) -> list[_Item]:
    parts = urlsplit(link)
    tail = (parts.hostname or "") + parts.path  # a prefilter; compared canonically below
    query = select(items.c.feed_id, items.c.key, items.c.title, items.c.link,
                   items.c.first_seen).where(items.c.feed_id.in_(sorted(subs)),
                                             func.lower(items.c.link).like(
                                                 _like(tail.lower()), escape="\\"))
    bare = link.partition("://")[2]
    return [_Item(*row) for row in conn.execute(query)
            if normalise_link(row.link).partition("://")[2] == bare]


def _by_words(conn: Connection, subs: dict[int, Subscription], asked: str) -> list[_Item]:
    words = [w for w in asked.split() if w][:8]
    if not words:
        return []
    query = (select(items.c.feed_id, items.c.key, items.c.title, items.c.link,
                    items.c.first_seen)
             .where(items.c.feed_id.in_(sorted(subs)),
                    *(func.lower(items.c.title).like(_like(w.lower()), escape="\\")
                      for w in words))
             .order_by(items.c.first_seen.desc()).limit(50))
    return [_Item(*row) for row in conn.execute(query)]


def _audience_watches(conn: Connection, guild_id: int | None) -> list[Any]:
    query = select(watches).order_by(watches.c.guild_id == CONFIG_GUILD, watches.c.name)
    if guild_id is not None:
        query = query.where(watches.c.guild_id.in_({guild_id, CONFIG_GUILD}))
    return list(conn.execute(query).mappings())


def feed_facts(sub: Subscription, guild_id: int | None) -> FeedFacts:
    """A subscription's feed as ``guild_id`` may see it (None: the operator)."""
    feed = sub.feed
    # A guild sees only the host of the config file's feeds, as in /feed list.
    config = guild_id is not None and sub.guild_id == CONFIG_GUILD
    error = redact_urls(feed.last_error, host_only=config) if feed.last_error else None
    return FeedFacts(sub.name, host_of(feed.url), feed.last_success, feed.last_success,
                     feed.error_count, error, feed.paused)


def _evidence(conn: Connection, guild_id: int | None, subs: dict[int, Subscription],
              chosen: Sequence[_Item], link: str) -> Evidence:
    rows = _audience_watches(conn, guild_id)
    facts = tuple(WatchFacts(r["id"], r["name"], bool(r["paused"]), r["paused_reason"],
                             tuple(r["feed_names"]) if r["feed_names"] is not None else None,
                             float(r["created_at"])) for r in rows)
    feeds = tuple(feed_facts(sub, guild_id) for sub in subs.values())
    host = host_of(link) if link else ""
    if not chosen:
        return Evidence((), facts, (), feeds, host if host != "?" else "",
                        _hosts_seen(conn, subs, host) if link else frozenset())
    rows = _seeing(conn, rows, {item.feed_id for item in chosen})
    facts = tuple(f for f in facts if f.id in {int(r["id"]) for r in rows})
    trail = _trail_rows(conn, chosen)
    sightings = tuple(_sighting(conn, subs[item.feed_id].name, item,
                                trail.get((item.feed_id, item.key))) for item in chosen)
    by_id = {int(r["id"]): r for r in rows}
    outcomes = _outcomes(conn, chosen, by_id)
    done = {o.watch_id for o in outcomes}
    outcomes += _folds(conn, trail.values(), by_id, done)
    return Evidence(sightings, facts, tuple(outcomes), feeds, host)


def _seeing(conn: Connection, rows: list[Any], feed_ids: set[int]) -> list[Any]:
    """The watches that see one of ``feed_ids``: a guild's see its feeds and the config
    file's; the config file's see only its own."""
    guilds = set(conn.execute(select(subscriptions.c.guild_id).where(
        subscriptions.c.feed_id.in_(sorted(feed_ids)))).scalars())
    if CONFIG_GUILD in guilds:
        return rows
    return [row for row in rows if row["guild_id"] in guilds]


def _pairs(chosen: Sequence[_Item], feed_col: Any, key_col: Any) -> Any:
    return or_(*(and_(feed_col == item.feed_id, key_col == item.key) for item in chosen))


def _trail_rows(conn: Connection, chosen: Sequence[_Item]) -> dict[tuple[int, str], Any]:
    query = select(item_trail).where(_pairs(chosen, item_trail.c.feed_id,
                                            item_trail.c.item_key))
    return {(int(r["feed_id"]), str(r["item_key"])): r for r in conn.execute(query).mappings()}


def _sighting(conn: Connection, name: str, item: _Item, trail: Any) -> Sighting:
    if trail is not None:
        return Sighting(name, item.title, item.link, item.first_seen,
                        verdicts_from_json(trail["verdicts"]), trail["article"])
    first = conn.execute(select(func.min(items.c.first_seen)).where(
        items.c.feed_id == item.feed_id)).scalar()
    return Sighting(name, item.title, item.link, item.first_seen, None, None,
                    first is not None and item.first_seen <= float(first))


def message_link(guild_id: int, channel_id: int | None, message_id: str | None) -> str | None:
    """The Discord link of a posted message, when its channel is known (channel watches)."""
    if not message_id or not channel_id or guild_id == CONFIG_GUILD:
        return None
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _link(watch: Any, message_id: str | None) -> str | None:
    return message_link(int(watch["guild_id"]), watch["channel_id"], message_id)


def _outcomes(conn: Connection, chosen: Sequence[_Item], by_id: dict[int, Any]) -> list[Outcome]:
    out: list[Outcome] = []
    query = select(deliveries).where(
        _pairs(chosen, deliveries.c.feed_id, deliveries.c.item_key),
        deliveries.c.edit_of.is_(None), deliveries.c.watch_id.in_(sorted(by_id)))
    for row in conn.execute(query).mappings():
        watch = by_id[int(row["watch_id"])]
        out.append(Outcome(int(row["watch_id"]), "delivery", str(row["status"]),
                           row["sent_at"] or row["created_at"], row["last_error"],
                           int(row["attempts"]), _link(watch, row["message_id"])))
    query = select(held_matches).where(
        _pairs(chosen, held_matches.c.feed_id, held_matches.c.item_key),
        held_matches.c.watch_id.in_(sorted(by_id)))
    for row in conn.execute(query).mappings():
        out.append(_held(conn, row, by_id[int(row["watch_id"])]))
    return out


def _held(conn: Connection, row: Any, watch: Any) -> Outcome:
    until = float(row["hold_until"])
    if row["digest_id"] is None:
        return Outcome(int(watch["id"]), "held", "held", until)
    sent = conn.execute(select(deliveries).where(
        deliveries.c.watch_id == watch["id"], deliveries.c.feed_id == DIGEST_FEED_ID,
        deliveries.c.item_key == f"digest:{until:.0f}:1")).mappings().first()
    if sent is None or sent["status"] != "sent":
        return Outcome(int(watch["id"]), "held", "held", until)
    return Outcome(int(watch["id"]), "held", "sent", until, None, 0,
                   _link(watch, sent["message_id"]))


def _folds(conn: Connection, trail: Any, by_id: dict[int, Any],
           done: set[int]) -> list[Outcome]:
    """Matches of "group" watches that joined a story already posted on their target."""
    out: list[Outcome] = []
    for row in trail:
        if row["story_id"] is None:
            continue
        for verdict in verdicts_from_json(row["verdicts"]):
            watch = by_id.get(verdict.watch_id)
            if watch is None or not verdict.matched or verdict.watch_id in done:
                continue
            target = target_key(watch["channel_id"], watch["webhook_url"])
            post = conn.execute(select(deliveries).join_from(
                story_posts, deliveries, deliveries.c.id == story_posts.c.delivery_id).where(
                story_posts.c.story_id == row["story_id"], story_posts.c.target == target,
                deliveries.c.watch_id.in_(sorted(by_id)))).mappings().first()
            if post is not None:
                done.add(verdict.watch_id)
                out.append(Outcome(verdict.watch_id, "folded", str(post["status"]),
                                   post["sent_at"] or post["created_at"], None, 0,
                                   _link(watch, post["message_id"])))
    return out


def _hosts_seen(conn: Connection, subs: dict[int, Subscription], host: str) -> frozenset[str]:
    """``{host}`` when a healthy followed feed has brought items from that host."""
    healthy = sorted(i for i, s in subs.items() if not s.feed.error_count and not s.feed.paused)
    if not host or not healthy:
        return frozenset()
    found = conn.execute(select(items.c.key).where(
        items.c.feed_id.in_(healthy),
        func.lower(items.c.link).like(_like(f"://{host.lower()}/"), escape="\\")).limit(1)).first()
    return frozenset({host}) if found is not None else frozenset()
