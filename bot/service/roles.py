"""What one ``wirewatch run`` process does: poll feeds, send alerts, hold the Discord gateway.

``all`` (the default) is every role. Identical replicas all run ``all`` and share the work
through the database; operators who want dedicated processes name roles explicitly.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.errors import ConfigError


class Role(StrEnum):
    """One part of the bot's work."""

    POLL = "poll"
    SEND = "send"
    GATEWAY = "gateway"


ALL_ROLES: frozenset[Role] = frozenset(Role)
ROLE_CHOICES = ("all", *(role.value for role in Role))


def parse_roles(spec: str) -> frozenset[Role]:
    """``all`` or a comma-separated list such as ``poll,send``; ConfigError names a bad one."""
    roles: set[Role] = set()
    for part in (p.strip().lower() for p in spec.split(",")):
        if part == "all":
            roles |= ALL_ROLES
        elif part in Role.__members__.values():
            roles.add(Role(part))
        else:
            raise ConfigError(f"--role: expected one of {', '.join(ROLE_CHOICES)}, got {part!r}")
    if not roles:
        raise ConfigError(f"--role: expected one of {', '.join(ROLE_CHOICES)}")
    return frozenset(roles)


def describe(roles: frozenset[Role]) -> str:
    """``all`` or the sorted role names, for logs, /healthz and /status."""
    return "all" if roles == ALL_ROLES else ",".join(sorted(roles))
