"""What the fake Discord remembers (requests, messages, commands, interactions); waiting on it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from .discord_faults import FaultPlan
from .discord_payloads import (
    JSON,
    FakeChannel,
    FakeConfig,
    FakeGuild,
    FakeRole,
    FakeWebhook,
    Snowflakes,
    channel_json,
    now_iso,
    resolve_mentions,
    role_json,
    user_json,
)

T = TypeVar("T")
POLL_INTERVAL = 0.01


@dataclass
class RecordedRequest:
    """One REST request as the fake saw it; ``path`` is relative to ``/api/v10``."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    time: float
    status: int = 0
    unknown_route: bool = False

    def to_json(self) -> JSON:
        """Plain JSON for the control API."""
        return asdict(self)


@dataclass
class InteractionRecord:
    """An interaction the fake sent, and every answer the client gave to it."""

    id: int
    token: str
    payload: JSON
    created: float
    callbacks: list[JSON] = field(default_factory=list)
    rejected: list[JSON] = field(default_factory=list)  # later callbacks, answered 40060
    original: JSON | None = None
    followups: list[JSON] = field(default_factory=list)

    def to_json(self) -> JSON:
        """Plain JSON for the control API."""
        return {"id": str(self.id), "token": self.token, "callbacks": self.callbacks,
                "rejected_callbacks": self.rejected,
                "original": self.original, "followups": self.followups}


