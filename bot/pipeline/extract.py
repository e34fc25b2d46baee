"""Main text of an article page (trafilatura), for full-text matching. Pure; worker side only.

This module imports trafilatura (and through it lxml and jusText), so only the isolated
worker processes (``bot.pipeline.isolation``) import it: extraction is CPU-heavy and runs
on hostile HTML, never on the event loop.

* ``favor_precision``: a missed sentence costs less than a "most read" headline in the body,
  which would make a watch fire on a story that does not mention it;
* reader comments are left out (they are not the article); tables stay (results, figures);
* the text keeps one paragraph per line, so snippets see paragraph breaks as sentence ends;
* the result depends only on the page: nothing is remembered between extractions;
* it is capped at ``MAX_BODY`` characters, cut at the last paragraph break before the cap.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping

from bot.core.text import normalize_text

MAX_BODY = 20_000
_DEDUP_CACHE = 4096  # trafilatura's own default size (LRU_SIZE) for its shared cache


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


# The byte-order marks a browser honours (WHATWG Encoding, "BOM sniff"), longest first.
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_BE, "utf-16-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"))


def decode_page(body: bytes, headers: Mapping[str, str]) -> str | bytes:
    """The page as text, decoded as a browser does; bytes when only sniffing can tell.

    A byte-order mark wins over the header's charset (a UTF-8 page with a BOM served as
    ISO-8859-1 is UTF-8 in every browser); then the header's charset; else the bytes go to
    trafilatura, which reads the page's own ``<meta charset>``.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, errors="replace")
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
    from trafilatura.deduplication import LRUCache

    extracted = trafilatura.extract(
        decode_page(body, headers), url=url or None, favor_precision=True,
        include_comments=False, include_tables=True, include_images=False,
        # A fresh cache per page: with deduplicate=True trafilatura counts segments in one
        # process-wide cache, so a worker that had extracted a page three times got nothing
        # from it the fourth time (and lost paragraphs other pages of the site shared).
        include_links=False, deduplicate=LRUCache(maxsize=_DEDUP_CACHE),
        output_format="txt", with_metadata=False)
    if not extracted:
        return ""
    paragraphs = (normalize_text(line) for line in extracted.splitlines())
    return cap_text("\n".join(p for p in paragraphs if p))
