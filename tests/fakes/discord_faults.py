"""Scriptable failures of the fake Discord: rate limits, outages, lost access, deleted webhooks.

Every rule matches on method and a path prefix relative to ``/api/v10`` (``""`` matches all), so
a test can fail exactly the call it is about and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

MISSING_ACCESS = 50001
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027


@dataclass
class Fault:
    """One scripted failure; ``count`` None = no limit, ``until`` None = no deadline."""

    status: int
    body: JSON
    prefix: str = ""
    method: str | None = None
    count: int | None = None
    until: float | None = None
    via: bool = True
    retry_after: float | None = None

    def matches(self, method: str, path: str, now: float) -> bool:
        """Whether this fault applies to the request (and is still armed)."""
        if self.until is not None and now >= self.until:
            return False
        if self.count is not None and self.count <= 0:
            return False
        return path.startswith(self.prefix) and self.method in (None, method)

    @property
    def spent(self) -> bool:
        """True once it can never match again."""
        expired = self.until is not None and time.monotonic() >= self.until
        return expired or (self.count is not None and self.count <= 0)

    def headers(self) -> dict[str, str]:
        """Headers of the answer: a 429 from Discord itself carries ``Via`` and Retry-After."""
        out: dict[str, str] = {}
        if self.status == 429:
            if self.via:
                out["Via"] = "1.1 google"
            out["Retry-After"] = str(self.retry_after or 0)
            out["X-RateLimit-Scope"] = "user"
            if self.body.get("global"):
                out["X-RateLimit-Global"] = "true"
        return out


class FaultPlan:
    """The faults armed on one fake, in the order they were added (first match wins)."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self.post_delay: float = 0.0
        self.patch_delay: float = 0.0  # edits answer this late (crash tests kill meanwhile)
        self.paced: dict[str, float] = {}

    def add(self, fault: Fault) -> Fault:
        """Arm a fault and return it (a test may inspect ``count`` afterwards)."""
        self.rules.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm everything, including the POST delay."""
        self.rules.clear()
        self.post_delay = 0.0
        self.patch_delay = 0.0
        self.paced.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault this request triggers, consuming one use of it; None if it goes through."""
        now = time.monotonic()
        self.rules = [f for f in self.rules if not f.spent]
        for fault in self.rules:
            if fault.matches(method, path, now):
                if fault.count is not None:
                    fault.count -= 1
                return fault
        return None

    def rate_limit(self, prefix: str, count: int = 1, retry_after: float = 0.05, *,
                   is_global: bool = False, via: bool = True, method: str = "POST") -> Fault:
        """The next ``count`` matching requests answer 429 with ``retry_after`` seconds.

        ``via=False`` imitates a Cloudflare ban, which discord.py raises at once.
        """
        body = {"message": "You are being rate limited.", "retry_after": retry_after,
                "global": is_global, "code": 0}
        return self.add(Fault(429, body, prefix, method, count=count, via=via,
                              retry_after=retry_after))

    def server_error(self, seconds: float, status: int = 502, prefix: str = "",
                     method: str | None = None) -> Fault:
        """Every matching request answers ``status`` for the next ``seconds`` seconds."""
        body = {"message": f"{status}: Server Error", "code": 0}
        return self.add(Fault(status, body, prefix, method, until=time.monotonic() + seconds))

    def forbid_channel(self, channel_id: int) -> Fault:
        """The channel answers 403 Missing Access (50001) from now on, like a revoked permission."""
        body = {"message": "Missing Access", "code": MISSING_ACCESS}
        return self.add(Fault(403, body, f"/channels/{channel_id}"))

    def unknown_webhook(self, webhook_id: int) -> Fault:
        """The webhook answers 404 Unknown Webhook (10015) from now on, as if deleted."""
        body = {"message": "Unknown Webhook", "code": UNKNOWN_WEBHOOK}
        return self.add(Fault(404, body, f"/webhooks/{webhook_id}"))

    def invalid_webhook_token(self, webhook_id: int) -> Fault:
        """The webhook answers 401 Invalid Webhook Token (50027), as after a token reset."""
        body = {"message": "Invalid Webhook Token", "code": INVALID_WEBHOOK_TOKEN}
        return self.add(Fault(401, body, f"/webhooks/{webhook_id}"))

    def pace(self, prefix: str, reset_after: float) -> None:
        """Answers under ``prefix`` say the bucket is spent (``X-RateLimit-Remaining: 0``)
        for ``reset_after`` seconds, like a channel that just received its 5 messages."""
        self.paced[prefix] = reset_after

    def pacing_headers(self, path: str) -> dict[str, str]:
        """Rate-limit headers that override the default ones for a paced path."""
        for prefix, reset_after in self.paced.items():
            if path.startswith(prefix):
                return {"X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}"}
        return {}

    def apply(self, spec: Mapping[str, Any]) -> Fault | None:
        """Arm a fault from JSON (the control API): ``{"kind": ..., other arguments}``."""
        args = dict(spec)
        kind = args.pop("kind")
        if kind == "rate_limit":
            return self.rate_limit(**args)
        if kind == "server_error":
            return self.server_error(**args)
        if kind == "forbid_channel":
            return self.forbid_channel(int(args["channel_id"]))
        if kind == "unknown_webhook":
            return self.unknown_webhook(int(args["webhook_id"]))
        if kind == "invalid_webhook_token":
            return self.invalid_webhook_token(int(args["webhook_id"]))
        if kind == "pace":
            self.pace(str(args["prefix"]), float(args["reset_after"]))
            return None
        if kind == "delay":
            self.post_delay = float(args["seconds"])
            return None
        if kind == "clear":
            self.clear()
            return None
        raise ValueError(f"unknown fault kind {kind!r}")
