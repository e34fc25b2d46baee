"""Which new items want their article page (issue 13). Pure."""

from __future__ import annotations

from bot.core.model import Entry
from bot.pipeline.article import describe_stats
from bot.pipeline.fulltext import full_text_mode, is_teaser, wants_article

LINK = "https://news.example/story/1"


def test_teaser_is_judged_on_visible_text_of_the_longer_field() -> None:
    assert is_teaser(Entry(key="a", summary="One sentence."))
    # 1,200 characters of markup around 20 of text: still a teaser.
    assert is_teaser(Entry(key="b", summary=f'<p><a href="/{"x" * 1200}">Short text here.</a>'))
    long_text = "word " * 250
    assert not is_teaser(Entry(key="c", summary="Short.", content=f"<p>{long_text}</p>"))
    assert not is_teaser(Entry(key="d", summary=long_text))


def test_modes_and_links() -> None:
    teaser = Entry(key="a", link=LINK, summary="One sentence.")
    full = Entry(key="b", link=LINK, summary="word " * 250)
    assert wants_article(teaser, "auto") and not wants_article(full, "auto")
    assert wants_article(full, "always")
    assert not wants_article(teaser, "never")
    for link in ("", "ftp://news.example/x", "javascript:alert(1)", "/relative/path"):
        assert not wants_article(Entry(key="c", link=link), "always")


def test_unknown_mode_means_auto() -> None:
    assert [full_text_mode(v) for v in ("always", "never", "auto", None, "bogus")] == [
        "always", "never", "auto", "auto", "auto"]


def test_article_stats_line() -> None:
    assert describe_stats({}) == ""
    assert describe_stats({"ok": 0}) == ""
    assert describe_stats({"ok": 92, "paywall": 3, "timeout": 1, "not_html": 4}) == (
        "articles: 92 % ok; 4 not html, 3 paywall, 1 timeout")
    assert describe_stats({"ok": 5}) == "articles: 100 % ok"
    assert describe_stats({"paywall": 2}) == "articles: 0 % ok; 2 paywall"
