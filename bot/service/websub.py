"""WebSub in the running service: the subscribe job and the callback endpoint.

The job (every ``SUBSCRIBE_EVERY_S``, on any process) claims the subscriptions that are due in
the database and asks their hubs; a hub's verification and pushes may reach any process's
``/websub/<token>``. A valid push makes the feed due now in the database, so whichever process
polls it next fetches the new version (one conditional GET; the pushed body itself is not
trusted as the feed). The protocol's pure parts are in ``bot.pipeline.websub``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from bot.core.errors import FetchError
from bot.core.urls import host_of
from bot.pipeline.fetch import Fetcher, origin_of
from bot.pipeline.websub import (
    DENIED_RETRY_S,
    RETRY_S,
    VERIFY_WAIT_S,
    callback_url,
    granted_lease,
    renew_at,
    signature_valid,
    subscribe_form,
)
from bot.store.base import Store
from bot.store.rows import WebSubClaim

log = logging.getLogger(__name__)

SUBSCRIBE_EVERY_S = 30.0
MAX_PUSH_BYTES = 5 * 1024 * 1024


async def request_subscriptions(store: Store, fetcher: Fetcher, public_url: str,
                                clock: Callable[[], float]) -> int:
    """Ask the hubs of the due subscriptions; how many hubs accepted the request."""
    now = clock()
    accepted = 0
    for claim in await store.claim_websub(now, VERIFY_WAIT_S):
        # The claim holds the row for VERIFY_WAIT_S: the hub's verification comes by then,
        # else the next run asks again.
        error = await _ask(fetcher, claim, public_url)
        if error is None:
            accepted += 1
            log.info("websub: asked %s to push %s", host_of(claim.hub), host_of(claim.topic),
                     extra={"feed_id": claim.feed_id})
            continue
        log.warning("websub: hub %s refused %s: %s", host_of(claim.hub), host_of(claim.topic),
                    error, extra={"feed_id": claim.feed_id})
        await store.websub_failed(claim.feed_id, claim.token, error, now + RETRY_S)
    return accepted


async def _ask(fetcher: Fetcher, claim: WebSubClaim, public_url: str) -> str | None:
    """None if the hub accepted (202/204), else why not."""
    form = subscribe_form(claim.topic, callback_url(public_url, claim.token), claim.secret)
    # The hub's address comes from a feed: the same guard as any fetch, and private networks
    # only when the hub is on the feed's own host and port (another port is another service,
    # as for article links and redirects, issue 20) and the feed has the allowance. Without
    # an access policy the guard's allowance holds for every URL, as in ``Fetcher.fetch``.
    access = fetcher.access
    private = access is None or (origin_of(claim.hub) == origin_of(claim.topic)
                                 and await access.permits(claim.topic))
    try:
        status, text = await fetcher.post_form(claim.hub, form, private=private)
    except FetchError as exc:
        return str(exc)
    if 200 <= status < 300:
        return None
    return f"HTTP {status}: {' '.join(text.split())[:200]}"


class WebSubCallback:
    """``GET``/``POST /websub/{token}``: the hub's verification of intent, and its pushes."""

    def __init__(self, store: Store, clock: Callable[[], float],
                 on_push: Callable[[], None]) -> None:
        self.store = store
        self.clock = clock
        self.on_push = on_push

    def routes(self) -> list[web.RouteDef]:
        """The two routes, to add to the service's web application."""
        return [web.get("/websub/{token}", self.verify), web.post("/websub/{token}", self.push)]

    async def verify(self, request: web.Request) -> web.Response:
        """Echo ``hub.challenge`` when the hub confirms what we asked; 404 otherwise."""
        token, query, now = request.match_info["token"], request.query, self.clock()
        mode = query.get("hub.mode", "")
        if mode == "denied":
            await self.store.websub_denied(token, query.get("hub.reason", "denied"),
                                           now + DENIED_RETRY_S)
            return web.Response(text="")
        lease = granted_lease(query.get("hub.lease_seconds"))
        challenge = query.get("hub.challenge")
        if challenge is None or not await self.store.websub_verify(
                token, mode, query.get("hub.topic", ""), lease, now, renew_at(now, lease)):
            return web.Response(status=404, text="not a subscription we asked for")
        return web.Response(text=challenge, content_type="text/plain")

    async def push(self, request: web.Request) -> web.Response:
        """A new version of a feed: signed with our secret, it makes the feed due now.

        An unknown token gets 410 (the hub should stop); a bad signature is acknowledged (2xx,
        as the spec asks) and ignored, so a forger learns nothing.
        """
        found = await self.store.websub_secret(request.match_info["token"])
        if found is None:
            return web.Response(status=410, text="no such subscription")
        feed_id, secret = found
        body = await request.content.read(MAX_PUSH_BYTES)
        if not signature_valid(request.headers.get("X-Hub-Signature"), secret, body):
            log.warning("websub: push for feed %d with a bad or missing signature ignored",
                        feed_id, extra={"feed_id": feed_id})
            return web.Response(status=202)
        if await self.store.websub_pushed(feed_id, self.clock()):
            self.on_push()
        return web.Response(status=202)
