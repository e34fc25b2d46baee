"""A protocol-faithful fake Discord (REST v10 + gateway) on 127.0.0.1, for tests.

In-process, with a real discord.py client (helpers in ``tests.fakes.discord_client``)::

    async with FakeDiscord() as fake:                      # defaults: discord_payloads
        async with running_client(MyBot(), fake) as bot:   # points Route.BASE etc. at it
            fake.faults.rate_limit("/channels/", count=2)  # or server_error, forbid_channel…
            interaction = await fake.send_command("watch", {"name": "x"}, subcommand="add",
                                                  permissions=MODERATOR_PERMISSIONS)
            callback = await fake.wait_for_callback(interaction)
            await fake.wait_for_messages(ALERTS_CHANNEL_ID, count=1)
            await fake.gateway.reconnect()                 # op 7; or invalidate(), disconnect()
        assert fake.unknown_requests == []                 # routes the fake does not serve

Discord's rules are enforced, not just echoed: message and embed limits (400/50035), nonce
dedupe with ``enforce_nonce``, ``allowed_mentions`` (see ``mention_*`` on created messages),
interaction deadlines and single acknowledgement, bot-token and webhook-token checks.

As a process (crash tests), scripted and inspected over ``/_fake/...`` (see discord_control)::

    python -m tests.fakes.discord_server --port 0 --port-file PATH [--config CFG.json]
                                         [--state-file PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from aiohttp import web

from .discord_components import component_payload
from .discord_control import ControlApi
from .discord_edits import EditApi
from .discord_faults import FaultPlan
from .discord_gateway import Gateway
from .discord_interactions import InteractionApi, OptionValues, interaction_payload
from .discord_payloads import JSON, MEMBER_PERMISSIONS, USER_ID, FakeConfig
from .discord_rest import API_PREFIX, RestApi
from .discord_roles import RoleApi
from .discord_state import FakeState, InteractionRecord, RecordedRequest
from .discord_threads import ThreadApi

T = TypeVar("T")


class FakeDiscord:
    """The fake server; state is inspectable and every wait has a timeout."""

    def __init__(self, config: FakeConfig | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, state_file: Path | None = None) -> None:
        self.config = config or FakeConfig()
        self.state = FakeState(self.config)
        self.gateway = Gateway(self.state)
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._state_file = state_file
        if state_file is not None:
            self.state.on_change = self._write_state

    # --- lifecycle -----------------------------------------------------------------------
    def build_app(self) -> web.Application:
        """The aiohttp application (REST, gateway, control API)."""
        interactions = InteractionApi(self.state)
        rest = RestApi(self.state, interactions.followup)
        app = web.Application(middlewares=[rest.middleware])
        rest.add_routes(app)
        EditApi(self.state).add_routes(app)
        RoleApi(self.state, self.gateway).add_routes(app)
        ThreadApi(self.state, self.gateway).add_routes(app)
        interactions.add_routes(app)
        ControlApi(self.state, self.gateway).add_routes(app)
        app.router.add_get("/gateway", self.gateway.handle)
        rest.add_catch_all(app)
        return app

    async def start(self) -> None:
        """Bind and serve (port 0 picks a free port)."""
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Close websockets first (aiohttp would otherwise wait for them), then the server."""
        await self.gateway.disconnect(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The bound port (known after :meth:`start`)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self._port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be set to."""
        return f"ws://{self._host}:{self._port}/gateway"

    # --- inspection ----------------------------------------------------------------------
    @property
    def faults(self) -> FaultPlan:
        """Arm failures: ``fake.faults.rate_limit("/channels/1/messages", count=2)``."""
        return self.state.faults

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request, in arrival order."""
        return self.state.requests

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not serve; a test can assert this stays empty."""
        return [r for r in self.state.requests if r.unknown_route]

    def requests_to(self, method: str, prefix: str) -> list[RecordedRequest]:
        """Requests with this method whose path (after ``/api/v10``) starts with ``prefix``."""
        return [r for r in self.state.requests if r.method == method and r.path.startswith(prefix)]

    def messages(self, channel_id: int | None = None) -> list[JSON]:
        """Messages created (via bot or webhook) in one channel, or in all, oldest first."""
        if channel_id is None:
            return self.state.all_messages()
        return list(self.state.messages.get(channel_id, []))

    def webhook_messages(self, webhook_id: int) -> list[JSON]:
        """Messages created through one webhook, oldest first."""
        return [m for m in self.state.all_messages() if m.get("webhook_id") == str(webhook_id)]

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """Commands last synced globally (None) or to one guild."""
        return self.state.commands.get(guild_id, [])

    # --- waiting -------------------------------------------------------------------------
    async def wait_until(self, probe: Callable[[], T | None], timeout: float = 5.0,
                         what: str = "condition") -> T:
        """Wait until ``probe()`` is truthy and return it; TimeoutError lists recent requests."""
        return await self.state.wait_until(probe, timeout, what)

    async def wait_for_messages(self, channel_id: int, count: int = 1,
                                timeout: float = 5.0) -> list[JSON]:
        """Wait until the channel has at least ``count`` messages; return them all."""
        return await self.wait_until(
            lambda: self.messages(channel_id) if len(self.messages(channel_id)) >= count else None,
            timeout, f"{count} message(s) in channel {channel_id}")

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until a client has identified (or resumed) on the gateway."""
        await self.wait_until(lambda: self.gateway.active, timeout, "a ready gateway session")

    # --- interactions --------------------------------------------------------------------
    async def send_command(self, name: str, options: OptionValues | None = None, *,
                           subcommand: str | None = None, group: str | None = None,
                           focused: str | None = None, permissions: int = MEMBER_PERMISSIONS,
                           guild_id: int | None = None, channel_id: int | None = None,
                           user_id: int = USER_ID, roles: tuple[int, ...] = (),
                           resolved: JSON | None = None) -> InteractionRecord:
        """Send INTERACTION_CREATE for ``/name [group] [subcommand] options…``.

        ``focused`` names the option being typed and makes it an autocomplete (type 4).
        ``permissions`` is the member's permission bits (e.g. ``MODERATOR_PERMISSIONS``).
        """
        record = interaction_payload(
            self.state, name, options, subcommand=subcommand, group=group, focused=focused,
            permissions=permissions, guild_id=guild_id, channel_id=channel_id, user_id=user_id,
            roles=roles, resolved=resolved)
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload)
        return record

    def prepare_click(self, message: JSON, custom_id: str, *,
                      values: Sequence[str] | None = None, user_id: int = USER_ID,
                      permissions: int = MEMBER_PERMISSIONS,
                      roles: tuple[int, ...] | None = None) -> InteractionRecord:
        """A click on a component of ``message`` (type 3), recorded but not yet sent."""
        current = next((m for m in self.messages() if m["id"] == message["id"]), message)
        return component_payload(self.state, current, custom_id, values=values,
                                 user_id=user_id, permissions=permissions, roles=roles)

    async def click(self, message: JSON, custom_id: str, *,
                    values: Sequence[str] | None = None, user_id: int = USER_ID,
                    permissions: int = MEMBER_PERMISSIONS,
                    roles: tuple[int, ...] | None = None) -> InteractionRecord:
        """A member clicks ``custom_id`` on ``message`` (as the fake has it now): sends
        INTERACTION_CREATE of type 3 to every session of the guild's shard."""
        record = self.prepare_click(message, custom_id, values=values, user_id=user_id,
                                    permissions=permissions, roles=roles)
        await self.gateway.dispatch("INTERACTION_CREATE", record.payload)
        return record

    async def wait_for_callback(self, interaction: InteractionRecord,
                                timeout: float = 5.0) -> JSON:
        """The body the client posted to the interaction's callback endpoint."""
        return await self.wait_until(
            lambda: interaction.callbacks[0] if interaction.callbacks else None,
            timeout, f"the callback of interaction {interaction.id}")

    async def wait_for_followups(self, interaction: InteractionRecord, count: int = 1,
                                 timeout: float = 5.0) -> list[JSON]:
        """Wait for ``count`` follow-up messages of the interaction; return them all."""
        return await self.wait_until(
            lambda: interaction.followups if len(interaction.followups) >= count else None,
            timeout, f"{count} follow-up(s) of interaction {interaction.id}")

    # --- standalone ----------------------------------------------------------------------
    def _write_state(self) -> None:
        # Write-then-rename so a reader never sees half a file.
        assert self._state_file is not None
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state.snapshot()))
        os.replace(tmp, self._state_file)


async def _serve(args: argparse.Namespace) -> None:
    config = FakeConfig()
    if args.config:
        config = FakeConfig.from_json(json.loads(Path(args.config).read_text()))
    fake = FakeDiscord(config, host=args.host, port=args.port,
                       state_file=Path(args.state_file) if args.state_file else None)
    await fake.start()
    if args.port_file:
        Path(args.port_file).write_text(str(fake.port))
    print(f"FAKE_DISCORD_READY {fake.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.close()


def main(argv: list[str] | None = None) -> None:
    """Run the fake as a process until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--state-file", help="keep a JSON snapshot of the state here")
    parser.add_argument("--config", help="JSON: token, application_id, guilds, webhooks")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
