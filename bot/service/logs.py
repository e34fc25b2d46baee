"""Logging set-up: readable text or JSON lines, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from bot.core.urls import redact_urls

_SECRETS = [
    # Discord webhook tokens, bot tokens (three dot-separated base64 parts), URL credentials.
    (re.compile(r"(/webhooks/\d+/)[\w.-]+"), r"\1***"),
    (re.compile(r"\b[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,}\b"), "***token***"),
    (re.compile(r"(://[^/\s:@]+:)[^@/\s]+@"), r"\1***@"),
    (re.compile(r"(Bot |Bearer )[\w.-]{20,}"), r"\1***"),
]
CONTEXT_FIELDS = ("feed", "guild", "watch")


def redact(text: str, extra_secrets: tuple[str, ...] = ()) -> str:
    """Remove tokens, webhook secrets, URL passwords and URL query strings from ``text``."""
    for secret in extra_secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    # Feed URLs may carry API keys in their query strings: no log line keeps one.
    return redact_urls(text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with secrets removed."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info),
                                     self._secrets)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as JSON."""
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: tuple[str, ...] = ()) -> None:
    """Configure the root logger once, on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    # Alembic's INFO lines (context impl, each step) clutter a newcomer's first screen; the
    # store logs one line of its own when it upgrades the schema.
    for noisy in ("apscheduler", "discord.gateway", "discord.client", "alembic"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
