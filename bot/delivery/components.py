"""The controls under an alert (issue 22), as plain JSON for a REST send. Pure.

Alerts the bot posts itself carry a Read link, Follow and Mute story buttons and a Pause
select; webhook alerts carry only the Read link (Discord lets a webhook the application does
not own send non-interactive components only). Every interactive component's state travels
in its ``custom_id`` (``ww1:<action>:<id>``), so any process recognises a click on a message
posted before a restart: the Discord side (``bot.exts.actions``) parses the same format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.model import Alert
from bot.delivery.embed import web_url

ACTION_ROW, BUTTON, STRING_SELECT = 1, 2, 3
SECONDARY, LINK = 2, 5
CUSTOM_ID_MAX = 100
LINK_URL_MAX = 512  # a link button's url; longer links get no Read button
MUTE, FOLLOW, PAUSE = "mute", "follow", "pause"
CUSTOM_ID = re.compile(r"ww1:(?P<action>mute|follow|pause):(?P<id>[0-9]{1,20})")
UNTIL_RESUMED = "until-resumed"


@dataclass(frozen=True, slots=True)
class PauseChoice:
    """One entry of the Pause select: its value, label and length (None: until resumed)."""

    value: str
    label: str
    seconds: float | None


PAUSE_CHOICES = (
    PauseChoice("1h", "for 1 hour", 3600.0),
    PauseChoice("8h", "for 8 hours", 8 * 3600.0),
    PauseChoice("24h", "for 24 hours", 24 * 3600.0),
    PauseChoice(UNTIL_RESUMED, "until resumed", None),
)


def custom_id(action: str, ident: int) -> str:
    """``ww1:<action>:<id>``; ValueError for an unknown action or a negative id."""
    made = f"ww1:{action}:{ident}"
    if CUSTOM_ID.fullmatch(made) is None:
        raise ValueError(f"not a Wirewatch control: {made!r}")
    return made


def parse_custom_id(text: str) -> tuple[str, int] | None:
    """(action, id) of a Wirewatch control's ``custom_id``; None for anything else."""
    found = CUSTOM_ID.fullmatch(text)
    return (found["action"], int(found["id"])) if found else None


def pause_choice(value: str) -> PauseChoice | None:
    """The Pause select's entry for ``value``, if it is one."""
    return next((choice for choice in PAUSE_CHOICES if choice.value == value), None)


def read_button(alert: Alert) -> dict[str, object] | None:
    """A link button to the article; None when the link is not a usable http(s) URL."""
    link = web_url(alert.link)
    if link is None or len(link) > LINK_URL_MAX:
        return None
    return {"type": BUTTON, "style": LINK, "label": "Read", "url": link}


def alert_components(alert: Alert, *, watch_id: int | None, delivery_id: int | None,
                     interactive: bool) -> list[dict[str, object]]:
    """The action rows of an alert message.

    ``interactive`` (the bot's own channel messages): Read, Follow, Mute story, then a
    Pause select in a row of its own. Otherwise (webhooks) only the Read link. A control
    whose id is unknown is left out.
    """
    first: list[dict[str, object]] = []
    read = read_button(alert)
    if read is not None:
        first.append(read)
    rows: list[dict[str, object]] = []
    if interactive and watch_id is not None:
        first.append(_button("Follow", "🔔", custom_id(FOLLOW, watch_id)))
        if delivery_id is not None:
            first.append(_button("Mute story", "🔇", custom_id(MUTE, delivery_id)))
    if first:
        rows.append({"type": ACTION_ROW, "components": first})
    if interactive and watch_id is not None:
        rows.append({"type": ACTION_ROW, "components": [_pause_select(watch_id)]})
    return rows


def _button(label: str, emoji: str, ident: str) -> dict[str, object]:
    return {"type": BUTTON, "style": SECONDARY, "label": label, "emoji": {"name": emoji},
            "custom_id": ident}


def _pause_select(watch_id: int) -> dict[str, object]:
    return {"type": STRING_SELECT, "custom_id": custom_id(PAUSE, watch_id),
            "placeholder": "⏸️ Pause this watch…", "min_values": 1, "max_values": 1,
            "options": [{"label": f"Pause {choice.label}", "value": choice.value}
                        for choice in PAUSE_CHOICES]}
