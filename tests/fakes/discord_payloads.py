"""Configuration of the fake Discord and the Discord-shaped JSON objects it hands out.

Shapes follow what discord.py 2.7.1 reads (see /work/shared/notes/fake-discord.md); fields the
library reads with ``data[...]`` are always present, optional ones only when they matter.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000

# Real-looking snowflakes (17-20 digits): Webhook.from_url rejects shorter ids.
APPLICATION_ID = 1234567890123456789
GUILD_ID = 1111111111111111111
ALERTS_CHANNEL_ID = 2222222222222222201
GENERAL_CHANNEL_ID = 2222222222222222202
ROLE_ID = 4444444444444444401
WEBHOOK_ID = 3333333333333333301
WEBHOOK_TOKEN = "fake-webhook-token-" + "A1b2C3d4E5" * 5
BOT_TOKEN = "fake-bot-token"
USER_ID = 5555555555555555501

# Permission bits used by tests (values from Discord's documentation).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
)
MODERATOR_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_GUILD


@dataclass(frozen=True)
class FakeChannel:
    """A guild text channel (type 0) or any other channel type."""

    id: int
    name: str
    position: int = 0
    type: int = 0


@dataclass(frozen=True)
class FakeRole:
    """A guild role other than @everyone (which the fake adds with id = guild id)."""

    id: int
    name: str
    permissions: int = 0
    position: int = 1
    mentionable: bool = True


@dataclass(frozen=True)
class FakeGuild:
    """A guild the bot is in; sent in READY and GUILD_CREATE."""

    id: int = GUILD_ID
    name: str = "Wirewatch Test Guild"
    channels: tuple[FakeChannel, ...] = (
        FakeChannel(ALERTS_CHANNEL_ID, "alerts", 0),
        FakeChannel(GENERAL_CHANNEL_ID, "general", 1),
    )
    roles: tuple[FakeRole, ...] = (FakeRole(ROLE_ID, "news-desk"),)
    everyone_permissions: int = MEMBER_PERMISSIONS


@dataclass(frozen=True)
class FakeWebhook:
    """An incoming webhook: ``POST /webhooks/{id}/{token}`` posts into ``channel_id``."""

    id: int = WEBHOOK_ID
    token: str = WEBHOOK_TOKEN
    channel_id: int = ALERTS_CHANNEL_ID
    name: str = "wirewatch"

    @property
    def url(self) -> str:
        """The URL a user would paste; discord.py sends the request to ``Route.BASE``."""
        return f"https://discord.com/api/webhooks/{self.id}/{self.token}"


@dataclass(frozen=True)
class FakeConfig:
    """Everything that shapes one fake Discord; JSON-loadable for the standalone process."""

    token: str = BOT_TOKEN
    application_id: int = APPLICATION_ID
    bot_name: str = "Wirewatch"
    guilds: tuple[FakeGuild, ...] = (FakeGuild(),)
    webhooks: tuple[FakeWebhook, ...] = (FakeWebhook(),)
    heartbeat_interval_ms: int = 41250
    nonce_window: float = 300.0
    interaction_deadline: float = 3.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FakeConfig:
        """Build a config from plain JSON (the standalone process's ``--config`` file)."""
        guilds = tuple(
            FakeGuild(
                id=int(g["id"]),
                name=g.get("name", "Guild"),
                channels=tuple(
                    FakeChannel(int(c["id"]), c["name"], c.get("position", i), c.get("type", 0))
                    for i, c in enumerate(g.get("channels", []))
                ),
                roles=tuple(
                    FakeRole(int(r["id"]), r["name"], int(r.get("permissions", 0)))
                    for r in g.get("roles", [])
                ),
            )
            for g in data.get("guilds", [])
        )
        webhooks = tuple(
            FakeWebhook(int(w["id"]), w["token"], int(w["channel_id"]))
            for w in data.get("webhooks", [])
        )
        simple = {k: data[k] for k in ("token", "bot_name", "nonce_window") if k in data}
        return cls(
            application_id=int(data.get("application_id", APPLICATION_ID)),
            guilds=guilds or cls.guilds,
            webhooks=webhooks or cls.webhooks,
            **simple,
        )


class Snowflakes:
    """Monotonic Discord-style ids: milliseconds since the Discord epoch << 22 | counter."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        """A new id, later ids sort after earlier ones."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


def now_iso() -> str:
    """The current time as Discord writes it (ISO 8601 with offset)."""
    return datetime.now(UTC).isoformat()


def user_json(user_id: int, name: str, *, bot: bool = False) -> JSON:
    """A user object."""
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "flags": 0,
        "public_flags": 0,
    }


