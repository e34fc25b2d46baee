"""Item identity: link normalisation and the key rules (guid → link → hash)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.urls import normalise_link
from bot.pipeline.identity import MAX_KEY_CHARS, item_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
        ("https://example.com/a?id=7&utm_source=rss&b=2", "https://example.com/a?id=7&b=2"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),  # order kept
        ("https://example.com/a?fbclid=X&gclid=Y&msclkid=Z", "https://example.com/a"),
        ("https://example.com/a?UTM_Campaign=x&p=%20", "https://example.com/a?p=%20"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://[2001:DB8::1]:8443/x", "https://[2001:db8::1]:8443/x"),
        ("https://example.com/a?", "https://example.com/a"),
        ("/relative/path", "/relative/path"),
        ("tag:example.com,2024:1", "tag:example.com,2024:1"),
        ("https://example.com:notaport/a", "https://example.com:notaport/a"),
    ],
)
def test_normalise_link(raw: str, expected: str) -> None:
    assert normalise_link(raw) == expected


@pytest.mark.parametrize(
    ("guid", "link", "title", "expected"),
    [
        # guid wins, kept verbatim when it is not a URL
        ("story-1", "https://n.example/1", "T", "story-1"),
        ("  story-1 ", None, None, "story-1"),
        ("tag:n.example,2024:1", None, None, "tag:n.example,2024:1"),
        # URL guids: no scheme, normalised, tracking dropped
        ("http://n.example/1", None, None, "//n.example/1"),
        ("https://N.example/1?utm_source=x#top", None, None, "//n.example/1"),
        # no guid → normalised link, without scheme
        (None, "https://n.example/1?utm_medium=rss", "T", "//n.example/1"),
        ("", "http://n.example/1", "T", "//n.example/1"),
        ("   ", "/1", "T", "/1"),
    ],
)
def test_item_key(guid: str | None, link: str | None, title: str | None, expected: str) -> None:
    assert item_key(guid, link, title) == expected


def test_http_to_https_guid_churn_keeps_the_key() -> None:
    assert item_key("http://n.example/a/1", None, None) == item_key("https://n.example/a/1", None,
                                                                      None)


def test_no_guid_no_link_hashes_the_title() -> None:
    key = item_key(None, None, "Storm hits coast")
    assert key.startswith("h:") and len(key) == 34
    assert key == item_key("", "  ", "Storm hits coast")
    assert key != item_key(None, None, "Storm hits coast again")


def test_long_keys_are_hashed() -> None:
    guid = "x" * 2_000
    key = item_key(guid, None, None)
    assert key.startswith("h:") and len(key) <= MAX_KEY_CHARS
    assert key != item_key("y" * 2_000, None, None)
    assert item_key("x" * MAX_KEY_CHARS, None, None) == "x" * MAX_KEY_CHARS


@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300))
def test_keys_are_bounded_and_deterministic(guid: str, link: str, title: str) -> None:
    key = item_key(guid, link, title)
    assert 0 < len(key) <= MAX_KEY_CHARS
    assert key == item_key(guid, link, title)


@given(st.text(max_size=200))
def test_normalise_link_is_idempotent(url: str) -> None:
    once = normalise_link(url)
    assert normalise_link(once) == once
