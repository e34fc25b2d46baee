"""Editing and deleting messages in the fake Discord, with Discord's rules.

    PATCH  /channels/{c}/messages/{m}              bot token; the bot's own messages only
    PATCH  /webhooks/{w}/{token}/messages/{m}      only messages this webhook sent
    DELETE /channels/{c}/messages/{m}              (tests delete a message to see a 404)
    DELETE /webhooks/{w}/{token}/messages/{m}      only messages this webhook sent

* Unknown or deleted message: 404 ``{"code": 10008, "message": "Unknown Message"}``.
* Someone else's message (another user's, or a webhook's, edited with the bot token):
  403 ``{"code": 50005, "message": "Cannot edit a message authored by another user"}``.
* The body is checked like a create (limits, allowed mentions); fields absent from it stay
  as they were; ``edited_timestamp`` is set. Every applied edit is kept in ``state.edits``.
* Rate-limit headers come from the REST middleware like on every route; a 429 is scripted
  with the fault plan (``{"kind": "rate_limit", "prefix": "/channels/1/messages/2"}``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .discord_payloads import FakeWebhook
from .discord_rest import RECORD, Reply, add_endpoint, error
from .discord_state import JSON, FakeState
from .discord_validate import check_message

UNKNOWN_MESSAGE = 10008
NOT_AUTHOR = 50005
_EDITABLE = ("content", "embeds", "components", "allowed_mentions", "flags")


class EditApi:
    """PATCH and DELETE of messages; register before the REST catch-all."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def add_routes(self, app: web.Application) -> None:
        """Register the routes."""
        message = r"/channels/{cid:\d+}/messages/{mid:\d+}"
        add_endpoint(app, "PATCH", message, self.edit_channel_message)
        add_endpoint(app, "DELETE", message, self.delete_channel_message)
        add_endpoint(app, "PATCH", r"/webhooks/{wid:\d+}/{token}/messages/{mid:\d+}",
                     self.edit_webhook_message)
        add_endpoint(app, "DELETE", r"/webhooks/{wid:\d+}/{token}/messages/{mid:\d+}",
                     self.delete_webhook_message)

    def _find(self, channel_id: int, message_id: str) -> JSON | None:
        return next((m for m in self.state.messages.get(channel_id, [])
                     if m["id"] == message_id), None)

    async def edit_channel_message(self, request: web.Request) -> Reply:
        """``PATCH /channels/{c}/messages/{m}`` with the bot token."""
        cid = int(request.match_info["cid"])
        if cid not in self.state.channels:
            return error(404, 10003, "Unknown Channel")
        msg = self._find(cid, request.match_info["mid"])
        if msg is None:
            return error(404, UNKNOWN_MESSAGE, "Unknown Message")
        if msg.get("webhook_id") or msg["author"]["id"] != self.state.bot_user["id"]:
            return error(403, NOT_AUTHOR, "Cannot edit a message authored by another user")
        return self._apply(msg, request[RECORD].json)

    async def edit_webhook_message(self, request: web.Request) -> Reply:
        """``PATCH /webhooks/{w}/{token}/messages/{m}``: messages of this webhook only."""
        hook = self.state.webhooks.get(int(request.match_info["wid"]))
        if hook is None:
            return error(404, 10015, "Unknown Webhook")
        if request.match_info["token"] != hook.token:
            return error(401, 50027, "Invalid Webhook Token")
        msg = self._find(hook.channel_id, request.match_info["mid"])
        if msg is None or msg.get("webhook_id") != str(hook.id):
            return error(404, UNKNOWN_MESSAGE, "Unknown Message")
        return self._apply(msg, request[RECORD].json, hook)

    async def delete_channel_message(self, request: web.Request) -> Reply:
        """``DELETE /channels/{c}/messages/{m}``: gone for good (later edits get 404)."""
        cid = int(request.match_info["cid"])
        msg = self._find(cid, request.match_info["mid"])
        if msg is None:
            return error(404, UNKNOWN_MESSAGE, "Unknown Message")
        self.state.messages[cid].remove(msg)
        self.state.changed()
        return 204, None

    async def delete_webhook_message(self, request: web.Request) -> Reply:
        """``DELETE /webhooks/{w}/{token}/messages/{m}``: messages of this webhook only."""
        hook = self.state.webhooks.get(int(request.match_info["wid"]))
        if hook is None:
            return error(404, 10015, "Unknown Webhook")
        if request.match_info["token"] != hook.token:
            return error(401, 50027, "Invalid Webhook Token")
        msg = self._find(hook.channel_id, request.match_info["mid"])
        if msg is None or msg.get("webhook_id") != str(hook.id):
            return error(404, UNKNOWN_MESSAGE, "Unknown Message")
        self.state.messages[hook.channel_id].remove(msg)
        self.state.changed()
        return 204, None

    def _apply(self, msg: JSON, body: Any, hook: FakeWebhook | None = None) -> Reply:
        if not isinstance(body, dict):
            return error(400, 50109, "The request body contains invalid JSON.")
        merged = {k: msg.get(k) for k in ("content", "embeds")} | body
        invalid = check_message(merged)
        if invalid is not None:
            return 400, invalid
        rebuilt = self.state.build_message(int(msg["channel_id"]), merged, webhook=hook)
        for key in _EDITABLE:
            if key in body and key in rebuilt:
                msg[key] = rebuilt[key]
        if "content" in body:
            msg["mentions"] = rebuilt["mentions"]
            msg["mention_roles"] = rebuilt["mention_roles"]
        msg["edited_timestamp"] = rebuilt["timestamp"]
        self.state.edits.append({"id": msg["id"], "channel_id": msg["channel_id"],
                                 "webhook_id": msg.get("webhook_id"), "body": body})
        self.state.changed()
        return 200, msg
