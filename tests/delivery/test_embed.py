"""alert_to_message: limits, escaping, links, mentions, nonce; and the fake Discord accepts it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.model import Alert, Snippet
from bot.delivery.embed import (
    alert_to_message,
    delivery_marker,
    footer_marker,
    render_snippet,
    stable_color,
)
from bot.delivery.markdown import ZERO_WIDTH_SPACE
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, BOT_TOKEN, ROLE_ID
from tests.fakes.discord_server import FakeDiscord

SPECIALS = "\\*_~`|>#-[]()<"
LIMITS = {"title": 256, "description": 4096}
PUBLISHED = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)


def make_alert(**changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "watch_name": "china-trade",
        "feed_name": "Reuters Top News",
        "title": "China limits rare earths exports",
        "link": "https://example.com/news/1",
        "snippet": Snippet("Beijing said rare earths and tariffs would follow.",
                           ((13, 24), (29, 36))),
        "matched_terms": ("rare earths", "tariffs"),
        "published": PUBLISHED,
    }
    fields.update(changes)
    return Alert(**fields)


def embed_of(message: dict[str, object]) -> dict[str, Any]:
    embeds = message["embeds"]
    assert isinstance(embeds, list) and len(embeds) == 1
    embed: dict[str, Any] = embeds[0]
    return embed


def decode(markdown: str) -> tuple[str, set[int], bool]:
    """Read markdown like Discord: (visible text, indexes shown bold, balanced ``**``)."""
    text: list[str] = []
    bold_at: set[int] = set()
    bold, i = False, 0
    while i < len(markdown):
        if markdown.startswith("**", i):
            bold, i = not bold, i + 2
            continue
        escaped = markdown[i] == "\\" and i + 1 < len(markdown)
        char = markdown[i + 1] if escaped else markdown[i]
        i += 2 if escaped else 1
        if char == ZERO_WIDTH_SPACE:  # only there to break up @everyone
            continue
        if bold:
            bold_at.add(len(text))
        text.append(char)
    return "".join(text), bold_at, not bold


def total_chars(embed: dict[str, Any]) -> int:
    return (len(embed.get("title", "")) + len(embed.get("description", ""))
            + len(embed.get("footer", {}).get("text", ""))
            + len(embed.get("author", {}).get("name", "")))


# --- shape -------------------------------------------------------------------------------
def test_a_typical_alert() -> None:
    message = alert_to_message(make_alert())
    assert message == {
        "embeds": [{
            "title": "China limits rare earths exports",
            "url": "https://example.com/news/1",
            "description": "Beijing said **rare earths** and **tariffs** would follow.",
            "author": {"name": "Reuters Top News"},
            "footer": {"text": "china-trade · rare earths, tariffs"},
            "timestamp": "2025-03-01T12:30:00+00:00",
            "color": stable_color("china-trade"),
        }],
        "allowed_mentions": {"parse": []},
    }


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"published": None, "first_seen": PUBLISHED}, "timestamp", "2025-03-01T12:30:00+00:00"),
        ({"published": datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))},
         "timestamp", "2025-03-01T12:30:00+00:00"),
        ({"published": datetime(2025, 3, 1, 12, 30)}, "timestamp", "2025-03-01T12:30:00+00:00"),
        ({"published": None}, "timestamp", None),
        ({"thumbnail": "https://img.example.com/a.jpg"}, "thumbnail",
         {"url": "https://img.example.com/a.jpg"}),
        ({"thumbnail": "data:image/png;base64,AAAA"}, "thumbnail", None),
        ({"color": 0x123456}, "color", 0x123456),
        ({"color": 0x1000000}, "color", stable_color("china-trade")),
        ({"color": -1}, "color", stable_color("china-trade")),
        ({"matched_terms": ()}, "footer", {"text": "china-trade"}),
        ({"feed_name": "  "}, "author", None),
        ({"title": "  \n "}, "title", "Untitled"),
        ({"title": "Two\nlines   here"}, "title", "Two lines here"),
        ({"snippet": Snippet("")}, "description", None),
    ],
)
def test_optional_parts(changes: dict[str, Any], key: str, expected: object) -> None:
    assert embed_of(alert_to_message(make_alert(**changes))).get(key) == expected


def test_colour_is_stable_and_24_bit() -> None:
    assert stable_color("china-trade") == stable_color("china-trade")
    colours = {stable_color(f"watch-{i}") for i in range(50)}
    assert len(colours) > 45 and all(0 <= c <= 0xFFFFFF for c in colours)


# --- links -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ("https://example.com/a?b=c#d", True),
        ("http://example.com", True),
        ("HTTPS://EXAMPLE.COM/X", True),
        ("  https://example.com/padded  ", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("ftp://example.com/file", False),
        ("//example.com/no-scheme", False),
        ("/relative/path", False),
        ("https://", False),
        ("https://exa mple.com", False),
        ("https://example.com/\x00", False),
        ("http://[::1", False),
        ("https://example.com/" + "a" * 2100, False),
        ("", False),
    ],
)
def test_only_http_links_are_linked(link: str, kept: bool) -> None:
    embed = embed_of(alert_to_message(make_alert(link=link, thumbnail=link)))
    assert ("url" in embed) is kept
    assert ("thumbnail" in embed) is kept
    if kept:
        assert embed["url"] == link.strip()


# --- escaping and mentions ---------------------------------------------------------------
def test_every_special_char_is_escaped_in_title_and_description() -> None:
    raw = "x " + " ".join(SPECIALS)
    embed = embed_of(alert_to_message(make_alert(title=raw, snippet=Snippet(raw))))
    for key in ("title", "description"):
        text, bold, balanced = decode(embed[key])
        assert (text, bold, balanced) == (raw, set(), True)
        assert all(f"\\{c}" in embed[key] for c in SPECIALS)


@pytest.mark.parametrize("headline", ["@everyone look", "@here now", "<@&123> pinged",
                                      "hi <@456>", "<@!456> and @everyone"])
def test_mentions_in_headlines_ping_nobody(headline: str) -> None:
    message = alert_to_message(make_alert(title=headline, snippet=Snippet(headline)))
    assert message["allowed_mentions"] == {"parse": []}
    assert "content" not in message
    embed = embed_of(message)
    for key in ("title", "description"):
        assert "@everyone" not in embed[key] and "@here" not in embed[key]
        assert "<@" not in embed[key].replace("\\<@", "")


def test_role_ping_only_when_the_watch_has_a_role() -> None:
    message = alert_to_message(make_alert(role_id=ROLE_ID, title=f"@everyone <@&{ROLE_ID + 1}>"))
    assert message["content"] == f"<@&{ROLE_ID}>"
    assert message["allowed_mentions"] == {"parse": [], "roles": [str(ROLE_ID)]}


# --- nonce -------------------------------------------------------------------------------
@pytest.mark.parametrize("nonce", ["a", "delivery-42", "n" * 25])
def test_nonce_is_sent_with_enforce_nonce(nonce: str) -> None:
    message = alert_to_message(make_alert(), nonce=nonce)
    assert (message["nonce"], message["enforce_nonce"]) == (nonce, True)


@pytest.mark.parametrize("nonce", ["", "n" * 26])
def test_bad_nonce_is_refused(nonce: str) -> None:
    with pytest.raises(ValueError, match="nonce"):
        alert_to_message(make_alert(), nonce=nonce)


def test_no_nonce_no_enforce() -> None:
    message = alert_to_message(make_alert())
    assert "nonce" not in message and "enforce_nonce" not in message


def test_the_delivery_marker_ends_the_footer_and_is_read_back() -> None:
    marker = delivery_marker("w" + "0" * 24)
    embed = embed_of(alert_to_message(make_alert(watch_name="Xi", matched_terms=("Xi",)),
                                      marker=marker))
    assert embed["footer"]["text"] == f"Xi · Xi · ref {marker}"
    assert footer_marker(embed) == marker
    assert delivery_marker("w" + "0" * 24) == marker != delivery_marker("w" + "0" * 23 + "1")


@pytest.mark.parametrize("footer", [None, {}, {"text": "china · Xi"}, {"text": "ref abc"},
                                    {"text": "china · ref 0123456789abcdef"}, {"text": 7}])
def test_footers_without_a_marker_have_none(footer: object) -> None:
    assert footer_marker({} if footer is None else {"footer": footer}) is None


def test_the_marker_survives_a_footer_cut_to_the_limit() -> None:
    marker = delivery_marker("n1")
    embed = embed_of(alert_to_message(make_alert(watch_name=("trade " * 1000).strip()),
                                      marker=marker))
    assert len(embed["footer"]["text"]) <= 2048 and footer_marker(embed) == marker
    bare = embed_of(alert_to_message(make_alert(watch_name=" ", matched_terms=()),
                                     marker=marker))
    assert bare["footer"]["text"] == f"ref {marker}" and footer_marker(bare) == marker


# --- limits ------------------------------------------------------------------------------
WORDS = ("tariff " * 2000).strip()
BIG = "Beijing " * 1250  # 10,000 chars


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"title": WORDS}, id="giant-title"),
        pytest.param({"title": "*" * 1000}, id="title-all-specials"),
        pytest.param({"title": "[a](" * 8000, "snippet": Snippet("[a](" * 8000)}, id="link-flood"),
        pytest.param({"feed_name": WORDS, "watch_name": WORDS,
                      "matched_terms": tuple(WORDS.split()[:500])}, id="giant-footer-author"),
        pytest.param({"snippet": Snippet(BIG, ((4090, 4110), (9000, 9010)))},
                     id="bold-across-the-cut"),
        pytest.param({"snippet": Snippet("_" * 10_000, ((0, 10_000),))}, id="bold-specials"),
        pytest.param({"title": WORDS, "feed_name": WORDS, "watch_name": WORDS,
                      "snippet": Snippet(BIG, ((0, 3),))}, id="everything-at-once"),
    ],
)
def test_everything_fits_discords_limits(changes: dict[str, Any]) -> None:
    alert = make_alert(**changes)
    started = time.perf_counter()
    embed = embed_of(alert_to_message(alert))
    assert time.perf_counter() - started < 1.0  # sanity bound, not a benchmark
    for key, limit in LIMITS.items():
        assert len(embed[key]) <= limit
    assert len(embed["footer"]["text"]) <= 2048 and len(embed["author"]["name"]) <= 256
    assert total_chars(embed) <= 6000
    for key, raw in (("title", " ".join(alert.title.split())), ("description", alert.snippet.text)):
        text, _, balanced = decode(embed[key])
        assert balanced
        assert text == raw or (text.endswith("…") and raw.startswith(text[:-1]))


def test_bold_range_across_the_cut_is_closed_before_the_ellipsis() -> None:
    snippet = Snippet(BIG, ((4000, 4110), (9000, 9010)))
    description = render_snippet(snippet, 4096)
    text, bold, balanced = decode(description)
    assert balanced and description.endswith("**…")
    assert bold == set(range(4000, len(text) - 1))


alphabet = st.sampled_from(["a", "bc", " ", "\n", "*", "_", "\\", "[", "](", "@everyone",
                            "1. ", "#", "`", "~~", "|", ">", "-", "é"])


@given(st.lists(alphabet, max_size=200).map("".join),
       st.lists(st.tuples(st.integers(-5, 400), st.integers(-5, 400)), max_size=6),
       st.integers(0, 300))
def test_rendered_snippet_shows_a_prefix_with_the_right_bold(text: str,
                                                            ranges: list[tuple[int, int]],
                                                            limit: int) -> None:
    description = render_snippet(Snippet(text, tuple(ranges)), limit)
    assert len(description) <= limit
    shown, bold, balanced = decode(description)
    assert balanced
    kept = shown.removesuffix("…") if shown != text else shown
    assert text.startswith(kept)
    expected_bold = {i for s, e in ranges for i in range(max(s, 0), min(e, len(kept)))}
    assert bold == expected_bold


# --- the fake Discord agrees -------------------------------------------------------------
@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.mark.parametrize(
    ("changes", "roles"),
    [
        ({}, []),
        ({"role_id": ROLE_ID, "title": "@everyone <@456> [x](javascript:alert(1))"},
         [str(ROLE_ID)]),
        ({"title": WORDS, "feed_name": WORDS, "watch_name": WORDS, "thumbnail": "https://i.x/y",
          "snippet": Snippet(BIG, ((4088, 4110),))}, []),
        ({"title": "[a](" * 8000, "snippet": Snippet("*" * 10_000, ((5, 50),)),
          "link": "javascript:alert(1)"}, []),
    ],
)
async def test_the_fake_discord_accepts_the_message(fake: FakeDiscord, changes: dict[str, Any],
                                                    roles: list[str]) -> None:
    body = alert_to_message(make_alert(**changes), nonce="delivery-1")
    url = f"{fake.api_base}/channels/{ALERTS_CHANNEL_ID}/messages"
    async with aiohttp.ClientSession() as session, session.post(
            url, json=body, headers={"Authorization": f"Bot {BOT_TOKEN}"}) as resp:
        created = await resp.json()
        assert resp.status == 200, created
    assert created["mention_everyone"] is False and created["mentions"] == []
    assert created["mention_roles"] == roles
    assert created["embeds"] == body["embeds"]
