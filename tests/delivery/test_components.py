"""The controls under an alert (issue 22): pure rendering, golden files, and what the fake
Discord accepts from the REST sender (channel messages with controls, webhooks with a link).

Golden files live in ``tests/delivery/golden/``; after an intended change, regenerate them
with ``WIREWATCH_GOLDEN=update`` and review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.core.model import Alert, Snippet
from bot.delivery.components import (
    PAUSE_CHOICES,
    alert_components,
    custom_id,
    parse_custom_id,
    pause_choice,
)
from bot.delivery.discord_rest import message_body
from bot.delivery.embed import alert_to_message
from bot.store.rows import NewWatch
from tests.delivery.rig import NOW, Rig, channel_watch, drain_until, queue
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, GUILD_ID, WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_validate import check_message

GOLDEN = Path(__file__).parent / "golden"
ALERT = Alert(watch_name="china-trade", feed_name="Reuters", title="China curbs exports",
              link="https://news.example/1", snippet=Snippet("Tariffs bite.", ((0, 7),)),
              matched_terms=("tariffs",))


def golden(name: str, value: Any) -> None:
    """Compare with ``golden/<name>.json`` (or write it under WIREWATCH_GOLDEN=update)."""
    path = GOLDEN / f"{name}.json"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("WIREWATCH_GOLDEN") == "update":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with WIREWATCH_GOLDEN=update"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "alert", "interactive"), [
    ("channel_alert", ALERT, True),
    ("webhook_alert", ALERT, False),
    ("channel_alert_without_link", replace(ALERT, link="javascript:alert(1)"), True),
])
def test_golden_components(name: str, alert: Alert, interactive: bool) -> None:
    rows = alert_components(alert, watch_id=7, delivery_id=1234, interactive=interactive)
    golden(name, rows)
    body = {**alert_to_message(alert), "components": rows}
    assert check_message(body) is None


def test_golden_followed_alert_body() -> None:
    alert = replace(ALERT, role_id=11, follow_role_id=22)
    golden("followed_alert", message_body(
        alert, nonce="n1", marker="abcdefabcdef",
        components=alert_components(alert, watch_id=7, delivery_id=9, interactive=True)))


@pytest.mark.parametrize(("link", "read"), [
    ("https://news.example/a", True),
    ("http://news.example/a", True),
    ("ftp://news.example/a", False),
    ("javascript:alert(1)", False),
    ("https://news.example/" + "a" * 500, False),  # over a link button's 512 characters
    ("", False),
])
def test_read_link_only_for_usable_web_links(link: str, read: bool) -> None:
    alert = Alert(watch_name="w", feed_name="f", title="t", link=link, snippet=Snippet("t"),
                  matched_terms=())
    rows = alert_components(alert, watch_id=None, delivery_id=None, interactive=False)
    assert bool(rows) is read


@pytest.mark.parametrize(("text", "parsed"), [
    ("ww1:mute:12", ("mute", 12)),
    ("ww1:follow:1", ("follow", 1)),
    ("ww1:pause:99999999999999999999", ("pause", 99999999999999999999)),
    ("ww1:mute:", None),
    ("ww1:mute:-1", None),
    ("ww1:delete:1", None),
    ("ww2:mute:1", None),
    ("ww1:mute:1x", None),
])
def test_custom_ids_round_trip_and_refuse_others(text: str,
                                                  parsed: tuple[str, int] | None) -> None:
    assert parse_custom_id(text) == parsed
    if parsed is not None:
        assert custom_id(*parsed) == text and len(text) <= 100


def test_pause_choices() -> None:
    assert [(c.value, c.seconds) for c in PAUSE_CHOICES] == [
        ("1h", 3600.0), ("8h", 28800.0), ("24h", 86400.0), ("until-resumed", None)]
    assert pause_choice("8h") is PAUSE_CHOICES[1] and pause_choice("2h") is None
    with pytest.raises(ValueError):
        custom_id("mute", -1)


async def test_the_sender_puts_controls_on_channel_alerts_and_a_link_on_webhook_ones(
        rig: Rig) -> None:
    channel = await channel_watch(rig.store)
    hook = await rig.store.add_watch(NewWatch(guild_id=GUILD_ID, name="hook", query="tariffs",
                                              webhook_url=FakeWebhook().url), NOW)
    await queue(rig.store, channel, 1)
    await queue(rig.store, hook, 1, url="https://m.example/rss")
    await drain_until(rig.outbox, lambda: len(rig.fake.messages(ALERTS_CHANNEL_ID)) == 2)
    [hooked] = rig.fake.webhook_messages(WEBHOOK_ID)
    [posted] = [m for m in rig.fake.messages(ALERTS_CHANNEL_ID) if m is not hooked]
    assert [c["label"] for c in posted["components"][0]["components"]] == [
        "Read", "Follow", "Mute story"]
    assert posted["components"][1]["components"][0]["custom_id"] == f"ww1:pause:{channel.id}"
    assert hooked["components"] == [{"type": 1, "components": [
        {"type": 2, "style": 5, "label": "Read", "url": "https://n.example/0"}]}]
    [request] = rig.fake.requests_to("POST", f"/webhooks/{WEBHOOK_ID}/")
    assert request.query == {"wait": "true", "with_components": "true"}
