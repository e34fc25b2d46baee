"""SSRF guard: decide which network addresses a feed fetch may connect to.

A feed URL is chosen by users, so without a guard the bot can be made to read its own
loopback services, the cloud metadata endpoint (169.254.169.254) or the LAN. The guard
is applied at two points, both needed:

* ``check_literal_host`` refuses hosts that *are* an address, including the legacy forms
  ``inet_aton`` accepts (``127.1``, ``0x7f000001``, ``2130706433``, ``0177.0.0.1``), before
  any connection is attempted;
* ``GuardedResolver`` checks every address DNS returns, at connect time, on every
  redirect hop, so ``localhost`` or a name pointing at 10.0.0.1 is refused too (and DNS
  rebinding cannot swap in another address between check and connect).

Only globally routable unicast addresses pass, unless a network is explicitly allowed
(``WIREWATCH_ALLOW_PRIVATE_NETWORKS``, parsed by ``parse_networks``).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from bot.core.errors import AddressRefused, FetchError

log = logging.getLogger(__name__)

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

ALLOW_HINT = "allow it with WIREWATCH_ALLOW_PRIVATE_NETWORKS"

# Shared address space (RFC 6598, carrier-grade NAT) is neither "private" nor global in
# the ipaddress module's eyes; name it so the refusal message is useful.
_SHARED = IPv4Network("100.64.0.0/10")


def parse_networks(spec: str) -> tuple[Network, ...]:
    """Parse ``"10.0.0.0/8, 127.0.0.1/32, ::1"`` into networks; raise ValueError naming a bad item.

    A bare address means a single-host network. Host bits set (``10.0.0.1/8``) are refused
    rather than silently widened, because that usually hides a typo.
    """
    networks: list[Network] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise ValueError(f"invalid network {item!r}: {exc}") from exc
    return tuple(networks)


_NAT64 = IPv6Network("64:ff9b::/96")


def _unwrap(address: Address) -> Address:
    """Return the IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), else itself.

    ``::ffff:127.0.0.1`` connects to loopback on a dual-stack socket; 6to4 and NAT64
    addresses are translated to their IPv4 part by gateways, so judge that part.
    """
    if not isinstance(address, IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _reason(address: Address) -> str | None:
    """Why ``address`` is not a public unicast address, or None when it is."""
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, IPv4Address) and address in _SHARED, "shared address space"),
        (address.is_reserved, "reserved"),
        # fec0::/10, deprecated (RFC 3879) but still routed inside some networks; Python
        # counts it neither private nor reserved.
        (isinstance(address, IPv6Address) and address.is_site_local, "site-local"),
        (address.is_private, "private"),
        (not address.is_global, "not globally routable"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    return None


def parse_address(text: str) -> Address | None:
    """Parse an IP address, also in the legacy IPv4 forms ``inet_aton`` accepts; else None.

    ``127.1``, ``0x7f000001``, ``2130706433`` and ``0177.0.0.1`` all mean 127.0.0.1 to the
    C library; treating them as names would let them skip a literal-address check.
    """
    host = text.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or ":" in host or not host.replace(".", "").isalnum():
        return None
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return None
    return IPv4Address(packed)


class AddressGuard:
    """Decides whether a resolved address may be connected to."""

    def __init__(self, allowed: Sequence[Network] = ()) -> None:
        self._allowed = tuple(allowed)

    @property
    def allowed(self) -> tuple[Network, ...]:
        """The networks explicitly opted back in."""
        return self._allowed

    def _is_allowed(self, address: Address) -> bool:
        return any(address.version == net.version and address in net for net in self._allowed)

    def check(self, address: str) -> None:
        """Raise FetchError unless ``address`` (an IP in text form) may be connected to."""
        parsed = parse_address(address)
        if parsed is None:
            raise FetchError(f"refused: {address!r} is not an IP address")
        # Drop an IPv6 zone ("fe80::1%eth0") so network membership tests work.
        if isinstance(parsed, IPv6Address) and parsed.scope_id:
            parsed = IPv6Address(str(parsed).split("%", 1)[0])
        inner = _unwrap(parsed)
        if self._is_allowed(parsed) or self._is_allowed(inner):
            return
        # An address carrying IPv4 is judged by that IPv4 part alone: ::ffff:0:0/96 itself
        # counts as "reserved" but ::ffff:1.1.1.1 is as public as 1.1.1.1.
        reason = _reason(inner)
        if reason is not None:
            raise AddressRefused(
                f"refused: {inner} is not a public address ({reason}); {ALLOW_HINT}")

    def check_literal_host(self, host: str) -> None:
        """Refuse a URL host that is itself a non-public address; names are checked on resolve."""
        parsed = parse_address(host)
        if parsed is not None:
            self.check(str(parsed))


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that only returns addresses the guard accepts.

    Refused addresses are dropped; if none is left the lookup fails with the first refusal,
    so a name resolving to both a public and a private address can only reach the public one.
    """

    def __init__(self, guard: AddressGuard, inner: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._inner = inner if inner is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` and keep only the addresses the guard accepts."""
        results = await self._inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        first_refusal: FetchError | None = None
        for result in results:
            try:
                self._guard.check(result["host"])
            except FetchError as exc:
                first_refusal = first_refusal or exc
                continue
            kept.append(result)
        if not kept:
            if first_refusal is not None:
                log.info("refused %s: %s", host, first_refusal)
                raise type(first_refusal)(f"{first_refusal} (resolved from {host})")
            raise FetchError(f"DNS lookup for {host} returned no address")
        return kept

    async def close(self) -> None:
        """Release the wrapped resolver."""
        await self._inner.close()
