"""The one error tree of Wirewatch.

    WirewatchError                 base: anything we raise on purpose
    ├── ConfigError                bad settings or config file (exit status 2)
    ├── QueryError                 a watch query that does not parse or compile (has .position)
    ├── FeedError                  a poll failed; stored on the feed row, never raised further
    │   ├── FetchError             network, HTTP status, limits, SSRF refusal
    │   └── ParseError             not a feed, hostile body, parser crash or timeout
    ├── StoreError                 the database refused or is unreachable
    │   └── LeaseLost              a later claim took the feed: this poll's result is dropped
    └── DeliveryError              a send failed
        ├── RetryableDelivery      429, 5xx, network: try again later (has .retry_after)
        └── PermanentDelivery      400: the payload is wrong; never retried
            └── TargetGone         403/404: channel or webhook is gone; pause the watch
"""

from __future__ import annotations


class WirewatchError(Exception):
    """Base class of every error Wirewatch raises on purpose."""


class ConfigError(WirewatchError):
    """Settings or config file are invalid; the message names the file, key and problem."""


class QueryError(WirewatchError):
    """A watch query is invalid; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(f"{message} (at position {position})")
        self.reason = message
        self.position = position


class FeedError(WirewatchError):
    """A feed poll failed; recorded on the feed, never raised past one poll."""


class FetchError(FeedError):
    """The feed could not be fetched (network, status, limits, refused address).

    ``unreachable`` marks failures before any server answered (DNS, connect, timeout): when
    every feed fails that way the machine is offline, which is said once, not per feed.
    """

    def __init__(self, message: str, *, retry_after: float | None = None,
                 status: int | None = None, kind: str | None = None,
                 unreachable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status  # the HTTP status of a non-2xx answer
        self.kind = kind  # "timeout", "too_large" or "content_type" for those limits
        self.unreachable = unreachable


class AddressRefused(FetchError):
    """The feed leads to a non-public address its fetch is not allowed to reach (SSRF guard)."""


class ParseError(FeedError):
    """The body is not a usable feed (not a feed, hostile, parser crash or timeout)."""


class StoreError(WirewatchError):
    """The database failed."""


class LeaseLost(StoreError):
    """The feed was claimed again since this poll's claim (its process paused or stalled):
    the poll's writes are refused, and the newer claim's poll records its own result."""


class DeliveryError(WirewatchError):
    """Sending an alert failed."""


class RetryableDelivery(DeliveryError):
    """A transient failure (429, 5xx, network); ``retry_after`` is a hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDelivery(DeliveryError):
    """The payload was refused (400); retrying cannot help."""


class TargetGone(PermanentDelivery):
    """The channel or webhook is gone or forbidden (403/404)."""


class MessageGone(PermanentDelivery):
    """The message to edit no longer exists (404 Unknown Message): give up quietly."""
