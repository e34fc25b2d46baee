"""Discord's checks on message and command payloads, answered as Discord does (400, code 50035).

discord.py checks none of these limits, so a fake that accepts anything would let oversized
embeds pass every test and fail only in production.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

JSON = dict[str, Any]

INVALID_FORM_BODY = 50035
EMPTY_MESSAGE = 50006

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
FIELDS_MAX = 25
NONCE_MAX = 25
# (path inside an embed, limit); these all count towards the 6,000 total.
EMBED_TEXT_LIMITS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("title",), 256),
    (("description",), 4096),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
)
FIELD_LIMITS = (("name", 256), ("value", 1024))
URL_KEYS: tuple[tuple[str, ...], ...] = (
    ("url",),
    ("thumbnail", "url"),
    ("image", "url"),
    ("author", "url"),
    ("author", "icon_url"),
    ("footer", "icon_url"),
)
ROWS_MAX = 5
COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")


class Problems:
    """Collects errors in Discord's nested ``{"a": {"0": {"b": {"_errors": [...]}}}}`` shape."""

    def __init__(self) -> None:
        self.tree: JSON = {}

    def add(self, path: tuple[str, ...], code: str, message: str) -> None:
        """Record one problem at ``path``."""
        node = self.tree
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: tuple[str, ...], limit: int) -> None:
        """Record a length problem the way Discord words it."""
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def body(self) -> JSON | None:
        """The 400 body, or None when there was nothing wrong."""
        if not self.tree:
            return None
        return {"message": "Invalid Form Body", "code": INVALID_FORM_BODY, "errors": self.tree}


