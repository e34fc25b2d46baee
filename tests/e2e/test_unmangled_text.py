"""Text that is never mangled, end to end (issue 19): ``wirewatch run`` as a subprocess, an
English feed whose title carries an escaped ``<TSLA.O>``, and the fake Discord's webhook.

The ``title:TSLA`` watch alerts once; its snippet is the feed's lead as published (``CO₂``,
``10⁶``, ``™`` and full-width text as written) with the matched word in bold. (The Chinese
``稀土`` half of this scenario waits for word segmentation, part A of issue 19.)
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.e2e.harness import BotProcess, bot_env, wait_for
from tests.fakes.discord_payloads import WEBHOOK_ID, FakeWebhook
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.timeout(90)

TITLE = "Shares of Tesla fall 5% &lt;TSLA.O&gt; as CO₂ rules bite"  # RSS: decoded once
LEAD = ("<![CDATA[<p>Tesla Inc &lt;TSLA.O&gt; fell 5% after 10⁶ tonnes of CO₂ credits "
        "lapsed, its Autopilot™ unit said. ＯＫ！</p>]]>")


def shown(markdown: str) -> str:
    """What Discord shows of escaped markdown (bold markers kept): ``\\<`` is ``<``."""
    return re.sub(r"\\(.)", r"\1", markdown)


def feed(*items: tuple[str, str, str]) -> bytes:
    parts = "".join(f"<item><title>{title}</title><link>https://news.example/{guid}</link>"
                    f"<guid>{guid}</guid><description>{lead}</description></item>"
                    for guid, title, lead in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>English Wire</title>'
            f"<link>https://news.example/</link>{parts}</channel></rss>").encode()


async def test_escaped_ticker_in_a_title_alerts_once_unmangled(tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        old = ("old", "Markets open flat", "<p>Nothing yet.</p>")
        feeds.serve("/en.xml", feed(old))
        config = tmp_path / "wirewatch.toml"
        config.write_text(
            f'[[feeds]]\nname = "English Wire"\nurl = "{feeds.url("/en.xml")}"\n'
            f'interval = "1s"\n\n[[watches]]\nname = "tesla"\nquery = \'title:TSLA\'\n'
            f'webhook = "{FakeWebhook().url}"\n', encoding="utf-8")
        bot = BotProcess(bot_env(tmp_path, config, fake.api_base), tmp_path / "bot.log")
        await bot.start()
        try:
            await wait_for(lambda: feeds.hits("/en.xml") >= 2, 30, "two polls")
            feeds.serve("/en.xml", feed(("t1", TITLE, LEAD), old))
            await wait_for(lambda: fake.webhook_messages(WEBHOOK_ID), 20, "the alert")
            await asyncio.sleep(2.5)  # a few more polls: nothing else may arrive
            [message] = fake.webhook_messages(WEBHOOK_ID)
            [embed] = message["embeds"]
            assert shown(embed["title"]) == "Shares of Tesla fall 5% <TSLA.O> as CO₂ rules bite"
            assert shown(embed["description"]) == (
                "Tesla Inc <**TSLA**.O> fell 5% after 10⁶ tonnes of CO₂ credits lapsed, its "
                "Autopilot™ unit said. ＯＫ！")
            assert embed["footer"]["text"].startswith("tesla · title:TSLA")
        finally:
            status, _ = await bot.stop()
        assert status == 0, bot.output()[-3000:]
