"""Interactions: building INTERACTION_CREATE payloads, and the callback / follow-up endpoints."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from .discord_payloads import (
    JSON,
    MEMBER_PERMISSIONS,
    USER_ID,
    channel_json,
    member_json,
    user_json,
)
from .discord_rest import RECORD, Reply, add_endpoint, error, message_body
from .discord_state import FakeState, InteractionRecord
from .discord_validate import check_message

APPLICATION_COMMAND = 2
AUTOCOMPLETE = 4
EPHEMERAL = 1 << 6
LOADING = 1 << 7
UNKNOWN_INTERACTION = 10062
ALREADY_ACKNOWLEDGED = 40060
MESSAGE_COMPONENT = 3
# Callback types that create or show the "original" message.
_MESSAGE_CALLBACKS = {4: 0, 5: LOADING}
_COMPONENT_ONLY = (6, 7)  # deferred update, update message

OptionValues = Mapping[str, str | int | float | bool] | Sequence[JSON]


def _option_type(value: object) -> int:
    # bool before int: True is an int in Python, but a BOOLEAN (5) to Discord.
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def build_options(values: OptionValues | None, focused: str | None) -> list[JSON]:
    """Typed option objects; raw dicts pass through so tests can send channels or roles."""
    if values is None:
        return []
    if not isinstance(values, Mapping):
        return [dict(v) for v in values]
    out = []
    for name, value in values.items():
        opt: JSON = {"name": name, "type": _option_type(value), "value": value}
        if name == focused:
            opt["focused"] = True
        out.append(opt)
    return out


def interaction_payload(state: FakeState, name: str, options: OptionValues | None = None, *,
                        subcommand: str | None = None, group: str | None = None,
                        focused: str | None = None, permissions: int = MEMBER_PERMISSIONS,
                        guild_id: int | None = None, channel_id: int | None = None,
                        user_id: int = USER_ID, roles: tuple[int, ...] = (),
                        resolved: JSON | None = None) -> InteractionRecord:
    """A slash command (or, with ``focused``, an autocomplete) interaction, not yet sent.

    Without ``guild_id``/``channel_id`` it comes from the first configured guild and channel.
    """
    guild = next((g for g in state.config.guilds if guild_id in (None, g.id)), None)
    channels = guild.channels if guild is not None else ()
    channel = next((c for c in channels if channel_id in (None, c.id)), None)
    if guild is None or channel is None:
        raise ValueError(f"no configured guild {guild_id} with channel {channel_id}")
    opts = build_options(options, focused)
    if subcommand is not None:
        opts = [{"name": subcommand, "type": 1, "options": opts}]
    if group is not None:
        opts = [{"name": group, "type": 2, "options": opts}]
    data: JSON = {"id": state.command_id(name, guild.id), "name": name, "type": 1,
                  "options": opts, "guild_id": str(guild.id)}
    if resolved is not None:
        data["resolved"] = resolved
    iid, token = state.ids.next(), "itok-" + secrets.token_urlsafe(48)
    payload: JSON = {
        "id": str(iid), "application_id": str(state.config.application_id),
        "type": AUTOCOMPLETE if focused else APPLICATION_COMMAND, "token": token, "version": 1,
        "attachment_size_limit": 10 * 1024 * 1024, "data": data, "guild_id": str(guild.id),
        "channel_id": str(channel.id), "channel": channel_json(channel, guild.id),
        "member": member_json(user_json(user_id, f"user{user_id}"), permissions=permissions,
                              roles=roles),
        "app_permissions": str(MEMBER_PERMISSIONS), "locale": "en-US", "guild_locale": "en-US",
        "entitlements": [], "authorizing_integration_owners": {"0": str(guild.id)}, "context": 0,
    }
    record = InteractionRecord(iid, token, payload, created=time.monotonic())
    state.interactions[iid] = record
    return record


class InteractionApi:
    """``/interactions/{id}/{token}/callback`` and the ``/webhooks/{app}/{token}`` follow-ups."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add_routes(self, app: web.Application) -> None:
        """Register the callback and ``@original`` routes (follow-ups come via RestApi)."""
        add_endpoint(app, "POST", r"/interactions/{iid:\d+}/{token}/callback", self.callback)
        original = r"/webhooks/{wid:\d+}/{token}/messages/@original"
        add_endpoint(app, "GET", original, self.get_original)
        add_endpoint(app, "PATCH", original, self.edit_original)
        add_endpoint(app, "DELETE", original, self.delete_original)

    def _message(self, record: InteractionRecord, body: Mapping[str, Any], flags: int) -> JSON:
        msg = self.state.build_message(int(record.payload["channel_id"]), body, flags=flags)
        msg["type"] = 20 if record.original is None else 0
        msg["webhook_id"] = str(self.state.config.application_id)
        msg["interaction_metadata"] = {"id": str(record.id), "type": record.payload["type"],
                                       "user": record.payload["member"]["user"]}
        return msg

    def _answer_callback(self, record: InteractionRecord, body: JSON) -> Reply:
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        if kind in _COMPONENT_ONLY and record.payload["type"] != MESSAGE_COMPONENT:
            return error(400, 50035, "Interaction response type invalid for this interaction")
        if kind in (4, 7):
            invalid = check_message(data)
            if invalid is not None:
                return 400, invalid
        record.callbacks.append(body)
        if kind in _COMPONENT_ONLY:
            # 6: a deferred update (nothing shown; follow-ups allowed); 7: edit the message
            # the component is on, which has no interaction "original" of its own.
            if kind == 7:
                self._update_clicked(record, data)
            return 200, {"interaction": {"id": str(record.id), "type": record.payload["type"]},
                         "resource": {"type": kind}}
        resource: JSON = {"type": kind}
        info: JSON = {"id": str(record.id), "type": record.payload["type"]}
        if kind in _MESSAGE_CALLBACKS:
            flags = _MESSAGE_CALLBACKS[kind] | (int(data.get("flags") or 0) & EPHEMERAL)
            record.original = self._message(record, data if kind != 5 else {}, flags)
            resource["message"] = record.original
            info.update(response_message_id=record.original["id"],
                        response_message_loading=kind == 5,
                        response_message_ephemeral=bool(flags & EPHEMERAL))
        return 200, {"interaction": info, "resource": resource}

    def _update_clicked(self, record: InteractionRecord, data: JSON) -> None:
        clicked = record.payload["message"]
        for msg in self.state.messages.get(int(clicked["channel_id"]), []):
            if msg["id"] == clicked["id"]:
                msg.update({k: v for k, v in data.items()
                            if k in ("content", "embeds", "components")})

    async def callback(self, request: web.Request) -> Reply:
        """Answer an interaction once, within the deadline (Discord: 3 s), as 200 JSON."""
        record = self.state.interactions.get(int(request.match_info["iid"]))
        if record is None or record.token != request.match_info["token"]:
            return error(404, UNKNOWN_INTERACTION, "Unknown interaction")
        if time.monotonic() - record.created > self.state.config.interaction_deadline:
            return error(404, UNKNOWN_INTERACTION, "Unknown interaction")
        if record.callbacks:
            # Discord: only the first callback counts (another session may have sent it).
            body = request[RECORD].json
            record.rejected.append(body if isinstance(body, dict) else {})
            self.state.changed()
            return error(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
        body = request[RECORD].json
        if not isinstance(body, dict):
            return error(400, 50109, "The request body contains invalid JSON.")
        answer = self._answer_callback(record, body)
        if answer[0] == 200 and request.query.get("with_response") not in ("1", "true"):
            answer = (204, None)
        self.state.changed()
        return answer

    def _acknowledged(self, request: web.Request) -> InteractionRecord | Reply:
        """The interaction behind a follow-up URL; Discord knows it only once acknowledged."""
        record = self.state.interaction_by_token(request.match_info["token"])
        app_ok = int(request.match_info["wid"]) == self.state.config.application_id
        if record is None or not app_ok or not record.callbacks:
            return error(404, 10015, "Unknown Webhook")
        return record

    async def followup(self, request: web.Request) -> Reply:
        """``POST /webhooks/{app}/{token}``: a follow-up message after the callback."""
        record = self._acknowledged(request)
        if not isinstance(record, InteractionRecord):
            return record
        body = message_body(request)
        if not isinstance(body, dict):
            return body
        msg = self._message(record, body, int(body.get("flags") or 0) & EPHEMERAL)
        record.followups.append(msg)
        self.state.changed()
        wait = request.query.get("wait", "false").lower() in ("true", "1")
        return (200, msg) if wait else (204, None)

    async def get_original(self, request: web.Request) -> Reply:
        """``GET …/messages/@original``."""
        record = self._acknowledged(request)
        if not isinstance(record, InteractionRecord):
            return record
        if record.original is None:
            return error(404, 10008, "Unknown Message")
        return 200, record.original

    async def edit_original(self, request: web.Request) -> Reply:
        """``PATCH …/messages/@original``: edits the response (ends a deferred "thinking")."""
        record = self._acknowledged(request)
        if not isinstance(record, InteractionRecord):
            return record
        body = request[RECORD].json
        if record.original is None or not isinstance(body, dict):
            return error(404, 10008, "Unknown Message")
        merged = {**record.original, **{k: v for k, v in body.items() if k != "flags"}}
        invalid = check_message(merged)
        if invalid is not None:
            return 400, invalid
        merged["flags"] = int(record.original["flags"]) & ~LOADING
        merged["edited_timestamp"] = merged["timestamp"]
        record.original = merged
        self.state.changed()
        return 200, merged

    async def delete_original(self, request: web.Request) -> Reply:
        """``DELETE …/messages/@original``."""
        record = self._acknowledged(request)
        if not isinstance(record, InteractionRecord):
            return record
        if record.original is None:
            return error(404, 10008, "Unknown Message")
        record.original = None
        self.state.changed()
        return 204, None
