"""Logs: text or JSON with context fields, and secrets that never reach a log or a payload."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.service.logs import JsonFormatter, RedactingFilter, redact
from tests.e2e.harness import BotProcess, bot_env, rss, wait_for
from tests.fakes.discord_payloads import ALERTS_CHANNEL_ID, FakeConfig, FakeWebhook
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_server import FeedServer

CANARY_TOKEN = "MTE5NjQ4ODk3NjQ3NTQ2NTg5OA.GcAnRy.c4n4ryT0k3nSh0uldN3v3rL34kAAAAAAAAA"
CANARY_HOOK = "canaryWebhookToken-" + "Zq9" * 20
CANARY_PASSWORD = "canary-password-77"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter((CANARY_TOKEN,)))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


REDACTIONS = [
    (f"token is {CANARY_TOKEN}", CANARY_TOKEN),
    (f"POST https://discord.com/api/webhooks/123456789012345678/{CANARY_HOOK}", CANARY_HOOK),
    (f"fetch http://user:{CANARY_PASSWORD}@feeds.example/rss failed", CANARY_PASSWORD),
    (f"header Authorization: Bot {CANARY_TOKEN}", CANARY_TOKEN),
]


@pytest.mark.parametrize(("text", "secret"), REDACTIONS)
def test_redact_removes_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_json_lines_carry_context_and_no_secret(captured: io.StringIO) -> None:
    log = logging.getLogger("tests.logs")
    log.warning("feed %r failed with token %s", "Wire", CANARY_TOKEN,
                extra={"feed": "Wire", "guild": 42, "watch": "trade"})
    try:
        raise RuntimeError(f"boom {CANARY_TOKEN}")
    except RuntimeError:
        log.exception("crashed")
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert (first["feed"], first["guild"], first["watch"]) == ("Wire", 42, "trade")
    assert first["level"] == "warning" and "Wire" in first["message"]
    assert "RuntimeError" in second["exception"]
    assert CANARY_TOKEN not in captured.getvalue()


async def test_a_canary_token_never_reaches_the_log_or_a_discord_payload(tmp_path: Path) -> None:
    webhook = FakeWebhook(token=CANARY_HOOK)
    async with FeedServer() as feeds, FakeDiscord(
            FakeConfig(token=CANARY_TOKEN, webhooks=(webhook,))) as fake:
        feeds.serve("/feed.xml", rss([("1", "Old tariffs story")]))
        secret_url = feeds.url("/feed.xml").replace("://", f"://user:{CANARY_PASSWORD}@")
        config = tmp_path / "wirewatch.toml"
        config.write_text(f"""
[[feeds]]
name = "Wire"
url = "{feeds.url('/feed.xml')}"
interval = "1s"

[[feeds]]
name = "Secret"
url = "{secret_url.replace('/feed.xml', '/missing.xml')}"
interval = "1s"

[[watches]]
name = "hook"
query = "tariffs"
webhook = "{webhook.url}"

[[watches]]
name = "chan"
query = "tariffs"
channel = {ALERTS_CHANNEL_ID}
""", encoding="utf-8")
        env = bot_env(tmp_path, config, fake.api_base, DISCORD_TOKEN=CANARY_TOKEN,
                      WIREWATCH_DISCORD_GATEWAY_URL=fake.gateway_url,
                      WIREWATCH_LOG_LEVEL="DEBUG", WIREWATCH_LOG_FORMAT="json")
        bot = BotProcess(env, tmp_path / "bot.log")
        await bot.start()
        await wait_for(lambda: feeds.hits("/feed.xml") >= 2, 30, "the feed to be primed")
        feeds.serve("/feed.xml", rss([("2", "New tariffs"), ("1", "Old tariffs story")]))
        await wait_for(lambda: len(fake.messages(ALERTS_CHANNEL_ID)) >= 2, 15, "both alerts")
        fake.faults.unknown_webhook(webhook.id)  # an error path that names the webhook
        feeds.serve("/feed.xml", rss([("3", "More tariffs"), ("2", "New tariffs")]))
        await wait_for(lambda: "10015" in bot.output() or "404" in bot.output(), 15,
                       "the webhook failure to be logged")
        await asyncio.sleep(0.5)
        status, _ = await bot.stop()
    output = bot.output()
    assert status == 0, output
    assert json.loads(output.splitlines()[0])["level"]  # JSON lines
    for secret in (CANARY_TOKEN, CANARY_HOOK, CANARY_PASSWORD):
        assert secret not in output, f"{secret[:12]}… leaked into the log"
        for request in fake.requests:
            assert secret not in json.dumps(request.json), f"{secret[:12]}… in a payload"
