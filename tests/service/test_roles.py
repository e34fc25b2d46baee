"""``wirewatch run --role``: which parts of the work a process takes."""

from __future__ import annotations

import pytest

from bot.cli.main import build_parser
from bot.core.errors import ConfigError
from bot.service.roles import ALL_ROLES, Role, describe, parse_roles


def test_all_is_every_role_and_the_default() -> None:
    assert parse_roles("all") == ALL_ROLES
    assert build_parser().parse_args(["run"]).role == "all"
    assert describe(ALL_ROLES) == "all"


def test_roles_combine_with_commas() -> None:
    roles = parse_roles(build_parser().parse_args(["run", "--role", "poll,Send"]).role)
    assert roles == {Role.POLL, Role.SEND}
    assert describe(roles) == "poll,send"


@pytest.mark.parametrize("spec", ["", "poller", "poll,,gateway x"])
def test_an_unknown_role_is_named(spec: str) -> None:
    with pytest.raises(ConfigError, match="--role"):
        parse_roles(spec)