def _dig(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _check_embed(embed: Mapping[str, Any], where: tuple[str, ...], problems: Problems) -> int:
    """Check one embed; return the characters it adds to the 6,000 total."""
    total = 0
    for path, limit in EMBED_TEXT_LIMITS:
        text = _dig(embed, path)
        if isinstance(text, str):
            total += len(text)
            if len(text) > limit:
                problems.too_long((*where, *path), limit)
    fields = embed.get("fields") or []
    if len(fields) > FIELDS_MAX:
        problems.too_long((*where, "fields"), FIELDS_MAX)
    for i, fld in enumerate(fields):
        for key, limit in FIELD_LIMITS:
            text = fld.get(key)
            if not isinstance(text, str) or not text:
                problems.add((*where, "fields", str(i), key), "BASE_TYPE_REQUIRED",
                             "This field is required")
                continue
            total += len(text)
            if len(text) > limit:
                problems.too_long((*where, "fields", str(i), key), limit)
    for path in URL_KEYS:
        url = _dig(embed, path)
        if url is not None and not re.match(r"(?i)^(https?|attachment)://\S+$", str(url)):
            scheme = str(url).split(":", 1)[0]
            problems.add((*where, *path), "URL_TYPE_INVALID_SCHEME",
                         f'Scheme "{scheme}" is not supported. Scheme must be one of (\'http\', '
                         "'https').")
    color = embed.get("color")
    if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
        problems.add((*where, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
    stamp = embed.get("timestamp")
    if stamp is not None:
        try:
            datetime.fromisoformat(str(stamp))
        except ValueError:
            problems.add((*where, "timestamp"), "DATE_TIME_TYPE_PARSE",
                         f'Could not parse {stamp}. Should be ISO8601.')
    return total


def _check_allowed_mentions(allowed: Any, problems: Problems) -> None:
    if not isinstance(allowed, Mapping):
        return
    parse = allowed.get("parse", [])
    for kind in ("roles", "users"):
        if kind in parse and allowed.get(kind):
            problems.add(("allowed_mentions",), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                         f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.')


def _check_components(rows: list[Any], problems: Problems) -> None:
    """Action rows (type 1) of buttons (2) or one select (3), with Discord's limits."""
    if len(rows) > ROWS_MAX:
        problems.too_long(("components",), ROWS_MAX)
    for i, row in enumerate(rows):
        where = ("components", str(i))
        items = row.get("components") or [] if isinstance(row, Mapping) else []
        if not isinstance(row, Mapping) or row.get("type") != 1 or not 1 <= len(items) <= 5:
            problems.add(where, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Invalid action row")
            continue
        if any(c.get("type") != 2 for c in items) and len(items) > 1:
            problems.add(where, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A select fills its row")
        for j, item in enumerate(items):
            _check_component(item, (*where, "components", str(j)), problems)


def _check_component(item: Mapping[str, Any], where: tuple[str, ...],
                     problems: Problems) -> None:
    link = item.get("type") == 2 and item.get("style") == 5
    if link != bool(item.get("url")) or link == bool(item.get("custom_id")):
        problems.add(where, "COMPONENT_INVALID", "A link button has a url and no custom_id; "
                     "any other component has a custom_id")
    for key, limit in (("custom_id", 100), ("label", 80), ("placeholder", 150),
                       ("url", 512)):
        if len(str(item.get(key) or "")) > limit:
            problems.too_long((*where, key), limit)
    if item.get("type") == 3 and not 1 <= len(item.get("options") or []) <= 25:
        problems.add((*where, "options"), "BASE_TYPE_BAD_LENGTH",
                     "Must be between 1 and 25 in length.")


def check_message(body: Mapping[str, Any]) -> JSON | None:
    """Check a create-message / execute-webhook body; return the 400 body, or None if valid."""
    problems = Problems()
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        problems.too_long(("content",), CONTENT_MAX)
    nonce = body.get("nonce")
    if nonce is not None and len(str(nonce)) > NONCE_MAX:
        problems.too_long(("nonce",), NONCE_MAX)
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        problems.too_long(("embeds",), EMBEDS_MAX)
    total = sum(_check_embed(e, ("embeds", str(i)), problems) for i, e in enumerate(embeds))
    if total > EMBED_TOTAL_MAX:
        problems.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED",
                     f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")
    _check_allowed_mentions(body.get("allowed_mentions"), problems)
    _check_components(body.get("components") or [], problems)
    error = problems.body()
    if error is None and not (content or embeds or body.get("components") or body.get("poll")):
        error = {"message": "Cannot send an empty message", "code": EMPTY_MESSAGE}
    return error


def _check_options(options: list[JSON], where: tuple[str, ...], problems: Problems) -> None:
    if len(options) > FIELDS_MAX:
        problems.too_long((*where,), FIELDS_MAX)
    seen_optional = False
    for i, opt in enumerate(options):
        here = (*where, str(i))
        _check_name_and_description(opt, here, problems)
        if opt.get("required"):
            if seen_optional:
                problems.add((*here, "required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                             "Required options must be placed before non-required options")
        elif opt.get("type") not in (1, 2):
            seen_optional = True
        if len(opt.get("choices") or []) > FIELDS_MAX:
            problems.too_long((*here, "choices"), FIELDS_MAX)
        _check_options(opt.get("options") or [], (*here, "options"), problems)


def _check_name_and_description(cmd: Mapping[str, Any], where: tuple[str, ...],
                                problems: Problems) -> None:
    name = str(cmd.get("name", ""))
    if not COMMAND_NAME_RE.match(name) or name != name.lower():
        problems.add((*where, "name"), "APPLICATION_COMMAND_INVALID_NAME",
                     "Command name is invalid")
    if cmd.get("type", 1) in (1, None):
        description = str(cmd.get("description", ""))
        if not 1 <= len(description) <= 100:
            problems.add((*where, "description"), "BASE_TYPE_BAD_LENGTH",
                         "Must be between 1 and 100 in length.")


def check_commands(commands: Any) -> JSON | None:
    """Check a bulk-overwrite body (a list of commands); return the 400 body or None."""
    problems = Problems()
    if not isinstance(commands, list):
        problems.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        return problems.body()
    for i, cmd in enumerate(commands):
        _check_name_and_description(cmd, (str(i),), problems)
        _check_options(cmd.get("options") or [], (str(i), "options"), problems)
    return problems.body()
