"""Threads on messages, forum channels with tags, and forum posts in the fake Discord.

    POST  /channels/{c}/messages/{m}/threads   a thread on a message; its id is the message's
    POST  /channels/{forum}/threads            a forum post: a thread with a first message
    PATCH /channels/{forum}                    ``available_tags`` (needs Manage Channels)

Discord's rules that matter to a bot:

* a second thread on one message: 400 ``{"code": 160004, "message": "A thread has already
  been created for this message"}``;
* without Create Public Threads / Manage Channels (``state.bot_lacks`` holds
  ``"create_public_threads"`` / ``"manage_channels"``): 403 50013 Missing Permissions;
* a forum takes no plain message (``POST /channels/{forum}/messages``: 400 50008); a forum
  post's first message has the thread's id; ``applied_tags`` must name the forum's tags;
* messages go into a thread with ``POST /channels/{thread}/messages``; THREAD_CREATE is
  dispatched for every new thread.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .discord_gateway import Gateway
from .discord_payloads import JSON, FakeChannel
from .discord_rest import RECORD, Reply, add_endpoint, error
from .discord_roles import missing_permissions
from .discord_state import FakeState
from .discord_validate import check_message

GUILD_TEXT, PUBLIC_THREAD, GUILD_FORUM = 0, 11, 15
THREAD_EXISTS = 160004
UNKNOWN_CHANNEL, UNKNOWN_MESSAGE = 10003, 10008
TAG_NAME_MAX, TAGS_MAX = 20, 20
THREAD_NAME_MAX = 100


def _invalid(field: str, message: str) -> Reply:
    return 400, {"message": "Invalid Form Body", "code": 50035,
                 "errors": {field: {"_errors": [{"code": "INVALID", "message": message}]}}}


class ThreadApi:
    """Threads, forum posts and forum tags; register before the REST catch-all."""

    def __init__(self, state: FakeState, gateway: Gateway) -> None:
        self.state = state
        self.gateway = gateway

    def add_routes(self, app: web.Application) -> None:
        """Register the routes."""
        add_endpoint(app, "POST", r"/channels/{cid:\d+}/messages/{mid:\d+}/threads",
                     self.thread_on_message)
        add_endpoint(app, "POST", r"/channels/{cid:\d+}/threads", self.forum_post)
        add_endpoint(app, "PATCH", r"/channels/{cid:\d+}", self.edit_channel)

    def _name(self, body: Any) -> str | Reply:
        name = " ".join(str(body.get("name") or "").split()) if isinstance(body, dict) else ""
        if not 1 <= len(name) <= THREAD_NAME_MAX:
            return _invalid("name", f"Must be between 1 and {THREAD_NAME_MAX} in length.")
        return name

    async def _open(self, thread_id: int, name: str, parent_id: int) -> JSON:
        channel = FakeChannel(thread_id, name, type=PUBLIC_THREAD)
        self.state.add_thread(channel, parent_id)
        thread = self.state.channel_payload(thread_id)
        await self.gateway.dispatch_if_ready("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def thread_on_message(self, request: web.Request) -> Reply:
        """``POST /channels/{c}/messages/{m}/threads``: a public thread started from ``m``."""
        cid, mid = int(request.match_info["cid"]), int(request.match_info["mid"])
        found = self.state.channels.get(cid)
        if found is None:
            return error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        if not any(m["id"] == str(mid) for m in self.state.messages.get(cid, [])):
            return error(404, UNKNOWN_MESSAGE, "Unknown Message")
        if mid in self.state.channels:
            return error(400, THREAD_EXISTS, "A thread has already been created for this message")
        if "create_public_threads" in self.state.bot_lacks:
            return missing_permissions()
        name = self._name(request[RECORD].json)
        if not isinstance(name, str):
            return name
        return 201, await self._open(mid, name, cid)

    async def forum_post(self, request: web.Request) -> Reply:
        """``POST /channels/{forum}/threads``: a post (thread + first message) with tags."""
        cid = int(request.match_info["cid"])
        found = self.state.channels.get(cid)
        if found is None:
            return error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        if found[0].type != GUILD_FORUM:
            return error(400, 50024, "Cannot execute action on this channel type")
        body = request[RECORD].json
        name = self._name(body)
        if not isinstance(name, str):
            return name
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict):
            return _invalid("message", "This field is required")
        invalid = check_message(message)
        if invalid is not None:
            return 400, invalid
        known = {tag["id"] for tag in self.state.forum_tags.get(cid, [])}
        tags = [str(t) for t in body.get("applied_tags") or []]
        if any(tag not in known for tag in tags):
            return _invalid("applied_tags", "Unknown tag")
        thread_id = self.state.ids.next()
        thread = await self._open(thread_id, name, cid)
        thread["applied_tags"] = tags
        self.state.applied_tags[thread_id] = tags
        first = self.state.build_message(thread_id, message)
        first["id"] = str(thread_id)  # a forum post's first message has the thread's id
        self.state.store_message(thread_id, first, {})
        return 201, {**thread, "message": first}

    async def edit_channel(self, request: web.Request) -> Reply:
        """``PATCH /channels/{c}``: only ``available_tags`` of a forum is supported."""
        cid = int(request.match_info["cid"])
        found = self.state.channels.get(cid)
        if found is None:
            return error(404, UNKNOWN_CHANNEL, "Unknown Channel")
        if "manage_channels" in self.state.bot_lacks:
            return missing_permissions()
        body = request[RECORD].json
        tags = body.get("available_tags") if isinstance(body, dict) else None
        if found[0].type != GUILD_FORUM or not isinstance(tags, list):
            return _invalid("available_tags", "Only a forum's available_tags can be changed")
        if len(tags) > TAGS_MAX:
            return _invalid("available_tags", f"Must be {TAGS_MAX} or fewer in length.")
        kept = []
        for tag in tags:
            name = str(tag.get("name") or "") if isinstance(tag, dict) else ""
            if not 1 <= len(name) <= TAG_NAME_MAX:
                return _invalid("available_tags", f"Tag names are 1 to {TAG_NAME_MAX} long")
            kept.append({"id": str(tag.get("id") or self.state.ids.next()), "name": name,
                         "moderated": False, "emoji_id": None, "emoji_name": None})
        self.state.forum_tags[cid] = kept
        self.state.changed()
        return 200, self.state.channel_payload(cid)
