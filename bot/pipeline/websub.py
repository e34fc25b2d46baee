"""WebSub, the subscriber's side (W3C WebSub): the request, the verification, the signature. Pure.

A feed that advertises a hub (``rel="hub"``) is subscribed when ``[bot] public_url`` is set:
the hub checks our intent with a GET to the callback (we echo ``hub.challenge``), then POSTs
each new version of the feed, signed with the secret we gave it (``X-Hub-Signature``,
``sha1=…``, or sha256/sha384/sha512). Polling goes on at the maximum interval as a safety net.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

LEASE_ASKED_S = 10 * 86400  # hubs grant what they like; this is what we ask for
MIN_LEASE_S = 60.0
RENEW_MARGIN_S = 3600.0  # renew an hour before the lease ends (halfway through a short one)
VERIFY_WAIT_S = 600.0  # asked, but no verification came: ask again after this
RETRY_S = 3600.0  # a hub that refused or failed is asked again after this
DENIED_RETRY_S = 86400.0
CALLBACK_PATH = "/websub/"
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
            "sha512": hashlib.sha512}


def callback_url(public_url: str, token: str) -> str:
    """The callback the hub calls: ``public_url`` + ``/websub/`` + the subscription's token."""
    return public_url.rstrip("/") + CALLBACK_PATH + quote(token, safe="")


def subscribe_form(topic: str, callback: str, secret: str) -> dict[str, str]:
    """The form POSTed to the hub to subscribe."""
    return {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback,
            "hub.secret": secret, "hub.lease_seconds": str(LEASE_ASKED_S)}


def renew_at(now: float, lease_s: float) -> float:
    """When to renew a lease granted at ``now`` for ``lease_s`` seconds."""
    return now + max(lease_s - RENEW_MARGIN_S, lease_s / 2)


def granted_lease(value: str | None) -> float:
    """The hub's ``hub.lease_seconds``, or what we asked when it sent none or nonsense."""
    try:
        lease = float(value) if value is not None else float(LEASE_ASKED_S)
    except ValueError:
        lease = float(LEASE_ASKED_S)
    return max(lease, MIN_LEASE_S) if lease == lease else float(LEASE_ASKED_S)  # NaN


def signature_valid(header: str | None, secret: str, body: bytes) -> bool:
    """Whether ``X-Hub-Signature`` (``method=hexdigest``) is the HMAC of ``body`` with
    ``secret``. An unknown method, a missing header or a mismatch are all invalid."""
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    digest = _DIGESTS.get(method.strip().lower())
    if digest is None:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())
