"""Linear-time Discord markdown escaping and word-boundary truncation (pure, no discord import).

``discord.utils.escape_markdown`` is super-linear on repeated ``[a](`` (8,000 chars: ~14 s on
the event loop) and escapes only the ``[`` of a masked link; everything here is one pass.
"""

from __future__ import annotations

import re

# Inline syntax anywhere in a line, plus the line-start syntax (quotes, headers, lists) which is
# cheaper to escape everywhere than to detect. ``<`` stops <@id>, <#id>, <t:…> and <url> forms.
_SPECIAL = "\\*_~`|>#-[]()<"
_ESCAPES = str.maketrans({char: "\\" + char for char in _SPECIAL})
# "1. item" at a line start becomes an ordered list. ``[ \t]*`` (not ``\s*``) keeps one match
# attempt inside one line, so the scan stays linear even over many blank lines.
_ORDERED_LIST = re.compile(r"^([ \t]*\d+)\.(?=[ \t])", re.MULTILINE)
_MASS_MENTION = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
ZERO_WIDTH_SPACE = "\u200b"


def escape_markdown(text: str) -> str:
    """Escape ``text`` so that Discord renders it literally, in O(n).

    Escapes ``\\ * _ ~ ` | > # - [ ] ( ) <`` with a backslash and the dot of a line-start
    ``1.``; puts a zero-width space after the ``@`` of ``@everyone``/``@here`` so the visible
    text shows no mass mention (``allowed_mentions`` is what really prevents pings).
    """
    escaped = text.translate(_ESCAPES)
    escaped = _ORDERED_LIST.sub(r"\1\\.", escaped)
    return _MASS_MENTION.sub("@" + ZERO_WIDTH_SPACE, escaped)


def cut_index(text: str, limit: int, ellipsis: str = "…") -> int:
    """Where :func:`truncate_words` cuts ``text``: ``len(text)`` if it already fits.

    The cut falls on the last whitespace before the limit, unless that would drop more than
    half of the room (one giant word, a URL): then the word itself is cut.
    """
    if len(text) <= limit:
        return len(text)
    room = max(0, limit - len(ellipsis))
    boundary = max(text.rfind(" ", 0, room + 1), text.rfind("\n", 0, room + 1))
    if boundary > 0 and boundary >= room // 2:
        kept = len(text[:boundary].rstrip())
        if kept:
            return kept
    return room


def truncate_words(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` if it has at most ``limit`` chars, else cut on a word boundary + ``ellipsis``.

    The result never exceeds ``limit`` characters (if ``limit`` is shorter than the ellipsis,
    the text is cut without one).
    """
    if len(text) <= limit:
        return text
    if limit < len(ellipsis):
        return text[: max(0, limit)]
    return text[: cut_index(text, limit, ellipsis)] + ellipsis
