"""Full text end to end (issue 13): `wirewatch run` as a subprocess, a web server serving a
teaser-only feed and real-looking article pages, and the fake Discord receiving the alerts.

The watch on a name that only the article's fourth paragraph holds fires through the body
field (article text in the default scope) and its snippet is cut from the body.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.e2e.harness import BotProcess, bot_env, wait_for
from tests.fakes.article_pages import TRUMP_XI, news_page
from tests.fakes.discord_payloads import WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

HTML = "text/html; charset=utf-8"
PAGE = news_page("Trump and Xi speak by phone", TRUMP_XI,
                 most_read=["Zebrafish escape from the city aquarium",
                            "Mayor opens new tram line"],
                 related=["Chip makers brace for new rules"],
                 comments=["Nobody mentions the Quimby report, typical."])


def teaser_feed(server: FeedServer, items: list[tuple[str, str, str, str]]) -> bytes:
    """RSS of (guid, title, teaser, page path) items, newest first, one sentence each."""
    parts = "".join(
        f"<item><title>{title}</title><link>{server.url(path)}</link><guid>{guid}</guid>"
        f"<description>{teaser}</description></item>" for guid, title, teaser, path in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Teaser Wire</title>'
            f"<link>https://news.example/</link>{parts}</channel></rss>").encode()


def write_config(path: Path, feed_url: str, watches: dict[str, str]) -> None:
    tables = "".join(f'\n[[watches]]\nname = "{name}"\nquery = \'{query}\'\n'
                     f'webhook = "{FakeWebhook().url}"\n' for name, query in watches.items())
    path.write_text(f'[[feeds]]\nname = "Teaser Wire"\nurl = "{feed_url}"\ninterval = "1s"\n'
                    f"{tables}", encoding="utf-8")


def alerts(fake: FakeDiscord) -> dict[str, list[dict[str, str]]]:
    """Embeds posted so far, by the watch named in their footer."""
    found: dict[str, list[dict[str, str]]] = {}
    for message in fake.webhook_messages(WEBHOOK_ID):
        [embed] = message["embeds"]
        watch = embed["footer"]["text"].split(" · ")[0].split(" • ")[0]
        found.setdefault(watch, []).append(embed)
    return found


async def run_scenario(tmp_path: Path, watches: dict[str, str],
                       items: list[tuple[str, str, str, str]], expect: set[str],
                       pages: FeedServer, fake: FakeDiscord) -> tuple[float, BotProcess]:
    """Start the bot on a primed feed, publish ``items``, wait for alerts of ``expect``."""
    pages.serve("/feed.xml", teaser_feed(pages, [("old", "Old news", "Old.", "/old")]))
    config = tmp_path / "wirewatch.toml"
    write_config(config, pages.url("/feed.xml"), watches)
    bot = BotProcess(bot_env(tmp_path, config, fake.api_base), tmp_path / "bot.log")
    await bot.start()
    await wait_for(lambda: pages.hits("/feed.xml") >= 2, 30, "two polls")
    pages.serve("/feed.xml", teaser_feed(pages, [*items, ("old", "Old news", "Old.", "/old")]))
    published = time.monotonic()
    await wait_for(lambda: expect <= {w for w in alerts(fake) if any(
        w.startswith(name) for name in expect)}, 20, f"alerts of {sorted(expect)}")
    took = time.monotonic() - published
    await asyncio.sleep(2.5)  # a few more polls: nothing else may arrive
    return took, bot


async def test_paywalled_article_falls_back_to_the_teaser_on_time(tmp_path: Path) -> None:
    async with FeedServer() as pages, FakeDiscord() as fake:
        pages.status("/paid", 403)
        item = ("p1", "Chip export rules tightened",
                "Washington tightens semiconductor export rules.", "/paid")
        took, bot = await run_scenario(tmp_path, {"chips": "semiconductor"}, [item],
                                       {"chips"}, pages, fake)
        try:
            [embed] = alerts(fake)["chips"]
            assert "**semiconductor**" in embed["description"]
            assert took < 8, f"the alert took {took:.1f}s"
            assert pages.hits("/paid") == 1, "one GET per new item, never per poll"
            assert pages.hits("/old") == 0, "the silent first poll fetched an article"
        finally:
            status, _ = await bot.stop()
        assert status == 0, bot.output()


async def test_name_in_paragraph_four_fires_sidebar_word_does_not(tmp_path: Path) -> None:
    async with FeedServer() as pages, FakeDiscord() as fake:
        pages.serve("/story", PAGE, content_type=HTML)
        item = ("s1", "Trump and Xi speak by phone",
                "The two leaders discussed trade in a long call.", "/story")
        watches = {"bessent": "Bessent", "zebrafish": "Zebrafish", "quimby": "Quimby"}
        _took, bot = await run_scenario(tmp_path, watches, [item], {"bessent"}, pages, fake)
        try:
            found = alerts(fake)
            [embed] = found["bessent"]
            assert set(found) == {"bessent"}, sorted(found)
            description = embed["description"]
            assert "Treasury Secretary Scott **Bessent**, who joined the call" in description
            assert "Geneva next month." in description
            assert "Hang Seng" not in description  # the sentence, not the next paragraph
            assert pages.hits("/story") == 1
        finally:
            status, _ = await bot.stop()
        assert status == 0, bot.output()
