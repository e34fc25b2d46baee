"""Posting alerts to Discord over REST: bot channel messages and webhook executions.

Every request goes to the configured API base (``WIREWATCH_DISCORD_API_BASE``), webhooks
included, so a REST proxy or a test fake sees all traffic. Responses are classified into the
delivery error tree; the outbox decides what to do. Webhook tokens never appear in errors.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp

from bot import __version__
from bot.core.errors import (
    DeliveryError,
    MessageGone,
    PermanentDelivery,
    RetryableDelivery,
    TargetGone,
)
from bot.core.model import Alert
from bot.delivery import fence
from bot.delivery.components import alert_components
from bot.delivery.digests import digest_body
from bot.delivery.discord_threads import Threads
from bot.delivery.embed import alert_to_message, delivery_marker, footer_marker
from bot.store.rows import Delivery

log = logging.getLogger(__name__)

WEBHOOK_PATH = re.compile(r"/webhooks/(\d+)/([\w.-]+)")
UNKNOWN_MESSAGE = 10008
NOT_TEXT = " 50008 "  # "Cannot send messages in a non-text channel", as _classify words it
NONCE_WINDOW_S = 60.0  # Discord dedupes a nonce for "a few minutes"; past this we look first
MAX_ROUTE_WAIT_S = 10.0
REQUEST_TIMEOUT_S = 8.0  # below the 10 s shutdown budget


def message_body(alert: Alert, *, nonce: str | None = None, marker: str | None = None,
                 components: list[dict[str, object]] | None = None) -> dict[str, object]:
    """The request body: a digest part as rendered when it was made, else the alert's embed
    with ``components`` (an alert's controls, issue 22; a digest has none).

    A digest's last footer gets the same ``ref <marker>`` as an alert's, so the history
    look-up after an interrupted send recognises it too.
    """
    body = digest_body(alert, marker=marker)
    if body is None:
        message = alert_to_message(alert, nonce=nonce, marker=marker)
        if components:
            message["components"] = components
        return message
    return {**body, "nonce": nonce, "enforce_nonce": True} if nonce else body


def followed(delivery: Delivery) -> Alert:
    """The delivery's alert, pinging the watch's followers as they are now (issue 22)."""
    return replace(delivery.alert, follow_role_id=delivery.follow_role_id)


class DiscordSender:
    """Sends one delivery to its channel (bot token) or webhook; returns the message id."""

    def __init__(self, session: aiohttp.ClientSession, api_base: str, token: str | None,
                 clock: Callable[[], float]) -> None:
        self._session = session
        self._api = api_base.rstrip("/")
        self._token = token
        self._clock = clock
        # Per-route pacing from Discord's own headers: route → monotonic time it reopens.
        self._route_reopens: dict[str, float] = {}
        self.threads = Threads(self._request)  # forum channels and story threads

    async def send(self, delivery: Delivery) -> str | None:
        """Post the alert; raise RetryableDelivery, PermanentDelivery or TargetGone on failure."""
        if delivery.channel_id:
            return await self._send_to_channel(delivery, delivery.channel_id)
        if delivery.webhook_url:
            return await self._send_to_webhook(delivery, delivery.webhook_url)
        raise PermanentDelivery("the watch has neither a channel nor a webhook")

    async def edit(self, delivery: Delivery, message_id: str | None) -> None:
        """Set the message a story edit delivery points at to the delivery's alert."""
        if not message_id:
            raise MessageGone("the message to edit has no id")
        channel_id = delivery.channel_id
        if channel_id and await self.threads.is_forum(channel_id, strict=True):
            channel_id = int(message_id)  # a forum post's first message is in its thread
        await self.edit_message(channel_id=channel_id,
                                webhook_url=delivery.webhook_url, message_id=message_id,
                                alert=followed(delivery), nonce=delivery.edit_nonce)

    async def thread_post(self, delivery: Delivery, message_id: str | None) -> str | None:
        """Post a further source of a story into the thread of its message (issue 22)."""
        if not message_id or not delivery.channel_id:
            raise MessageGone("the story message has no id, or is not in a channel")
        if not self._token:
            raise PermanentDelivery("channel delivery needs DISCORD_TOKEN")
        await self.threads.open_thread(delivery.channel_id, int(message_id),
                                       delivery.alert.title)
        payload = message_body(delivery.alert, nonce=delivery.nonce,
                               marker=delivery_marker(delivery.nonce),
                               components=alert_components(delivery.alert, watch_id=None,
                                                           delivery_id=None,
                                                           interactive=False))
        body = await self._request("POST", f"/channels/{message_id}/messages", payload,
                                   what=f"thread {message_id}")
        return str(body.get("id")) if body.get("id") else None

    async def edit_message(self, *, channel_id: int | None, webhook_url: str | None,
                           message_id: str, alert: Alert, nonce: str | None = None) -> None:
        """Set an earlier message to ``alert``'s rendering (PATCH, idempotent).

        ``nonce`` is the original delivery's: its marker stays in the footer so a look-up
        after a crash still recognises the message. Raises MessageGone when the message was
        deleted, else like ``send``.
        """
        payload = alert_to_message(alert, marker=delivery_marker(nonce) if nonce else None)
        if channel_id:
            if not self._token:
                raise PermanentDelivery("channel delivery needs DISCORD_TOKEN")
            await self._request("PATCH", f"/channels/{channel_id}/messages/{message_id}",
                                payload, what=f"channel {channel_id}")
            return
        found = WEBHOOK_PATH.search(webhook_url or "")
        if not found:
            raise PermanentDelivery("the watch has neither a channel nor a valid webhook")
        webhook_id, token = found.groups()
        await self._request("PATCH", f"/webhooks/{webhook_id}/{token}/messages/{message_id}",
                            payload, what=f"webhook {webhook_id}", auth=False)

    async def _send_to_channel(self, delivery: Delivery, channel_id: int) -> str | None:
        if not self._token:
            raise PermanentDelivery("channel delivery needs DISCORD_TOKEN")
        forum = await self.threads.is_forum(channel_id)
        if not forum and delivery.first_attempt and \
                self._clock() - delivery.first_attempt > NONCE_WINDOW_S:
            existing = await self._find_existing(channel_id, delivery)
            if existing:
                log.info("watch %r: delivery %d was already posted as message %s",
                         delivery.watch_name, delivery.id, existing)
                return existing
        alert = followed(delivery)
        payload = message_body(alert, nonce=delivery.nonce, marker=delivery_marker(delivery.nonce),
                               components=alert_components(alert, watch_id=delivery.watch_id,
                                                           delivery_id=delivery.id,
                                                           interactive=True))
        if not forum:
            try:
                body = await self._request("POST", f"/channels/{channel_id}/messages", payload,
                                           what=f"channel {channel_id}")
                return str(body.get("id")) if body.get("id") else None
            except PermanentDelivery as exc:
                # 50008: not a text channel. The look-up failed earlier; ask again now.
                if NOT_TEXT not in str(exc) or not await self.threads.is_forum(
                        channel_id, strict=True):
                    raise
        # One post per story (a forum post takes no nonce: see the README).
        return await self.threads.forum_post(channel_id, alert.title, delivery.watch_name,
                                             payload)

    async def _send_to_webhook(self, delivery: Delivery, webhook_url: str) -> str | None:
        found = WEBHOOK_PATH.search(webhook_url)
        if not found:
            raise PermanentDelivery("the watch's webhook URL is malformed")
        webhook_id, token = found.groups()
        if delivery.first_attempt and self._token:
            # Webhooks take no nonce: after an interrupted attempt, a bot token lets us read
            # the webhook's channel and find the message before posting it a second time.
            existing = await self._find_webhook_message(webhook_id, token, delivery)
            if existing:
                log.info("watch %r: delivery %d was already posted as message %s",
                         delivery.watch_name, delivery.id, existing)
                return existing
        # A webhook the application does not own may carry only link buttons, and only
        # with ``with_components`` (Discord ignores components without it).
        alert = followed(delivery)
        payload = message_body(alert, marker=delivery_marker(delivery.nonce),
                               components=alert_components(alert, watch_id=None,
                                                           delivery_id=None, interactive=False))
        body = await self._request(
            "POST", f"/webhooks/{webhook_id}/{token}?wait=true&with_components=true", payload,
            what=f"webhook {webhook_id}", auth=False)
        return str(body.get("id")) if body.get("id") else None

    async def _find_webhook_message(self, webhook_id: str, token: str,
                                    delivery: Delivery) -> str | None:
        try:
            hook = await self._request("GET", f"/webhooks/{webhook_id}/{token}", None,
                                       what=f"webhook {webhook_id}", auth=False)
            channel_id = int(hook.get("channel_id") or 0)
            return await self._find_existing(channel_id, delivery) if channel_id else None
        except (DeliveryError, ValueError):
            return None  # the lookup is a courtesy: never let it block the alert

    async def remove_duplicates(self, delivery: Delivery, posted: str | None,
                                keep: str | None) -> int:
        """Delete every copy of ``delivery``'s message but one; returns how many went.

        Called when a send posted but could not mark the row (another process sent it
        meanwhile, issue 20). The copy kept is ``keep``, the one the database records (later
        edits go to it), else the earliest. With a bot token that can read the channel, its
        recent history is searched for messages with this delivery's ``ref`` marker; without
        one (a webhook-only setup) only ``posted``, this process's own copy, is known: it goes
        when the database records another.
        """
        try:
            copies = await self._copies(delivery)
        except DeliveryError:
            copies = None
        if copies is None:
            copies = [posted, keep] if posted and keep and posted != keep else []
        if len(copies) < 2 or keep is None:
            # Not recorded yet: the sender that will record it may adopt any of them.
            return 0
        survivor = keep if keep in copies else min(copies, key=int)
        deleted = 0
        for message_id in copies:
            if message_id != survivor and await self._delete(delivery, message_id):
                deleted += 1
        return deleted

    async def _copies(self, delivery: Delivery) -> list[str] | None:
        """Ids of the messages carrying ``delivery``'s marker in its channel's recent history;
        None without a bot token (raises DeliveryError when it cannot be read)."""
        channel_id = delivery.channel_id
        if not self._token:
            return None
        if not channel_id and delivery.webhook_url:
            found = WEBHOOK_PATH.search(delivery.webhook_url)
            if not found:
                return None
            hook = await self._request("GET", f"/webhooks/{found.group(1)}/{found.group(2)}",
                                       None, what=f"webhook {found.group(1)}", auth=False)
            channel_id = int(hook.get("channel_id") or 0)
        if not channel_id:
            return None
        messages = await self._request("GET", f"/channels/{channel_id}/messages?limit=100",
                                       None, what=f"channel {channel_id}")
        marker = delivery_marker(delivery.nonce)
        return [str(message["id"]) for message in messages.get("items", [])
                if any(isinstance(embed, dict) and footer_marker(embed) == marker
                       for embed in message.get("embeds") or ())]

    async def _delete(self, delivery: Delivery, message_id: str) -> bool:
        """Delete one message of ``delivery``'s target; False when it was already gone."""
        found = WEBHOOK_PATH.search(delivery.webhook_url or "")
        try:
            if delivery.channel_id or not found:
                await self._request("DELETE", f"/channels/{delivery.channel_id}/messages/"
                                    f"{message_id}", None, what=f"channel {delivery.channel_id}")
            else:  # a webhook deletes its own messages with its token, no bot token needed
                await self._request("DELETE", f"/webhooks/{found.group(1)}/{found.group(2)}"
                                    f"/messages/{message_id}", None,
                                    what=f"webhook {found.group(1)}", auth=False)
        except MessageGone:
            return False
        return True

    async def _find_existing(self, channel_id: int, delivery: Delivery) -> str | None:
        # Past the nonce window a resend could post a duplicate, so look for our embed first.
        # Only this delivery's own marker counts: another watch's post of the same article
        # (same URL, a footer that merely contains this watch's name) is not ours.
        try:
            messages = await self._request("GET", f"/channels/{channel_id}/messages?limit=50",
                                           None, what=f"channel {channel_id}")
        except PermanentDelivery:
            return None  # no read access: sending is still better than losing the alert
        marker = delivery_marker(delivery.nonce)
        for message in messages.get("items", []):
            if message.get("nonce") == delivery.nonce:
                return str(message["id"])
            if any(isinstance(embed, dict) and footer_marker(embed) == marker
                   for embed in message.get("embeds") or ()):
                return str(message["id"])
        return None

    async def _request(self, method: str, path: str, payload: dict[str, object] | None, *,
                       what: str, auth: bool = True) -> dict[str, Any]:
        route = path.split("?", 1)[0]
        await self._wait_for_route(route)
        if method != "GET" and fence.expired():  # checked last thing before a side effect
            raise RetryableDelivery(f"{what}: the target's claim ran out before the request")
        headers = {"User-Agent": f"DiscordBot (https://github.com/wirewatch, {__version__})"}
        if auth and self._token:
            headers["Authorization"] = f"Bot {self._token}"
        try:
            async with self._session.request(
                    method, self._api + path, json=payload, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as response:
                self._note_rate_limit(route, response.headers)
                data = await response.json(content_type=None) if response.content_length != 0 \
                    else None
                return _classify(response.status, response.headers, data, what,
                                 webhook=not auth)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise RetryableDelivery(f"{what}: network error: {type(exc).__name__}") from None


    async def _wait_for_route(self, route: str) -> None:
        reopens = self._route_reopens.get(route)
        if reopens is not None:
            delay = reopens - time.monotonic()
            if delay > 0:
                await asyncio.sleep(min(delay, MAX_ROUTE_WAIT_S))
            self._route_reopens.pop(route, None)

    def _note_rate_limit(self, route: str, headers: Any) -> None:
        # Discord tells each route's budget (5 messages / 5 s per channel): when a response
        # says none remain, hold that route until its bucket resets instead of earning a 429.
        remaining, reset_after = headers.get("X-RateLimit-Remaining"), headers.get(
            "X-RateLimit-Reset-After")
        if remaining == "0" and reset_after:
            try:
                self._route_reopens[route] = time.monotonic() + float(reset_after)
            except ValueError:
                return


def _classify(status: int, headers: Any, data: Any, what: str, *,
              webhook: bool = False) -> dict[str, Any]:
    if 200 <= status < 300:
        if isinstance(data, list):
            return {"items": data}
        return data if isinstance(data, dict) else {}
    info = data if isinstance(data, dict) else {}
    reason = f"{what}: HTTP {status}"
    if info.get("message"):
        reason += f" {info.get('code', '')} {info['message']}".rstrip()
    if status == 429:
        retry = info.get("retry_after") or headers.get("Retry-After") or 1.0
        raise RetryableDelivery(reason, retry_after=float(retry))
    if status == 404 and info.get("code") == UNKNOWN_MESSAGE:
        raise MessageGone(reason)
    if status in (403, 404) or (webhook and status == 401):
        # A webhook's 401 means its token is invalid (reset or deleted): no retry will fix it.
        raise TargetGone(reason)
    if status >= 500 or status in (401, 408):
        raise RetryableDelivery(reason)
    raise PermanentDelivery(reason)
