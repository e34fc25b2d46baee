"""Digest rendering: every match listed once, grouped by story, within Discord's limits."""

from __future__ import annotations

import re

import pytest

from bot.delivery.digest_embed import DigestItem, digest_lines, digest_messages

LINK = re.compile(r"\]\(<(https?://[^>]+)>\)")


def items(count: int, *, title_words: int = 6, story_every: int = 0,
          link_len: int = 30) -> list[DigestItem]:
    made = []
    for index in range(count):
        story = f"s{index % story_every}" if story_every else None
        link = f"https://news.example/{index}/" + "x" * max(0, link_len - 30)
        made.append(DigestItem(title=f"Headline {index} " + "word [*_] " * title_words,
                               feed_name=f"Source {index % 3}", link=link, story=story))
    return made


def check_limits(bodies: list[dict[str, object]]) -> None:
    for body in bodies:
        embeds = body["embeds"]
        assert isinstance(embeds, list) and 1 <= len(embeds) <= 10
        total = 0
        for embed in embeds:
            assert len(embed["description"]) <= 4096
            assert len(embed.get("title", "")) <= 256
            total += (len(embed.get("title", "")) + len(embed["description"])
                      + len(embed.get("footer", {}).get("text", "")))
        assert total <= 6000
        assert body["allowed_mentions"]["parse"] == []


def listed_links(bodies: list[dict[str, object]]) -> list[str]:
    return [link for body in bodies for embed in body["embeds"]  # type: ignore[attr-defined]
            for link in LINK.findall(embed["description"])]


# (case, items, expected number of messages; None: more than one)
CASES = [
    ("one match", items(1), 1),
    ("forty short matches fit one message", items(40), 1),
    ("many matches split into parts", items(400), None),
    ("long headlines", items(120, title_words=60), None),
    ("long links", items(60, link_len=590), None),
    ("links too long are left out, headline kept", items(5, link_len=900), 1),
    ("stories", items(90, story_every=7), None),
]


@pytest.mark.parametrize(("given", "messages"), [(c[1], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_every_match_is_listed_once_within_limits(given: list[DigestItem],
                                                  messages: int | None) -> None:
    bodies = digest_messages("china-trade", "16:00–17:00 UTC", given)
    check_limits(bodies)
    if messages is not None:
        assert len(bodies) == messages
    else:
        assert len(bodies) > 1
    expected = [item.link for item in given if len(item.link) <= 600]
    assert sorted(listed_links(bodies)) == sorted(expected)
    text = "\n".join(e["description"] for b in bodies for e in b["embeds"])  # type: ignore
    assert text.count("\n") + 1 == len(given)  # one line per match, none dropped
    if len(bodies) > 1:
        footers = [b["embeds"][-1]["footer"]["text"] for b in bodies]  # type: ignore
        assert footers[-1].endswith(f"part {len(bodies)} of {len(bodies)}")


def test_title_names_watch_count_and_period() -> None:
    [body] = digest_messages("china-trade", "16:00–17:00 UTC", items(2), role_id=42)
    assert body["embeds"][0]["title"] == "china-trade: 2 matches, 16:00–17:00 UTC"  # type: ignore
    assert body["content"] == "<@&42>"
    assert body["allowed_mentions"] == {"parse": [], "roles": ["42"]}


def test_story_items_are_nested_under_the_first() -> None:
    given = [DigestItem("A1", "BBC", "https://a/1", story="a"),
             DigestItem("B1", "AP", "https://b/1", story="b"),
             DigestItem("A2", "Reuters", "https://a/2", story="a"),
             DigestItem("C", "AP", "https://c/1")]
    assert digest_lines(given) == [
        "• [A1](<https://a/1>) — BBC", "  ↳ [A2](<https://a/2>) — Reuters",
        "• [B1](<https://b/1>) — AP", "• [C](<https://c/1>) — AP"]


def test_markdown_in_headlines_is_inert_and_bad_links_dropped() -> None:
    [line] = digest_lines([DigestItem("**Big** [news](x)", "Wire", "javascript:alert(1)")])
    assert line == "• \\*\\*Big\\*\\* \\[news\\]\\(x\\) — Wire"
