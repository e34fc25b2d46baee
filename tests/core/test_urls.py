"""URLs shown to users and logs: never credentials, never query strings."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.core.urls import host_of, redact_urls, safe_url
from bot.service.logs import redact


@pytest.mark.parametrize(("url", "shown", "host"), [
    ("https://u:pw@x.example:8443/a/b?key=1#f", "https://x.example:8443/a/b?…", "x.example"),
    ("https://x.example/feed.xml", "https://x.example/feed.xml", "x.example"),
    ("http://[::1]:80/x?y=2", "http://[::1]:80/x?…", "::1"),
    ("https://x.example/#frag", "https://x.example/?…", "x.example"),
    ("not a url?key=1", "not a url?…", "?"),
    ("https://u:pw@[bad/x?k=1", "https://[bad/x?…", "?"),
])
def test_safe_url_and_host(url: str, shown: str, host: str) -> None:
    assert safe_url(url) == shown
    assert host_of(url) == host


def test_urls_inside_text_are_redacted_or_cut_to_the_host() -> None:
    text = "HTTP 503 from https://a:b@feeds.example/x.xml?apikey=S3CRET (twice) see http://y.org/z"
    assert redact_urls(text) == ("HTTP 503 from https://feeds.example/x.xml?… (twice) "
                                 "see http://y.org/z")
    assert redact_urls(text, host_only=True) == "HTTP 503 from feeds.example (twice) see y.org"


def test_log_lines_lose_query_strings() -> None:
    assert redact("feed at https://f.example/rss?token=S3CRET failed") == (
        "feed at https://f.example/rss?… failed")


@given(user=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1),
       secret=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=8),
       path=st.text(st.characters(codec="ascii", categories=("L", "N")), max_size=10))
def test_no_secret_survives(user: str, secret: str, path: str) -> None:
    assume(secret not in f"{user}h.example{path}".lower() and secret not in path)
    for url in (f"https://{user}:{secret}@h.example/{path}?k={secret}",
                f"https://h.example/{path}?{secret}", f"https://h.example/{path}#{secret}"):
        assert secret not in safe_url(url)
        assert secret not in redact_urls(f"error: {url} failed")
        assert secret not in redact(f"error: {url} failed")
