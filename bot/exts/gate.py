"""Which interactions this process may act on (issue 20): each command once, only when fresh
and only while this process provably holds the gateway.

A gateway holder stopped by its host (SIGSTOP, a VM migration, a long pause) keeps its socket;
on resume discord.py dispatches the INTERACTION_CREATE events buffered meanwhile before the
election notices the lease is gone, while another process already holds it and answers the
same commands. So, before any command runs:

* one older than Discord's 3 s answer window is dropped: nobody can answer it any more, and
  running it would change state behind a reply that never arrives;
* with a gateway lease, one that arrives while the election cannot prove the lease
  (``GatewayElection.proven``: not renewed within the give-up time) is dropped;
* a command (not an autocomplete, which changes nothing) runs only if this process claims its
  interaction id in the database, under the lease's row lock and with the lease's fencing
  token (the holding the election proved, not a later one): with several sessions, or a
  replay, it is handled once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import discord

from bot.core import metrics
from bot.core.errors import StoreError
from bot.service.membership import GatewayElection
from bot.service.runtime import App

log = logging.getLogger(__name__)

ANSWER_WINDOW_S = 3.0  # Discord: an interaction must be answered within 3 s of its creation


def interaction_age(interaction: discord.Interaction, now: datetime | None = None) -> float:
    """Seconds since Discord created ``interaction`` (its snowflake's time; needs NTP)."""
    return ((now or datetime.now(UTC)) - interaction.created_at).total_seconds()


async def admit(app: App, interaction: discord.Interaction, lease: str) -> bool:
    """Whether this process may act on ``interaction`` (received on the shard of ``lease``)."""
    age = interaction_age(interaction)
    election = _election(app, lease)
    if age > ANSWER_WINDOW_S:
        return _refuse("late", interaction, f"created {age:.1f}s ago, past the 3 s window")
    held = None if election is None else election.held
    if election is not None and (held is None or not election.proven):
        return _refuse("lease", interaction, f"{lease} is not provably held")
    if interaction.type is not discord.InteractionType.application_command:
        return True  # autocomplete and the like read only; they need no claim
    owner = app.membership.me.id if app.membership is not None else "local"
    try:
        claimed = await app.store.claim_interaction(
            interaction.id, owner, lease if held is not None else None,
            interaction.created_at.timestamp(), held.token if held is not None else None)
    except StoreError as exc:
        return _refuse("store", interaction, f"cannot claim it: {exc}")
    return claimed or _refuse("claimed", interaction, "handled elsewhere, or lease lost")


def _election(app: App, lease: str) -> GatewayElection | None:
    """The election behind this shard's session; None when the gateway runs without one."""
    return next((e for e in app.elections if e.name == lease), None)


def _refuse(reason: str, interaction: discord.Interaction, detail: str) -> bool:
    metrics.count_interaction_refused(reason)
    name = interaction.command.qualified_name if interaction.command else "?"
    log.warning("interaction %s (/%s) not handled: %s", interaction.id, name, detail,
                extra={"guild": interaction.guild_id})
    return False