def application_json(config: FakeConfig) -> JSON:
    """``GET /oauth2/applications/@me``: the fields discord.py's AppInfo requires."""
    return {
        "id": str(config.application_id),
        "name": config.bot_name,
        "description": "",
        "icon": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": user_json(USER_ID, "owner"),
        "verify_key": "0" * 64,
        "flags": 0,
    }


def role_json(guild: FakeGuild, role: FakeRole | None) -> JSON:
    """A role; ``None`` gives @everyone, whose id is the guild id."""
    rid, name, perms, pos, mentionable = (
        (guild.id, "@everyone", guild.everyone_permissions, 0, False)
        if role is None
        else (role.id, role.name, role.permissions, role.position, role.mentionable)
    )
    return {
        "id": str(rid),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": pos,
        "permissions": str(perms),
        "managed": False,
        "mentionable": mentionable,
        "flags": 0,
    }


def channel_json(channel: FakeChannel, guild_id: int) -> JSON:
    """A guild channel object."""
    return {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(guild_id),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def member_json(user: JSON, *, permissions: int | None = None, roles: tuple[int, ...] = ()) -> JSON:
    """A guild member; ``permissions`` is only present in interaction payloads."""
    member: JSON = {
        "user": user,
        "roles": [str(r) for r in roles],
        "nick": None,
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }
    if permissions is not None:
        member["permissions"] = str(permissions)
    return member


def guild_create_json(guild: FakeGuild, bot_user: JSON, owner_id: int = USER_ID,
                      extra_roles: list[JSON] | None = None) -> JSON:
    """A full GUILD_CREATE: roles incl. @everyone (and ``extra_roles`` made through the API),
    channels, the bot as the only member."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "owner_id": str(owner_id),
        "unavailable": False,
        "large": False,
        "member_count": 1,  # equal to members sent, so discord.py never asks for chunks
        "roles": [role_json(guild, None)] + [role_json(guild, r) for r in guild.roles]
        + list(extra_roles or []),
        "channels": [channel_json(c, guild.id) for c in guild.channels],
        "members": [member_json(bot_user)],
        "threads": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "joined_at": "2024-01-01T00:00:00+00:00",
        "system_channel_flags": 0,
    }


_EVERYONE_RE = re.compile(r"@(everyone|here)")
_ROLE_RE = re.compile(r"<@&(\d+)>")
_USER_RE = re.compile(r"<@!?(\d+)>")


@dataclass
class Mentions:
    """Who a message would actually ping, following Discord's ``allowed_mentions`` rules."""

    everyone: bool = False
    roles: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)


def resolve_mentions(content: str, allowed: Mapping[str, Any] | None,
                     role_ids: set[int]) -> Mentions:
    """Apply ``allowed_mentions`` to the content; without it Discord pings everything named."""
    parse = {"everyone", "roles", "users"} if allowed is None else set(allowed.get("parse", []))
    allow_roles = {str(r) for r in (allowed or {}).get("roles", [])}
    allow_users = {str(u) for u in (allowed or {}).get("users", [])}
    roles = [
        r
        for r in dict.fromkeys(_ROLE_RE.findall(content))
        if int(r) in role_ids and ("roles" in parse or r in allow_roles)
    ]
    users = [
        u for u in dict.fromkeys(_USER_RE.findall(content)) if "users" in parse or u in allow_users
    ]
    everyone = "everyone" in parse and _EVERYONE_RE.search(content) is not None
    return Mentions(everyone, roles, users)
