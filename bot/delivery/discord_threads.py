"""Forum channels and threads for the REST sender (issue 22).

A watch whose channel is a forum makes one forum post per story (``POST
/channels/{forum}/threads``), tagged with the watch's name (the tag is created when missing);
the post's first message has the thread's id, so edits and follow-ups address the thread by
the message id the outbox recorded. A watch with ``follow_ups = "thread"`` opens a thread on
its story message (its id is the message's; 160004 means it exists) and posts each further
source there.

What a channel is comes from ``GET /channels/{id}``, asked once per channel and process (a
forum's tags: before each post).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.core.errors import DeliveryError, PermanentDelivery, RetryableDelivery, TargetGone

log = logging.getLogger(__name__)

GUILD_FORUM = 15
THREAD_EXISTS = "160004"
THREAD_NAME_MAX = 100
TAG_NAME_MAX = 20
ARCHIVE_AFTER_MIN = 1440  # a story's thread stays open a day after its last message
Request = Callable[..., Awaitable[dict[str, Any]]]


@dataclass
class ChannelInfo:
    """What the sender needs to know about a channel: its type and a forum's tags."""

    type: int
    tags: list[dict[str, str]] = field(default_factory=list)  # {"id", "name"} each

    def tag_id(self, name: str) -> str | None:
        """The id of the tag called ``name`` (ignoring case), if the forum has one."""
        return next((tag["id"] for tag in self.tags
                     if tag["name"].casefold() == name.casefold()), None)


def thread_name(title: str) -> str:
    """A thread or post name: the headline on one line, at most 100 characters."""
    name = " ".join(title.split()) or "Story"
    return name if len(name) <= THREAD_NAME_MAX else name[:THREAD_NAME_MAX - 1] + "…"


def tag_name(watch_name: str) -> str:
    """A forum tag for a watch: its name cut to Discord's 20 characters."""
    return " ".join(watch_name.split())[:TAG_NAME_MAX] or "watch"


class Threads:
    """Channel types, forum tags and threads, through the sender's request function."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._channels: dict[int, ChannelInfo] = {}
        self._open: set[int] = set()  # threads known to exist

    async def channel(self, channel_id: int, *, strict: bool = False) -> ChannelInfo:
        """The channel's type (and a forum's tags). When it cannot be read: a text channel
        (not remembered), or with ``strict`` a transient failure is raised (an edit that
        guessed wrong would be dropped as an unknown message)."""
        known = self._channels.get(channel_id)
        return known if known is not None else await self._read(channel_id, strict)

    async def _read(self, channel_id: int, strict: bool = True) -> ChannelInfo:
        try:
            data = await self._request("GET", f"/channels/{channel_id}", None,
                                       what=f"channel {channel_id}")
        except RetryableDelivery:
            if strict:
                raise
            return ChannelInfo(0)
        except DeliveryError:
            return ChannelInfo(0)  # the send itself will say what is wrong; ask again later
        info = _info(data)
        self._channels[channel_id] = info
        return info

    async def is_forum(self, channel_id: int, *, strict: bool = False) -> bool:
        """Whether alerts to this channel become forum posts (``strict``: see ``channel``)."""
        return (await self.channel(channel_id, strict=strict)).type == GUILD_FORUM

    async def forum_post(self, forum_id: int, title: str, watch_name: str,
                         message: dict[str, object]) -> str | None:
        """Create a post for one story; its id (the first message's id too)."""
        tag = await self._tag(forum_id, watch_name)
        body: dict[str, object] = {
            "name": thread_name(title), "auto_archive_duration": ARCHIVE_AFTER_MIN,
            "message": {k: v for k, v in message.items() if k not in ("nonce",
                                                                     "enforce_nonce")},
            "applied_tags": [tag] if tag else []}
        made = await self._request("POST", f"/channels/{forum_id}/threads", body,
                                   what=f"forum {forum_id}")
        self._open.add(int(made.get("id") or 0))
        return str(made["id"]) if made.get("id") else None

    async def open_thread(self, channel_id: int, message_id: int, title: str) -> None:
        """Make sure the story message has its thread (a forum post is one already)."""
        if message_id in self._open or await self.is_forum(channel_id, strict=True):
            return
        try:
            await self._request(
                "POST", f"/channels/{channel_id}/messages/{message_id}/threads",
                {"name": thread_name(title), "auto_archive_duration": ARCHIVE_AFTER_MIN},
                what=f"channel {channel_id}")
        except TargetGone as exc:
            # Missing Create Public Threads: the thread post fails, the watch goes on.
            raise PermanentDelivery(f"cannot open a thread: {exc}") from None
        except PermanentDelivery as exc:
            if THREAD_EXISTS not in str(exc):
                raise
        self._open.add(message_id)

    async def _tag(self, forum_id: int, watch_name: str) -> str | None:
        """The forum's tag for the watch, created when missing; None if it cannot be.

        The tags are read afresh for each post: a tag an admin deleted must not be applied.
        """
        info = await self._read(forum_id)
        wanted = tag_name(watch_name)
        found = info.tag_id(wanted)
        if found is not None:
            return found
        tags = [dict(tag) for tag in info.tags]
        try:
            data = await self._request(
                "PATCH", f"/channels/{forum_id}",
                {"available_tags": [*tags, {"name": wanted}]}, what=f"forum {forum_id}")
        except (PermanentDelivery, TargetGone) as exc:
            log.warning("forum %s: cannot create the tag %r (%s); posting without it",
                        forum_id, wanted, exc)
            return None
        self._channels[forum_id] = _info(data)
        return self._channels[forum_id].tag_id(wanted)


def _info(data: dict[str, Any]) -> ChannelInfo:
    tags = [{"id": str(tag.get("id")), "name": str(tag.get("name", ""))}
            for tag in data.get("available_tags") or () if isinstance(tag, dict)]
    try:
        kind = int(data.get("type") or 0)
    except (TypeError, ValueError):
        kind = 0
    return ChannelInfo(kind, tags)
