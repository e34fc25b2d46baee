"""The ``/_fake/...`` HTTP control API: script faults and read state from another process.

Crash tests SIGKILL the bot, which runs as a subprocess; the fake lives on and answers these
routes, so a test can count the alerts that reached Discord exactly once.

    GET    /_fake/state                   messages, commands, interactions, unknown routes
    GET    /_fake/messages[?channel_id=&webhook_id=]
    GET    /_fake/requests[?method=&prefix=]
    POST   /_fake/faults                  {"kind": "rate_limit", "prefix": ..., "count": ...}
    DELETE /_fake/faults
    POST   /_fake/interactions            {"name": ..., "options": {...}, "subcommand": ...}
    POST   /_fake/clicks                  {"message_id": ..., "custom_id": ..., "values": [...]}
    GET    /_fake/interactions/{id}
    POST   /_fake/gateway                 {"action": "reconnect" | "invalidate" | "disconnect"}
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .discord_components import component_payload
from .discord_gateway import Gateway
from .discord_interactions import interaction_payload
from .discord_state import FakeState

PREFIX = "/_fake"


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json"})


class ControlApi:
    """Routes under ``/_fake`` (never under ``/api/v10``, so they are not recorded)."""

    def __init__(self, state: FakeState, gateway: Gateway) -> None:
        self.state = state
        self.gateway = gateway

    def add_routes(self, app: web.Application) -> None:
        """Register the control routes."""
        r = app.router
        r.add_get(f"{PREFIX}/state", self.snapshot)
        r.add_get(f"{PREFIX}/messages", self.messages)
        r.add_get(f"{PREFIX}/requests", self.requests)
        r.add_post(f"{PREFIX}/faults", self.add_fault)
        r.add_delete(f"{PREFIX}/faults", self.clear_faults)
        r.add_post(f"{PREFIX}/interactions", self.send_interaction)
        r.add_post(f"{PREFIX}/clicks", self.send_click)
        r.add_get(PREFIX + r"/interactions/{iid:\d+}", self.get_interaction)
        r.add_post(f"{PREFIX}/gateway", self.gateway_action)

    async def snapshot(self, request: web.Request) -> web.Response:
        """Everything the fake remembers, as JSON."""
        return _json(self.state.snapshot())

    async def messages(self, request: web.Request) -> web.Response:
        """Messages in creation order, optionally of one channel or one webhook."""
        msgs = self.state.all_messages()
        if "channel_id" in request.query:
            msgs = [m for m in msgs if m["channel_id"] == request.query["channel_id"]]
        if "webhook_id" in request.query:
            msgs = [m for m in msgs if m.get("webhook_id") == request.query["webhook_id"]]
        return _json(msgs)

    async def requests(self, request: web.Request) -> web.Response:
        """Recorded REST requests, optionally filtered by method and path prefix."""
        method, prefix = request.query.get("method"), request.query.get("prefix", "")
        return _json([r.to_json() for r in self.state.requests
                      if r.path.startswith(prefix) and method in (None, r.method)])

    async def add_fault(self, request: web.Request) -> web.Response:
        """Arm a fault: ``{"kind": rate_limit|server_error|forbid_channel|unknown_webhook|
        delay|clear, ...}`` with the keyword arguments of the matching FaultPlan method."""
        try:
            self.state.faults.apply(await request.json())
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json({"ok": True})

    async def clear_faults(self, request: web.Request) -> web.Response:
        """Disarm every fault."""
        self.state.faults.clear()
        return _json({"ok": True})

    async def send_interaction(self, request: web.Request) -> web.Response:
        """Send an INTERACTION_CREATE; answer its id and token (poll ``GET`` for the reply)."""
        spec = await request.json()
        try:
            name = spec.pop("name")
            if "roles" in spec:
                spec["roles"] = tuple(int(r) for r in spec["roles"])
            record = interaction_payload(self.state, name, **spec)
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload)
        return _json({"id": str(record.id), "token": record.token})

    async def send_click(self, request: web.Request) -> web.Response:
        """A member clicks a component: ``{"message_id", "custom_id", "values"?, "user_id"?,
        "permissions"?, "roles"?}``; answers the interaction's id and token."""
        spec = await request.json()
        try:
            message = next(m for m in self.state.all_messages()
                           if m["id"] == str(spec.pop("message_id")))
            if "roles" in spec:
                spec["roles"] = tuple(int(r) for r in spec["roles"])
            record = component_payload(self.state, message, spec.pop("custom_id"), **spec)
        except (KeyError, StopIteration, TypeError, ValueError) as exc:
            return _json({"error": str(exc) or type(exc).__name__}, 400)
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload)
        return _json({"id": str(record.id), "token": record.token})

    async def get_interaction(self, request: web.Request) -> web.Response:
        """The callbacks, original response and follow-ups of one interaction."""
        record = self.state.interactions.get(int(request.match_info["iid"]))
        if record is None:
            return _json({"error": "unknown interaction"}, 404)
        return _json(record.to_json())

    async def gateway_action(self, request: web.Request) -> web.Response:
        """Push op 7 (reconnect), op 9 (invalidate) or close every websocket (disconnect)."""
        spec = await request.json()
        action = spec.get("action")
        if action == "reconnect":
            await self.gateway.reconnect()
        elif action == "invalidate":
            await self.gateway.invalidate(bool(spec.get("resumable", False)))
        elif action == "disconnect":
            await self.gateway.disconnect(int(spec.get("code", 4000)))
        else:
            return _json({"error": f"unknown action {action!r}"}, 400)
        return _json({"ok": True})