class FakeState:
    """The fake's memory. All mutation goes through methods that wake waiters."""

    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self.ids = Snowflakes()
        self.faults = FaultPlan()
        self.bot_user = user_json(config.application_id, config.bot_name, bot=True)
        self.channels = {c.id: (c, g) for g in config.guilds for c in g.channels}
        self.role_ids = {r.id for g in config.guilds for r in g.roles}
        self.webhooks: dict[int, FakeWebhook] = {w.id: w for w in config.webhooks}
        self.requests: list[RecordedRequest] = []
        self.messages: dict[int, list[JSON]] = {}
        self.edits: list[JSON] = []  # applied PATCHes, in order (see discord_edits)
        self.commands: dict[int | None, list[JSON]] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self._nonces: dict[tuple[int, str], tuple[float, JSON]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self.on_change: Callable[[], None] | None = None
        self.sessions_now = 0  # gateway sessions identified at this moment
        self.sessions_max = 0  # ... and the most there ever were at once
        # Issue 22: roles made through the API, members' roles, threads and forum tags, and
        # the permissions the bot lacks ("manage_roles", "manage_channels",
        # "create_public_threads"): calls that need one answer 403 50013.
        self.created_roles: dict[int, list[JSON]] = {}
        self.member_roles: dict[tuple[int, int], set[int]] = {}
        self.parents: dict[int, int] = {}  # thread → the channel it is in
        self.forum_tags: dict[int, list[JSON]] = {}
        self.applied_tags: dict[int, list[str]] = {}
        self.bot_lacks: set[str] = set()

    # --- roles, threads, forums (issue 22) ----------------------------------------------
    def create_role(self, guild_id: int, name: str, *, permissions: int = 0,
                    mentionable: bool = False) -> JSON:
        """A new role in a guild (it pings from now on), as Discord returns it."""
        guild = self.guild(guild_id)
        role = FakeRole(self.ids.next(), name, permissions,
                        position=len(guild.roles) + len(self.created_roles.get(guild_id, [])) + 1,
                        mentionable=mentionable)
        data = role_json(guild, role)
        self.created_roles.setdefault(guild_id, []).append(data)
        self.role_ids.add(role.id)
        self.changed()
        return data

    def guild(self, guild_id: int) -> FakeGuild:
        """A configured guild by id (KeyError if there is none)."""
        return next(g for g in self.config.guilds if g.id == guild_id)

    def add_thread(self, channel: FakeChannel, parent_id: int) -> None:
        """A new thread in ``parent_id``: messages can be posted to its id from now on."""
        self.channels[channel.id] = (channel, self.channels[parent_id][1])
        self.parents[channel.id] = parent_id
        self.changed()

    def threads_of(self, parent_id: int) -> list[int]:
        """The threads opened in a channel (a forum's posts), oldest first."""
        return sorted(t for t, parent in self.parents.items() if parent == parent_id)

    def channel_payload(self, channel_id: int) -> JSON:
        """A channel object as Discord returns it: a thread's parent, a forum's tags."""
        channel, guild = self.channels[channel_id]
        data = channel_json(channel, guild.id)
        if channel_id in self.parents:
            data.update(parent_id=str(self.parents[channel_id]), owner_id=self.bot_user["id"],
                        message_count=len(self.messages.get(channel_id, [])), member_count=1,
                        applied_tags=self.applied_tags.get(channel_id, []),
                        thread_metadata={"archived": False, "auto_archive_duration": 1440,
                                         "archive_timestamp": now_iso(), "locked": False})
        if channel.type == 15:
            data["available_tags"] = self.forum_tags.get(channel_id, [])
        return data

    def note_sessions(self, count: int) -> None:
        """The gateway's count of identified sessions changed."""
        self.sessions_now = count
        self.sessions_max = max(self.sessions_max, count)

    # --- waiting -------------------------------------------------------------------------
    def changed(self) -> None:
        """Wake everyone waiting in :meth:`wait_until`."""
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()
        if self.on_change is not None:
            self.on_change()

    async def wait_until(self, probe: Callable[[], T | None], timeout: float = 5.0,
                         what: str = "condition") -> T:
        """Return ``probe()`` once it is truthy; fail with the recent requests after ``timeout``.

        The probe may look at anything (fake or client state); it is re-checked on every change
        of the fake and at least every 10 ms.
        """
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        while True:
            value = probe()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-10:]]
                raise TimeoutError(f"fake Discord: timed out waiting for {what}; last requests: "
                                   f"{recent}")
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            # Woken by fake-side changes; the short poll covers probes on client-side state.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, min(remaining, POLL_INTERVAL))

    # --- messages ------------------------------------------------------------------------
    def build_message(self, channel_id: int, body: Mapping[str, Any], *,
                      webhook: FakeWebhook | None = None, flags: int = 0) -> JSON:
        """A message object for ``body`` as Discord would return it (not stored)."""
        guild_id = self.channels[channel_id][1].id if channel_id in self.channels else None
        content = str(body.get("content") or "")
        mentions = resolve_mentions(content, body.get("allowed_mentions"), self.role_ids)
        author = self.bot_user if webhook is None else {
            **user_json(webhook.id, webhook.name, bot=True), "discriminator": "0000"}
        msg: JSON = {
            "id": str(self.ids.next()), "channel_id": str(channel_id), "type": 0,
            "content": content, "author": author, "timestamp": now_iso(),
            "edited_timestamp": None, "tts": bool(body.get("tts", False)),
            "mention_everyone": mentions.everyone, "mention_roles": mentions.roles,
            "mentions": [user_json(int(u), f"user{u}") for u in mentions.users],
            "embeds": list(body.get("embeds") or []), "attachments": [], "components":
            list(body.get("components") or []), "pinned": False,
            "flags": int(body.get("flags") or 0) | flags,
        }
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if webhook is not None:
            msg["webhook_id"] = str(webhook.id)
        return msg

    def existing_for_nonce(self, channel_id: int, body: Mapping[str, Any]) -> JSON | None:
        """The message already created with this nonce, if ``enforce_nonce`` asks to dedupe."""
        nonce = body.get("nonce")
        if nonce is None or not body.get("enforce_nonce"):
            return None
        hit = self._nonces.get((channel_id, str(nonce)))
        if hit is None or time.monotonic() - hit[0] > self.config.nonce_window:
            return None
        return hit[1]

    def store_message(self, channel_id: int, msg: JSON, body: Mapping[str, Any]) -> JSON:
        """Keep a created channel message and remember its nonce."""
        self.messages.setdefault(channel_id, []).append(msg)
        if body.get("nonce") is not None and body.get("enforce_nonce"):
            self._nonces[(channel_id, str(body["nonce"]))] = (time.monotonic(), msg)
        self.changed()
        return msg

    def all_messages(self) -> list[JSON]:
        """Every channel message, in creation order."""
        return sorted((m for ms in self.messages.values() for m in ms), key=lambda m: int(m["id"]))

    # --- commands ------------------------------------------------------------------------
    def sync_commands(self, guild_id: int | None, commands: list[JSON]) -> list[JSON]:
        """Bulk overwrite; a command keeps its id across syncs when its name stays, like Discord."""
        old = {(c["name"], c.get("type", 1)): c["id"] for c in self.commands.get(guild_id, [])}
        echoed = []
        for cmd in commands:
            key = (cmd["name"], cmd.get("type", 1))
            out = {"type": 1, "default_member_permissions": None, "nsfw": False, **cmd,
                   "id": old.get(key) or str(self.ids.next()),
                   "application_id": str(self.config.application_id),
                   "version": str(self.ids.next())}
            if guild_id is not None:
                out["guild_id"] = str(guild_id)
            echoed.append(out)
        self.commands[guild_id] = echoed
        self.changed()
        return echoed

    def command_id(self, name: str, guild_id: int | None) -> str:
        """The id of a synced command (guild first, then global), else a fresh one."""
        for scope in (guild_id, None):
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name:
                    return str(cmd["id"])
        return str(self.ids.next())

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        """The interaction whose token a follow-up or callback uses."""
        return next((r for r in self.interactions.values() if r.token == token), None)

    def snapshot(self) -> JSON:
        """Everything interesting as JSON (control API and ``--state-file``)."""
        return {
            "messages": self.all_messages(),
            "edits": self.edits,
            "commands": {str(k or "global"): v for k, v in self.commands.items()},
            "interactions": [r.to_json() for r in self.interactions.values()],
            "unknown_routes": [r.to_json() for r in self.requests if r.unknown_route],
            "request_count": len(self.requests),
            "gateway": {"sessions_now": self.sessions_now, "sessions_max": self.sessions_max},
        }
