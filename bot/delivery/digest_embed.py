"""A digest (a period's matches of one watch) → Discord message bodies that fit (pure).

One line per match: headline (linked), source. Matches that share a story key (from the
story builder, when there is one) are kept together under the first one's line. The lines
are packed into embeds (description ≤ 4,096 characters) and messages (≤ 6,000 characters
over all embeds, ≤ 10 embeds); a digest too long for one message becomes several, each
saying "part i of n". A single line never exceeds an embed, so every match is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.delivery.embed import (
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    TITLE_MAX,
    stable_color,
    web_url,
)
from bot.delivery.markdown import escape_markdown, truncate_words

EMBEDS_MAX = 10
HEADLINE_MAX = 200
SOURCE_MAX = 60
LINK_MAX = 600  # a longer link would crowd out other matches; the headline stays, unlinked
FOOTER_RESERVE = 120  # "watch · part i of n" is added after packing
CONTINUED = " (continued)"


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One held match: what the digest lists for it."""

    title: str
    feed_name: str
    link: str
    story: str | None = None  # items with the same key are grouped
    published: datetime | None = None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def item_line(item: DigestItem, *, nested: bool = False) -> str:
    """``• [headline](link) — source`` with the headline escaped and cut to fit."""
    headline = escape_markdown(truncate_words(_one_line(item.title) or "Untitled",
                                              HEADLINE_MAX))
    link = web_url(item.link)
    shown = (f"[{headline}](<{link}>)" if link and len(link) <= LINK_MAX
             and not any(c in link for c in "<>") else headline)
    source = escape_markdown(truncate_words(_one_line(item.feed_name), SOURCE_MAX))
    return f"{'  ↳ ' if nested else '• '}{shown} — {source}"


def group_by_story(items: Sequence[DigestItem]) -> list[list[DigestItem]]:
    """Items in order, those sharing a story key gathered at the first one's place."""
    groups: list[list[DigestItem]] = []
    by_story: dict[str, list[DigestItem]] = {}
    for item in items:
        if item.story is not None and item.story in by_story:
            by_story[item.story].append(item)
            continue
        group = [item]
        groups.append(group)
        if item.story is not None:
            by_story[item.story] = group
    return groups


def digest_lines(items: Sequence[DigestItem]) -> list[str]:
    """The digest's lines: one per item, later items of a story nested under its first."""
    lines = []
    for group in group_by_story(items):
        lines.append(item_line(group[0]))
        lines.extend(item_line(item, nested=True) for item in group[1:])
    return lines


def _pack(lines: Sequence[str], title_len: int) -> list[list[list[str]]]:
    """Lines → messages → embeds → lines, within every limit."""
    messages: list[list[list[str]]] = [[[]]]
    embed_size, message_size = 0, title_len + FOOTER_RESERVE
    for line in lines:
        cost = len(line) + 1
        message = messages[-1]
        if embed_size + cost <= DESCRIPTION_MAX and message_size + cost <= EMBED_TOTAL_MAX:
            message[-1].append(line)
            embed_size += cost
            message_size += cost
        elif len(message) < EMBEDS_MAX and message_size + cost <= EMBED_TOTAL_MAX:
            message.append([line])
            embed_size = cost
            message_size += cost
        else:
            messages.append([[line]])
            embed_size, message_size = cost, title_len + FOOTER_RESERVE + cost
    return messages


def digest_title(watch_name: str, period: str, count: int) -> str:
    """``china-trade: 3 matches, until 17:00 UTC, 29 Nov 2026`` (within the title limit)."""
    noun = "match" if count == 1 else "matches"
    return truncate_words(_one_line(f"{watch_name}: {count} {noun}, {period}"), TITLE_MAX)


def digest_messages(watch_name: str, period: str, items: Sequence[DigestItem], *,
                    color: int | None = None, role_id: int | None = None
                    ) -> list[dict[str, object]]:
    """The digest as message bodies (at least one), each within Discord's limits.

    ``period`` is a human label such as ``"16:00–17:00 UTC"``. Nonces are the caller's:
    one per part, derived from watch, period and part number.
    """
    title = digest_title(watch_name, period, len(items))
    lines = digest_lines(items) or ["No matches in this period."]
    packed = _pack(lines, min(TITLE_MAX, len(title) + len(CONTINUED)))
    colour = color if color is not None and 0 <= color <= 0xFFFFFF else stable_color(watch_name)
    allowed: dict[str, object] = {"parse": []}
    if role_id is not None:
        allowed["roles"] = [str(role_id)]
    bodies: list[dict[str, object]] = []
    for number, message in enumerate(packed, start=1):
        embeds: list[dict[str, object]] = [
            {"description": "\n".join(embed), "color": colour} for embed in message]
        embeds[0]["title"] = title if number == 1 else truncate_words(title + CONTINUED,
                                                                      TITLE_MAX)
        part = f" · part {number} of {len(packed)}" if len(packed) > 1 else ""
        # Room is left for the sender's " · ref <marker>" (about 18 characters).
        footer = truncate_words(_one_line(watch_name), FOOTER_RESERVE - 60) + " · digest" + part
        embeds[-1]["footer"] = {"text": footer}
        body: dict[str, object] = {"embeds": embeds, "allowed_mentions": allowed}
        if role_id is not None and number == 1:
            body["content"] = f"<@&{role_id}>"
        bodies.append(body)
    return bodies
