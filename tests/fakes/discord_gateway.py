"""The fake's gateway websocket: HELLO, heartbeats, IDENTIFY → READY → GUILD_CREATE, RESUME.

Like Discord for a bot with several sessions, an event is delivered to EVERY identified
session of the shard it belongs to (``(guild_id >> 22) % count``; no ``shard`` in IDENTIFY is
shard ``[0, 1]``), so a bot that runs two sessions handles each interaction twice. The state
records how many sessions were identified at once (now and the maximum).

Frames are sent as uncompressed TEXT: discord.py asks for ``compress=zlib-stream`` but parses
text frames as plain JSON.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .discord_payloads import JSON, guild_create_json, member_json
from .discord_state import FakeState

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 0, 1, 2, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
AUTHENTICATION_FAILED, INVALID_SHARD = 4004, 4010


def shard_of(guild_id: int | None, count: int) -> int:
    """The shard that receives a guild's events (DMs go to shard 0)."""
    return 0 if guild_id is None else (guild_id >> 22) % count


@dataclass
class Session:
    """A gateway session; it outlives its websocket so that a RESUME can pick it up."""

    id: str
    seq: int = 0
    shard: tuple[int, int] = (0, 1)


@dataclass
class Connection:
    """One websocket; ``session`` is set once IDENTIFY or RESUME succeeded."""

    ws: web.WebSocketResponse
    resume_url: str
    session: Session | None = None
    received: list[JSON] = field(default_factory=list)


class Gateway:
    """Serves ``/gateway`` and lets tests push events, RECONNECT or INVALID_SESSION."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.identifies: list[JSON] = []
        self.resumes: list[JSON] = []

    @property
    def active(self) -> Connection | None:
        """The newest open connection with a live session."""
        live = self.live()
        return live[-1] if live else None

    def live(self) -> list[Connection]:
        """The newest open connection of each identified session, oldest session first."""
        newest: dict[str, Connection] = {}
        for conn in self.connections:
            if conn.session is not None and not conn.ws.closed:
                newest.pop(conn.session.id, None)
                newest[conn.session.id] = conn
        return list(newest.values())

    def receivers(self, guild_id: int | None) -> list[Connection]:
        """Every live session of the shard that ``guild_id``'s events belong to."""
        return [c for c in self.live() if c.session is not None
                and shard_of(guild_id, c.session.shard[1]) == c.session.shard[0]]

    def _note_sessions(self) -> None:
        self.state.note_sessions(len(self.live()))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One websocket connection from HELLO to close."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws, f"ws://{request.host}/gateway")
        self.connections.append(conn)
        interval = self.state.config.heartbeat_interval_ms
        try:
            await self._send(conn, {"op": HELLO, "d": {"heartbeat_interval": interval}})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    payload = json.loads(msg.data)
                    conn.received.append(payload)
                    await self._on_op(conn, payload)
        finally:
            self.connections.remove(conn)
            self._note_sessions()
            self.state.changed()
        return ws

    async def _send(self, conn: Connection, payload: JSON) -> None:
        if not conn.ws.closed:
            await conn.ws.send_str(json.dumps({"s": None, "t": None, **payload}))

    async def _dispatch_to(self, conn: Connection, event: str, data: Any) -> None:
        assert conn.session is not None
        conn.session.seq += 1
        await self._send(conn, {"op": DISPATCH, "t": event, "s": conn.session.seq, "d": data})

    async def _on_op(self, conn: Connection, payload: JSON) -> None:
        op: Any = payload.get("op")
        data: Any = payload.get("d")
        if op == HEARTBEAT:
            await self._send(conn, {"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(conn, data)
        elif op == RESUME:
            await self._resume(conn, data)
        elif op == REQUEST_MEMBERS and conn.session is not None:
            chunk = {"guild_id": data["guild_id"], "members": [member_json(self.state.bot_user)],
                     "chunk_index": 0, "chunk_count": 1, "not_found": [],
                     "nonce": data.get("nonce")}
            await self._dispatch_to(conn, "GUILD_MEMBERS_CHUNK", chunk)
        # PRESENCE_UPDATE, VOICE_STATE and the like are recorded in ``received`` only.

    async def _identify(self, conn: Connection, data: JSON) -> None:
        self.identifies.append(data)
        if data.get("token") != self.state.config.token:
            await conn.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        shard = _valid_shard(data.get("shard", [0, 1]))
        if shard is None:
            await conn.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        session = Session(secrets.token_hex(16), shard=shard)
        self.sessions[session.id] = conn.session = session
        self._note_sessions()
        guilds = [g for g in self.state.config.guilds if shard_of(g.id, shard[1]) == shard[0]]
        ready = {
            "v": 10, "user": self.state.bot_user, "session_id": session.id,
            "session_type": "normal", "resume_gateway_url": conn.resume_url,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "application": {"id": str(self.state.config.application_id), "flags": 0},
            "private_channels": [], "relationships": [], "user_settings": {},
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._dispatch_to(conn, "READY", ready)
        for guild in guilds:
            await self._dispatch_to(conn, "GUILD_CREATE", guild_create_json(
                guild, self.state.bot_user,
                extra_roles=self.state.created_roles.get(guild.id, [])))
        self.state.changed()

    async def _resume(self, conn: Connection, data: JSON) -> None:
        self.resumes.append(data)
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.state.config.token:
            await self._send(conn, {"op": INVALID_SESSION, "d": False})
            return
        conn.session = session
        self._note_sessions()
        # Nothing was missed in a fake, so RESUMED replays no events.
        await self._dispatch_to(conn, "RESUMED", {})
        self.state.changed()

    # --- test controls -------------------------------------------------------------------
    async def dispatch(self, event: str, data: Any, timeout: float = 5.0) -> int:
        """Send a DISPATCH event to every session of its shard (waiting for one to be ready).

        Returns how many sessions it went to.
        """
        guild = data.get("guild_id") if isinstance(data, dict) else None
        guild_id = int(guild) if guild is not None else None
        conns = await self.state.wait_until(lambda: self.receivers(guild_id), timeout,
                                            "a ready gateway session")
        for conn in conns:
            await self._dispatch_to(conn, event, data)
        return len(conns)

    async def dispatch_if_ready(self, event: str, data: Any) -> int:
        """Like :meth:`dispatch`, but to the sessions there are now (none: nobody hears it),
        for events Discord sends as a side effect of a REST call."""
        guild = data.get("guild_id") if isinstance(data, dict) else None
        conns = self.receivers(int(guild) if guild is not None else None)
        for conn in conns:
            await self._dispatch_to(conn, event, data)
        return len(conns)

    async def reconnect(self) -> int:
        """Send op 7 RECONNECT to every connection; the client should come back with RESUME."""
        conns = [c for c in self.connections if c.session is not None]
        for conn in conns:
            await self._send(conn, {"op": RECONNECT, "d": None})
        return len(conns)

    async def invalidate(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; not resumable means the session is forgotten too."""
        for conn in list(self.connections):
            if not resumable and conn.session is not None:
                self.sessions.pop(conn.session.id, None)
            await self._send(conn, {"op": INVALID_SESSION, "d": resumable})

    async def disconnect(self, code: int = 4000) -> None:
        """Close every websocket from the server side (4000: "unknown error", resumable)."""
        for conn in list(self.connections):
            await conn.ws.close(code=code, message=b"fake Discord closed the connection")


def _valid_shard(value: Any) -> tuple[int, int] | None:
    """``[id, count]`` with 0 <= id < count, as Discord requires; None otherwise."""
    if (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)
            and 0 <= value[0] < value[1]):
        return value[0], value[1]
    return None
