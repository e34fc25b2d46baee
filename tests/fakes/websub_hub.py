"""A WebSub hub for the tests: a real local aiohttp server speaking the hub's side.

``POST /hub`` takes a subscription request (202), then verifies intent with a GET to the
callback (a random ``hub.challenge`` that must come back as the body) and grants
``lease_s``. ``publish(topic, body)`` POSTs content to every verified subscriber, signed with
its secret (``X-Hub-Signature: sha1=…`` by default, as Google's hub and Superfeedr sign).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp
from aiohttp import web


@dataclass
class Subscriber:
    topic: str
    callback: str
    secret: str
    lease_s: int
    verified: bool = False


@dataclass
class FakeHub:
    lease_s: int = 3600
    requests: list[dict[str, str]] = field(default_factory=list)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)  # by callback
    _runner: web.AppRunner | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    base_url: str = ""

    async def __aenter__(self) -> FakeHub:
        app = web.Application()
        app.router.add_post("/hub", self._subscribe)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        for task in self._tasks:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"{self.base_url}/hub"

    async def _subscribe(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        if form.get("hub.mode") != "subscribe" or not form.get("hub.callback"):
            return web.Response(status=400, text="bad request")
        task = asyncio.create_task(self._verify(form))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, form: dict[str, str]) -> None:
        challenge = secrets.token_hex(8)
        params = {"hub.mode": "subscribe", "hub.topic": form["hub.topic"],
                  "hub.challenge": challenge, "hub.lease_seconds": str(self.lease_s)}
        async with aiohttp.ClientSession() as session, session.get(
                form["hub.callback"], params=params) as resp:
            echoed = await resp.text()
        if resp.status == 200 and echoed == challenge:
            self.subscribers[form["hub.callback"]] = Subscriber(
                form["hub.topic"], form["hub.callback"], form["hub.secret"], self.lease_s, True)

    async def wait_verified(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until ``count`` subscribers passed verification."""
        async with asyncio.timeout(timeout):
            while sum(s.verified for s in self.subscribers.values()) < count:
                await asyncio.sleep(0.02)

    async def publish(self, topic: str, body: bytes, *, method: str = "sha1",
                      secret: str | None = None) -> list[int]:
        """POST ``body`` to each verified subscriber of ``topic``; their statuses."""
        statuses = []
        async with aiohttp.ClientSession() as session:
            for sub in self.subscribers.values():
                if sub.topic != topic or not sub.verified:
                    continue
                digest = hmac.new((secret or sub.secret).encode(), body,
                                  getattr(hashlib, method)).hexdigest()
                async with session.post(sub.callback, data=body, headers={
                        "Content-Type": "application/rss+xml",
                        "X-Hub-Signature": f"{method}={digest}"}) as resp:
                    statuses.append(resp.status)
        return statuses
