"""Each slash command once, only when fresh, only while the gateway is provably held (issue 20).

The real client against the fake Discord. A pause is a real one: the test blocks the event
loop (as SIGSTOP would stop the process) after the fake wrote INTERACTION_CREATE to the socket,
so the client reads it late, exactly as a holder does that wakes with a buffered event.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.core.metrics import INTERACTIONS_REFUSED
from bot.service.membership import GatewayElection
from tests.exts.harness import Bot
from tests.fakes.discord_payloads import GUILD_ID, JSON
from tests.fakes.discord_state import InteractionRecord

pytestmark = pytest.mark.timeout(30)
LEASE = "gateway:0/1"


def refused(reason: str) -> float:
    return float(INTERACTIONS_REFUSED.labels(reason=reason)._value.get())


async def refusal(reason: str, before: float, timeout: float = 10.0) -> None:
    """Wait until the client has dropped one more interaction for ``reason``, then a little
    longer: a command it ran after all would have answered by then."""
    deadline = time.monotonic() + timeout
    while refused(reason) <= before:
        assert time.monotonic() < deadline, f"no interaction was refused as {reason!r}"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)


def remove_options(name: str) -> list[JSON]:
    return [{"name": "name", "type": 3, "value": name}]


async def test_a_command_buffered_during_a_pause_is_not_run(bot: Bot) -> None:
    await bot.watch_add("trade", "tariffs")
    before = refused("late")
    record = await bot.command("watch", remove_options("trade"), subcommand="remove")
    time.sleep(3.5)  # the pause itself: nothing on this loop may run meanwhile
    await refusal("late", before)
    assert [w.name for w in await bot.app.store.watches(GUILD_ID)] == ["trade"]
    assert record.callbacks == [] and record.rejected == []


async def test_a_command_delivered_twice_is_run_once(bot: Bot) -> None:
    """Discord sends an interaction to every session of the shard; a paused holder may
    replay it. The second delivery must not run the command (nor try to answer)."""
    before = refused("claimed")
    record = await bot.command("watch", [*remove_options("gone"),
                                         {"name": "query", "type": 3, "value": "tariffs"}],
                               subcommand="add")
    await bot.fake.wait_for_callback(record)
    await bot.fake.gateway.dispatch("INTERACTION_CREATE", record.payload)
    await refusal("claimed", before)
    assert len(record.callbacks) == 1 and record.rejected == []
    assert [w.name for w in await bot.app.store.watches(GUILD_ID)] == ["gone"]


@pytest.mark.parametrize(("renewed_s_ago", "db_owner", "refusal_reason"), [
    (0.0, "me", None),  # held, and renewed just now: runs
    (11.0, "me", "lease"),  # not renewed within the give-up time: maybe lost already
    (0.0, "other", "claimed"),  # the database says another process holds it now
    (0.0, "me-again", "claimed"),  # lapsed and taken again: a new holding, a new token
])
async def test_a_command_runs_only_while_the_gateway_is_provably_held(
        bot: Bot, renewed_s_ago: float, db_owner: str, refusal_reason: str | None) -> None:
    app = bot.app
    assert app.membership is not None
    me = app.membership.me.id
    election = GatewayElection(app.store, me, LEASE, _nothing, _nothing)  # type: ignore[arg-type]
    await election.step()  # takes the lease (its start hook does nothing here)
    assert election.held is not None
    election.held.renewed -= renewed_s_ago
    if db_owner == "other":  # it expired meanwhile and another process took it
        await app.store.register_process("other", "host", 2, "all", "h")
        await app.store.release_lease(LEASE, me)
        assert await app.store.acquire_lease(LEASE, "other", 15.0)
    elif db_owner == "me-again":  # this process took it again (this election's token is old)
        await app.store.release_lease(LEASE, me)
        assert await app.store.acquire_lease(LEASE, me, 15.0) != election.held.token
    app.elections = [election]
    before = refused(refusal_reason or "lease")
    record: InteractionRecord = await bot.command("watch", subcommand="list")
    if refusal_reason is None:
        await bot.fake.wait_for_callback(record)
    else:
        await refusal(refusal_reason, before)
        assert record.callbacks == []


async def _nothing() -> None:
    return None
