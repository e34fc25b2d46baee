"""Component interactions (type 3): a member clicks a button or picks from a select.

Like Discord, the click carries the whole message it was made on (discord.py rebuilds the
view from ``message.components`` to find the item), ``data.custom_id``,
``data.component_type`` (2 button, 3 string select, with ``data.values``) and the member with
the roles they have now. The answer window (3 s) and single acknowledgement are the
interaction callback's (``discord_interactions``); components may also answer with type 6
(deferred update: nothing shown, follow-ups allowed) or 7 (update the message).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence

from .discord_payloads import JSON, MEMBER_PERMISSIONS, USER_ID, member_json, user_json
from .discord_roles import roles_of
from .discord_state import FakeState, InteractionRecord

MESSAGE_COMPONENT = 3
BUTTON, STRING_SELECT = 2, 3


def components_of(message: JSON) -> Iterator[JSON]:
    """Every component of a message, rows flattened (Components V2 containers too)."""
    stack = list(message.get("components") or [])
    while stack:
        component = stack.pop(0)
        yield component
        stack[:0] = list(component.get("components") or [])


def find_component(message: JSON, custom_id: str) -> JSON | None:
    """The component with this ``custom_id`` on the message, if any."""
    return next((c for c in components_of(message) if c.get("custom_id") == custom_id), None)


def component_payload(state: FakeState, message: JSON, custom_id: str, *,
                      values: Sequence[str] | None = None, user_id: int = USER_ID,
                      permissions: int = MEMBER_PERMISSIONS,
                      roles: tuple[int, ...] | None = None) -> InteractionRecord:
    """A click on ``custom_id`` of ``message`` (as stored by the fake), not yet sent.

    The component must be on the message: a test cannot click what a user could not see.
    ``roles`` default to the member's roles as the fake knows them.
    """
    component = find_component(message, custom_id)
    if component is None:
        raise ValueError(f"message {message['id']} has no component {custom_id!r}")
    channel_id = int(message["channel_id"])
    guild_id = int(message["guild_id"])
    member_roles = tuple(roles_of(state, guild_id, user_id)) if roles is None else roles
    data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
    if component["type"] == STRING_SELECT:
        data["values"] = list(values or [])
    iid, token = state.ids.next(), "itok-" + secrets.token_urlsafe(48)
    payload: JSON = {
        "id": str(iid), "application_id": str(state.config.application_id),
        "type": MESSAGE_COMPONENT, "token": token, "version": 1,
        "attachment_size_limit": 10 * 1024 * 1024, "data": data, "guild_id": str(guild_id),
        "channel_id": str(channel_id), "channel": state.channel_payload(channel_id),
        "member": member_json(user_json(user_id, f"user{user_id}"), permissions=permissions,
                              roles=member_roles),
        "message": message, "app_permissions": str(MEMBER_PERMISSIONS), "locale": "en-US",
        "guild_locale": "en-US", "entitlements": [], "context": 0,
        "authorizing_integration_owners": {"0": str(guild_id)},
    }
    record = InteractionRecord(iid, token, payload, created=time.monotonic())
    state.interactions[iid] = record
    return record
