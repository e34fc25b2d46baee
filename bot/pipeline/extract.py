"""Main text of an article page (trafilatura), for full-text matching. Pure; worker side only.

This module imports trafilatura (and through it lxml and jusText), so only the isolated
worker processes (``bot.pipeline.isolation``) import it: extraction is CPU-heavy and runs
on hostile HTML, never on the event loop.

* ``favor_precision``: a missed sentence costs less than a "most read" headline in the body,
  which would make a watch fire on a story that does not mention it;
* reader comments are left out (they are not the article); tables stay (results, figures);
* the text keeps one paragraph per line, so snippets see paragraph breaks as sentence ends;
* it is capped at ``MAX_BODY`` characters, cut at the last paragraph break before the cap.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping

from bot.core.text import normalize_text

MAX_BODY = 20_000


def _charset(headers: Mapping[str, str]) -> str | None:
    """The charset the Content-Type header names, if Python knows it."""
    for param in headers.get("content-type", "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset":
            try:
                return codecs.lookup(value.strip().strip("\"'")).name
            except LookupError:
                return None
    return None


def decode_page(body: bytes, headers: Mapping[str, str]) -> str | bytes:
    """The page as text when the header names its charset; else bytes for trafilatura to sniff."""
    charset = _charset(headers)
    return body.decode(charset, errors="replace") if charset else body


def cap_text(text: str, limit: int = MAX_BODY) -> str:
    """``text`` at most ``limit`` characters, cut after a whole paragraph when one fits."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit + 1)
    return text[:cut] if cut > limit // 2 else text[:limit]


def extract_main_text(body: bytes, headers: Mapping[str, str], url: str) -> str:
    """The article's main text: one normalised paragraph per line, capped; "" if none."""
    import trafilatura  # heavy import: only the worker processes pay for it

    extracted = trafilatura.extract(
        decode_page(body, headers), url=url or None, favor_precision=True,
        include_comments=False, include_tables=True, include_images=False,
        include_links=False, deduplicate=True, output_format="txt", with_metadata=False)
    if not extracted:
        return ""
    paragraphs = (normalize_text(line) for line in extracted.splitlines())
    return cap_text("\n".join(p for p in paragraphs if p))
