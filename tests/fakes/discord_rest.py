"""The fake's REST API under ``/api/v10``: recording, auth, faults and Discord-shaped answers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .discord_payloads import FakeWebhook, application_json, channel_json
from .discord_state import FakeState, RecordedRequest
from .discord_validate import check_commands, check_message

API_PREFIX = "/api/v10"
Reply = tuple[int, Any]
Endpoint = Callable[[web.Request], Awaitable[Reply]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RECORD = web.RequestKey("record", RecordedRequest)
REPLY = web.RequestKey("reply", tuple)

# Channel types that take no plain message: voice, category, forum, media.
_NOT_TEXT = (2, 4, 15, 16)


def webhook_components(body: dict[str, Any], with_components: str | None
                       ) -> dict[str, Any] | Reply:
    """Discord's rule for a webhook the application does not own: components are ignored
    unless ``with_components=true``, and then only link buttons are allowed."""
    if not body.get("components"):
        return body
    if with_components not in ("true", "1"):
        return {k: v for k, v in body.items() if k != "components"}
    for row in body["components"]:
        for component in row.get("components") or []:
            if component.get("type") != 2 or component.get("style") != 5:
                return 400, {"message": "Invalid Form Body", "code": 50035, "errors": {
                    "components": {"_errors": [{
                        "code": "COMPONENT_INTERACTIVE_NOT_ALLOWED",
                        "message": "Interactive components cannot be sent by a webhook "
                                   "that the application does not own."}]}}}
    return body


# Routes Discord serves without the bot token (they carry their own token in the path).
_NO_AUTH = ("/webhooks/", "/interactions/", "/gateway")


def error(status: int, code: int, message: str) -> Reply:
    """A Discord-shaped error body."""
    return status, {"message": message, "code": code}


def message_body(request: web.Request) -> dict[str, Any] | Reply:
    """The request's message payload, or Discord's 400 for bad JSON or a message over limits."""
    body = request[RECORD].json
    if not isinstance(body, dict):
        return error(400, 50109, "The request body contains invalid JSON.")
    invalid = check_message(body)
    return body if invalid is None else (400, invalid)


def add_endpoint(app: web.Application, method: str, path: str, endpoint: Endpoint) -> None:
    """Serve ``endpoint`` (which returns ``(status, body)``) at ``/api/v10`` + ``path``.

    The middleware turns the pair into the response, so that faults, recording and headers
    are applied in one place.
    """
    async def handler(request: web.Request) -> web.StreamResponse:
        request[REPLY] = await endpoint(request)
        return web.Response()

    app.router.add_route(method, API_PREFIX + path, handler)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """Answer with ``Content-Type`` exactly ``application/json`` (discord.py compares verbatim)."""
    extra = headers or {}
    if status == 204:
        return web.Response(status=204, headers=extra)
    data = json.dumps(body).encode()
    return web.Response(status=status, body=data,
                        headers={"Content-Type": "application/json", **extra})


def _ratelimit_headers(bucket: str) -> dict[str, str]:
    # Remaining > 0: with 0 discord.py sleeps before its next call to the same bucket.
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": hashlib.sha256(bucket.encode()).hexdigest()[:16],
    }


class RestApi:
    """REST routes; interaction endpoints live in :mod:`.discord_interactions`."""

    def __init__(self, state: FakeState, followup: Endpoint) -> None:
        self.state = state
        self.followup = followup

    def add_routes(self, app: web.Application) -> None:
        """Register the routes (call :meth:`add_catch_all` after every other route)."""
        add_endpoint(app, "GET", "/users/@me", self.me)
        add_endpoint(app, "GET", "/oauth2/applications/@me", self.application)
        add_endpoint(app, "GET", "/applications/@me", self.application)
        add_endpoint(app, "GET", "/gateway", self.gateway)
        add_endpoint(app, "GET", "/gateway/bot", self.gateway)
        for path in (r"/applications/{app:\d+}/commands",
                     r"/applications/{app:\d+}/guilds/{guild:\d+}/commands"):
            add_endpoint(app, "PUT", path, self.put_commands)
            add_endpoint(app, "GET", path, self.get_commands)
        add_endpoint(app, "POST", r"/channels/{cid:\d+}/messages", self.create_message)
        add_endpoint(app, "GET", r"/channels/{cid:\d+}/messages", self.list_messages)
        add_endpoint(app, "GET", r"/channels/{cid:\d+}", self.get_channel)
        add_endpoint(app, "GET", r"/guilds/{gid:\d+}/channels", self.guild_channels)
        add_endpoint(app, "POST", r"/webhooks/{wid:\d+}/{token}", self.execute_webhook)
        add_endpoint(app, "GET", r"/webhooks/{wid:\d+}/{token}", self.get_webhook)

    def add_catch_all(self, app: web.Application) -> None:
        """Anything not served answers Discord's 404 and is recorded as an unknown route."""
        add_endpoint(app, "*", "/{tail:.*}", self.unknown)

    # --- middleware ----------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record, authenticate, apply faults and delay; answer JSON with rate-limit headers."""
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path[len(API_PREFIX):]
        rec = RecordedRequest(request.method, path, dict(request.query), dict(request.headers),
                              await self._body(request), time.time())
        self.state.requests.append(rec)
        request[RECORD] = rec
        answer, extra = await self._answer(request, handler, rec)
        rec.status = answer[0]
        self.state.changed()
        resource = request.match_info.route.resource
        bucket = resource.canonical if resource is not None else path
        return json_response(*answer, headers={
            **_ratelimit_headers(bucket), **self.state.faults.pacing_headers(path), **extra})

    async def _answer(self, request: web.Request, handler: Handler,
                      rec: RecordedRequest) -> tuple[Reply, dict[str, str]]:
        token = self.state.config.token
        if not rec.path.startswith(_NO_AUTH) and request.headers.get("Authorization") != (
                f"Bot {token}"):
            return error(401, 0, "401: Unauthorized"), {}
        fault = self.state.faults.take(request.method, rec.path)
        if fault is not None:
            return (fault.status, fault.body), fault.headers()
        if request.method == "POST" and self.state.faults.post_delay > 0:
            await asyncio.sleep(self.state.faults.post_delay)
        if request.method == "PATCH" and self.state.faults.patch_delay > 0:
            await asyncio.sleep(self.state.faults.patch_delay)
        await handler(request)
        return request[REPLY], {}

    @staticmethod
    async def _body(request: web.Request) -> Any:
        if not request.can_read_body:
            return None
        raw = await request.read()
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    # --- identity ------------------------------------------------------------------------
    async def me(self, request: web.Request) -> Reply:
        """``GET /users/@me``: the bot user (a wrong token got 401 in the middleware)."""
        return 200, self.state.bot_user

    async def application(self, request: web.Request) -> Reply:
        """``GET /oauth2/applications/@me``."""
        return 200, application_json(self.state.config)

    async def gateway(self, request: web.Request) -> Reply:
        """``GET /gateway[/bot]``: only AutoShardedClient asks; it connects to ``url``."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        body = {"url": f"ws://{request.host}/gateway", "shards": 1, "session_start_limit": limit}
        return 200, body

    # --- application commands ------------------------------------------------------------
    def _command_scope(self, request: web.Request) -> tuple[int | None, Reply | None]:
        if int(request.match_info["app"]) != self.state.config.application_id:
            return None, error(403, 50001, "Missing Access")
        guild = request.match_info.get("guild")
        if guild is not None and int(guild) not in {g.id for g in self.state.config.guilds}:
            return None, error(403, 50001, "Missing Access")
        return (int(guild) if guild else None), None

    async def put_commands(self, request: web.Request) -> Reply:
        """Bulk overwrite (``tree.sync()``): validated, stored, echoed with ids."""
        scope, problem = self._command_scope(request)
        body = request[RECORD].json
        invalid = check_commands(body)
        if problem is None and invalid is not None:
            problem = (400, invalid)
        return problem or (200, self.state.sync_commands(scope, body))

    async def get_commands(self, request: web.Request) -> Reply:
        """The commands last synced to this scope."""
        scope, problem = self._command_scope(request)
        return problem or (200, self.state.commands.get(scope, []))

    # --- channels ------------------------------------------------------------------------
    async def create_message(self, request: web.Request) -> Reply:
        """``POST /channels/{id}/messages``: validate, dedupe the nonce, create."""
        cid = int(request.match_info["cid"])
        if cid not in self.state.channels:
            return error(404, 10003, "Unknown Channel")
        if self.state.channels[cid][0].type in _NOT_TEXT:
            return error(400, 50008, "Cannot send messages in a non-text channel")
        body = message_body(request)
        if not isinstance(body, dict):
            return body
        existing = self.state.existing_for_nonce(cid, body)
        if existing is not None:
            return 200, existing
        msg = self.state.build_message(cid, body)
        return 200, self.state.store_message(cid, msg, body)

    async def list_messages(self, request: web.Request) -> Reply:
        """``GET /channels/{id}/messages?limit=N``: newest first, 1 ≤ N ≤ 100 (default 50)."""
        cid = int(request.match_info["cid"])
        if cid not in self.state.channels:
            return error(404, 10003, "Unknown Channel")
        limit = max(1, min(100, int(request.query.get("limit", "50"))))
        recent = list(reversed(self.state.messages.get(cid, [])))[:limit]
        # Discord echoes a nonce only on create, never in history: recovery cannot rely on it.
        return 200, [{k: v for k, v in m.items() if k != "nonce"} for m in recent]

    async def get_channel(self, request: web.Request) -> Reply:
        """``GET /channels/{id}``."""
        cid = int(request.match_info["cid"])
        if cid not in self.state.channels:
            return error(404, 10003, "Unknown Channel")
        return 200, self.state.channel_payload(cid)

    async def guild_channels(self, request: web.Request) -> Reply:
        """``GET /guilds/{id}/channels``."""
        gid = int(request.match_info["gid"])
        guild = next((g for g in self.state.config.guilds if g.id == gid), None)
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        return 200, [channel_json(c, gid) for c in guild.channels]

    # --- webhooks ------------------------------------------------------------------------
    def _webhook(self, request: web.Request) -> FakeWebhook | Reply:
        hook = self.state.webhooks.get(int(request.match_info["wid"]))
        if hook is None:
            return error(404, 10015, "Unknown Webhook")
        if request.match_info["token"] != hook.token:
            return error(401, 50027, "Invalid Webhook Token")
        return hook

    async def execute_webhook(self, request: web.Request) -> Reply:
        """``POST /webhooks/{id}/{token}``: a follow-up if the token is an interaction's."""
        if int(request.match_info["wid"]) == self.state.config.application_id:
            return await self.followup(request)
        hook = self._webhook(request)
        if not isinstance(hook, FakeWebhook):
            return hook
        body = message_body(request)
        if not isinstance(body, dict):
            return body
        body = webhook_components(body, request.query.get("with_components"))
        if not isinstance(body, dict):
            return body
        msg = self.state.build_message(hook.channel_id, body, webhook=hook)
        self.state.store_message(hook.channel_id, msg, {})  # webhooks have no nonce dedupe
        wait = request.query.get("wait", "false").lower() in ("true", "1")
        return (200, msg) if wait else (204, None)

    async def get_webhook(self, request: web.Request) -> Reply:
        """``GET /webhooks/{id}/{token}``: the webhook object (without the bot's auth)."""
        hook = self._webhook(request)
        if not isinstance(hook, FakeWebhook):
            return hook
        guild_id = self.state.channels[hook.channel_id][1].id
        return 200, {"id": str(hook.id), "type": 1, "name": hook.name, "avatar": None,
                     "channel_id": str(hook.channel_id), "guild_id": str(guild_id),
                     "application_id": None, "token": hook.token}

    async def unknown(self, request: web.Request) -> Reply:
        """Any route the fake does not serve: a loud, recorded 404."""
        request[RECORD].unknown_route = True
        return error(404, 0, "404: Not Found")
