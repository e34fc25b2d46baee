"""Process settings from the environment, validated once at start-up and passed down.

This is the only module that reads the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import ConfigError

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the environment decides. ``repr`` never shows the token."""

    config_path: Path
    database_url: str
    discord_token: str | None
    discord_api_base: str
    discord_gateway_url: str
    allow_private_networks: tuple[Network, ...]
    http_addr: tuple[str, int] | None
    log_format: str
    log_level: str
    # Multiplies every cluster timing (heartbeats, leases, give-up and renewal deadlines,
    # database timeouts): below 1 a dead or paused process is noticed sooner, at the cost
    # of more database writes. Tests run whole clusters in seconds with it.
    cluster_time_scale: float = 1.0

    def __repr__(self) -> str:
        token = "set" if self.discord_token else "unset"
        return (f"Settings(config={self.config_path}, database={redact_url(self.database_url)}, "
                f"token={token}, api={self.discord_api_base})")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file of a ``sqlite:///path`` URL, else None."""
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate WIREWATCH_* and DISCORD_TOKEN; raise ConfigError naming the variable."""
    env = os.environ if environ is None else environ
    database_url = env.get("WIREWATCH_DATABASE_URL", "sqlite:///state/wirewatch.db").strip()
    if not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(
            "WIREWATCH_DATABASE_URL: expected sqlite:///path or postgresql://…, got "
            f"{redact_url(database_url)!r}"
        )
    log_format = env.get("WIREWATCH_LOG_FORMAT", "text").strip().lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"WIREWATCH_LOG_FORMAT: expected text or json, got {log_format!r}")
    return Settings(
        config_path=Path(env.get("WIREWATCH_CONFIG", "config/wirewatch.toml")),
        database_url=database_url,
        discord_token=(env.get("DISCORD_TOKEN") or "").strip() or None,
        discord_api_base=_url(env, "WIREWATCH_DISCORD_API_BASE", DEFAULT_API_BASE).rstrip("/"),
        discord_gateway_url=_url(env, "WIREWATCH_DISCORD_GATEWAY_URL", DEFAULT_GATEWAY_URL),
        allow_private_networks=_networks(env.get("WIREWATCH_ALLOW_PRIVATE_NETWORKS", "")),
        http_addr=_host_port(env.get("WIREWATCH_HTTP_ADDR", "")),
        log_format=log_format,
        log_level=_log_level(env.get("WIREWATCH_LOG_LEVEL", "")),
        cluster_time_scale=_scale(env.get("WIREWATCH_CLUSTER_TIME_SCALE", "")),
    )


def _scale(value: str) -> float:
    try:
        scale = float(value.strip() or "1")
    except ValueError:
        scale = 0.0
    if not 0.05 <= scale <= 10:
        raise ConfigError("WIREWATCH_CLUSTER_TIME_SCALE: expected a number from 0.05 to 10, "
                          f"got {value.strip()!r}")
    return scale


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(value: str) -> str:
    # A typo used to become INFO silently; like every other bad setting it now stops the start.
    level = value.strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise ConfigError(f"WIREWATCH_LOG_LEVEL: expected one of {', '.join(LOG_LEVELS)}, "
                          f"got {value.strip()!r}")
    return level


def redact_url(url: str) -> str:
    """Hide a password in ``scheme://user:password@host``."""
    head, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        credentials, _, host = rest.partition("@")
        user = credentials.split(":", 1)[0]
        return f"{head}://{user}:***@{host}"
    return url


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not value.startswith(("http://", "https://", "ws://", "wss://")):
        raise ConfigError(f"{name}: expected an http(s):// or ws(s):// URL, got {value!r}")
    return value


def _networks(spec: str) -> tuple[Network, ...]:
    # Strict, like the fetch guard's parse_networks: host bits set (192.168.1.10/8) are refused,
    # not silently widened to 192.0.0.0/8 (which opens far more than the operator meant).
    networks = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise ConfigError(
                f"WIREWATCH_ALLOW_PRIVATE_NETWORKS: {item!r} is not a network such as "
                f"10.0.0.0/8 or 10.0.0.5 ({exc})"
            ) from None
    return tuple(networks)


def _host_port(spec: str) -> tuple[str, int] | None:
    spec = spec.strip()
    if not spec:
        return None
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"WIREWATCH_HTTP_ADDR: expected host:port such as 0.0.0.0:8080, got {spec!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - documented default bind for containers
