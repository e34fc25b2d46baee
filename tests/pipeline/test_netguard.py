"""The SSRF guard: which addresses a fetch may reach, and the resolver that enforces it."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.core.errors import FetchError
from bot.pipeline.netguard import (
    AddressGuard,
    GuardedResolver,
    parse_address,
    parse_networks,
)

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 is unwrapped
    ("2002:7f00:1::", "loopback"),  # 6to4 carrying 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 carrying 10.0.0.1
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("100.64.0.1", "shared address space"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.10", "private"),  # documentation range
    ("fec0::1", "site-local"),  # deprecated site-local, still routed in some networks
    ("feff:ffff::1", "site-local"),
]
ALLOWED = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_default_guard_refuses_non_public_addresses(address: str, reason: str) -> None:
    with pytest.raises(FetchError, match=rf"^refused: .* \({reason}\); allow it with "
                                         "WIREWATCH_ALLOW_PRIVATE_NETWORKS$"):
        AddressGuard().check(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_default_guard_accepts_public_addresses(address: str) -> None:
    AddressGuard().check(address)


def test_message_names_the_address_and_the_opt_in() -> None:
    with pytest.raises(FetchError) as info:
        AddressGuard().check("127.0.0.1")
    assert str(info.value) == ("refused: 127.0.0.1 is not a public address (loopback); "
                               "allow it with WIREWATCH_ALLOW_PRIVATE_NETWORKS")


@pytest.mark.parametrize(
    ("allowed", "address", "ok"),
    [
        ("127.0.0.0/8", "127.0.0.1", True),
        ("127.0.0.0/8", "::ffff:127.0.0.1", True),
        ("127.0.0.1/32", "127.0.0.2", False),
        ("10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "192.168.0.1", False),
        ("::1/128", "::1", True),
        ("::1/128", "127.0.0.1", False),
        ("10.0.0.0/8, 192.168.0.0/16", "192.168.7.7", True),
    ],
)
def test_allowed_networks_opt_back_in(allowed: str, address: str, ok: bool) -> None:
    guard = AddressGuard(parse_networks(allowed))
    if ok:
        guard.check(address)
    else:
        with pytest.raises(FetchError, match="refused"):
            guard.check(address)


@pytest.mark.parametrize(
    ("spec", "count"),
    [("", 0), (" ", 0), ("10.0.0.0/8", 1), ("10.0.0.0/8,127.0.0.1/32", 2),
     (" 10.0.0.0/8 , ::1 ,", 2), ("127.0.0.1", 1)],
)
def test_parse_networks(spec: str, count: int) -> None:
    assert len(parse_networks(spec)) == count


@pytest.mark.parametrize("bad", ["banana", "10.0.0.0/33", "10.0.0.1/8", "300.1.1.1"])
def test_parse_networks_names_the_bad_item(bad: str) -> None:
    with pytest.raises(ValueError, match=f"invalid network '{bad}'"):
        parse_networks(f"127.0.0.1/32,{bad}")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("localhost", None),
        ("example.com", None),
        ("", None),
    ],
)
def test_parse_address_understands_legacy_forms(host: str, expected: str | None) -> None:
    parsed = parse_address(host)
    assert (str(parsed) if parsed else None) == expected


class StaticResolver(AbstractResolver):
    """Answers every lookup with fixed addresses (a stand-in for DNS, not for our code)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
                for a in self.addresses]

    async def close(self) -> None:
        return None


async def test_resolver_refuses_a_name_that_resolves_to_loopback() -> None:
    resolver = GuardedResolver(AddressGuard())  # real system resolver: /etc/hosts
    with pytest.raises(FetchError, match=r"refused: .* \(loopback\).*resolved from localhost"):
        await resolver.resolve("localhost", 80)


async def test_resolver_keeps_only_public_addresses() -> None:
    resolver = GuardedResolver(AddressGuard(), StaticResolver("10.0.0.1", "93.184.216.34"))
    results = await resolver.resolve("mixed.example", 80)
    assert [r["host"] for r in results] == ["93.184.216.34"]


async def test_resolver_with_allowed_network_passes_it_through() -> None:
    guard = AddressGuard(parse_networks("127.0.0.0/8"))
    results = await GuardedResolver(guard, StaticResolver("127.0.0.1")).resolve("feeds.lan", 80)
    assert [r["host"] for r in results] == ["127.0.0.1"]


async def test_resolver_with_no_answer_fails_clearly() -> None:
    with pytest.raises(FetchError, match="returned no address"):
        await GuardedResolver(AddressGuard(), StaticResolver()).resolve("void.example", 80)
