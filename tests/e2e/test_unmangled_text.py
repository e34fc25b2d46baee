"""Text that is never mangled, end to end (issue 19): ``wirewatch run`` as a subprocess, an
English feed whose title carries an escaped ``<TSLA.O>``, a Chinese feed written without
spaces, and the fake Discord's webhook.

The ``title:TSLA`` watch alerts once; its snippet is the feed's lead as published (``CO₂``,
``10⁶``, ``™`` and full-width text as written) with the matched word in bold. The ``稀土``
(rare earths) watch alerts once on the Chinese headline, found inside an unspaced run by
ICU's word break, the word in bold.
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


def feed(*items: tuple[str, str, str], name: str = "English Wire") -> bytes:
    parts = "".join(f"<item><title>{title}</title><link>https://news.example/{guid}</link>"
                    f"<guid>{guid}</guid><description>{lead}</description></item>"
                    for guid, title, lead in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
            f"<link>https://news.example/</link>{parts}</channel></rss>").encode()


ZH_OLD = ("zh-old", "股市平开", "<p>暂无消息。</p>")
ZH_NEW = ("zh1", "中国限制稀土出口", "<p>商务部周四宣布限制稀土出口，外国买家担忧。</p>")


async def test_escaped_ticker_and_unspaced_chinese_each_alert_once_unmangled(
        tmp_path: Path) -> None:
    async with FeedServer() as feeds, FakeDiscord() as fake:
        old = ("old", "Markets open flat", "<p>Nothing yet.</p>")
        feeds.serve("/en.xml", feed(old))
        feeds.serve("/zh.xml", feed(ZH_OLD, name="中文快讯"))
        hook = FakeWebhook().url
        config = tmp_path / "wirewatch.toml"
        config.write_text(
            f'[[feeds]]\nname = "English Wire"\nurl = "{feeds.url("/en.xml")}"\n'
            f'interval = "1s"\n\n[[feeds]]\nname = "Chinese Wire"\n'
            f'url = "{feeds.url("/zh.xml")}"\ninterval = "1s"\n\n'
            f'[[watches]]\nname = "tesla"\nquery = \'title:TSLA\'\nwebhook = "{hook}"\n\n'
            f'[[watches]]\nname = "rare-earths"\nquery = \'稀土\'\nwebhook = "{hook}"\n',
            encoding="utf-8")
        bot = BotProcess(bot_env(tmp_path, config, fake.api_base), tmp_path / "bot.log")
        await bot.start()
        try:
            await wait_for(lambda: min(feeds.hits("/en.xml"), feeds.hits("/zh.xml")) >= 2, 30,
                           "two polls of each feed")
            feeds.serve("/en.xml", feed(("t1", TITLE, LEAD), old))
            feeds.serve("/zh.xml", feed(ZH_NEW, ZH_OLD, name="中文快讯"))
            await wait_for(lambda: len(fake.webhook_messages(WEBHOOK_ID)) >= 2, 20,
                           "the two alerts")
            await asyncio.sleep(2.5)  # a few more polls: nothing else may arrive
            messages = fake.webhook_messages(WEBHOOK_ID)
            assert len(messages) == 2, [m["embeds"][0]["title"] for m in messages]
            by_watch = {m["embeds"][0]["footer"]["text"].split(" · ")[0]: m["embeds"][0]
                        for m in messages}
            tesla, rare = by_watch["tesla"], by_watch["rare-earths"]
            assert shown(tesla["title"]) == "Shares of Tesla fall 5% <TSLA.O> as CO₂ rules bite"
            assert shown(tesla["description"]) == (
                "Tesla Inc <**TSLA**.O> fell 5% after 10⁶ tonnes of CO₂ credits lapsed, its "
                "Autopilot™ unit said. ＯＫ！")
            assert tesla["footer"]["text"].startswith("tesla · title:TSLA")
            assert shown(rare["title"]) == "中国限制稀土出口"
            assert "限制**稀土**出口" in shown(rare["description"]), rare["description"]
        finally:
            status, _ = await bot.stop()
        assert status == 0, bot.output()[-3000:]
