"""Digest drafts: one outbox delivery per message part, deterministic nonces, senders' bodies."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config.cadence import make_cadence
from bot.core.model import Alert, Snippet
from bot.delivery.console import format_alert
from bot.delivery.digests import digest_drafts, digest_nonce, period_label
from bot.delivery.discord_rest import message_body
from bot.store.rows import WatchRow

END = datetime(2026, 11, 29, 16, tzinfo=UTC).timestamp()
WATCH = WatchRow(id=7, guild_id=1, name="china-trade", query="tariffs", channel_id=5,
                 cadence=make_cadence(deliver="hourly", timezone="Europe/Berlin"))


def alert(index: int, story: str | None = None) -> Alert:
    return Alert(watch_name="china-trade", feed_name="Wire", title=f"Tariffs story {index}",
                 link=f"https://n.example/{index}", snippet=Snippet("…"),
                 matched_terms=("tariffs",), extra={"story": story} if story else {})


def test_label_uses_the_watch_time_zone() -> None:
    assert period_label(WATCH, END) == "until 17:00 Europe/Berlin, 29 Nov 2026"


def test_one_draft_per_part_with_stable_nonces() -> None:
    few = digest_drafts(WATCH, END, [alert(1), alert(2, "s"), alert(3, "s")])
    assert len(few) == 1 and few[0].item_key == f"digest:{END:.0f}:1"
    assert few[0].nonce == digest_nonce(7, END, 1) and len(few[0].nonce) == 25
    body = message_body(few[0].alert, nonce=few[0].nonce)
    [embed] = body["embeds"]  # type: ignore[misc]
    assert embed["title"] == "china-trade: 3 matches, until 17:00 Europe/Berlin, 29 Nov 2026"
    assert embed["description"].splitlines()[2].startswith("  ↳ [Tariffs story 3]")
    assert (body["nonce"], body["enforce_nonce"]) == (few[0].nonce, True)
    assert "Tariffs story 2" in format_alert(few[0].alert)

    many = digest_drafts(WATCH, END, [alert(i) for i in range(300)])
    assert len(many) > 1
    assert len({d.nonce for d in many}) == len(many)
    assert [d.nonce for d in many] == [d.nonce for d in digest_drafts(
        WATCH, END, [alert(i) for i in range(300)])]
    links = sum(str(message_body(d.alert)).count("https://n.example/") for d in many)
    assert links == 300


def test_an_ordinary_alert_renders_as_before() -> None:
    body = message_body(alert(1), nonce="n1")
    assert body["embeds"][0]["url"] == "https://n.example/1"  # type: ignore[index]
