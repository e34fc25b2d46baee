"""Article extraction in the worker: decoding like a browser, and no memory between pages."""

from __future__ import annotations

import codecs

import pytest

from bot.pipeline.extract import decode_page, extract_main_text

_PARAGRAPHS = "".join(
    f"<p>Paragraph {i}: Beijing restricted exports of rare earths, and the tariffs that "
    f"followed reached every market in the region within a week of the decision.</p>"
    for i in range(6)
)
PAGE = (
    "<html><head><title>T</title></head><body><nav>Home · World · Markets</nav>"
    f"<article><h1>Rare earths</h1>{_PARAGRAPHS}</article><footer>© Wire</footer></body></html>"
)
HTML = {"content-type": "text/html"}


def test_the_same_page_gives_the_same_text_every_time() -> None:
    # trafilatura's deduplicate cache made the fourth extraction of a page come out empty.
    texts = [extract_main_text(PAGE.encode(), HTML, "https://example.com/a") for _ in range(6)]
    assert texts[0].count("\n") == 6  # the heading and six paragraphs
    assert "Paragraph 5: Beijing" in texts[0]
    assert texts == [texts[0]] * 6


_WORDS = "Zölle auf Seltene Erden – 稀土"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (codecs.BOM_UTF8 + _WORDS.encode("utf-8"), "text/html; charset=iso-8859-1"),
        (codecs.BOM_UTF8 + _WORDS.encode("utf-8"), "text/html"),
        (codecs.BOM_UTF16_LE + _WORDS.encode("utf-16-le"), "text/html; charset=utf-8"),
        (codecs.BOM_UTF16_BE + _WORDS.encode("utf-16-be"), "text/html; charset=windows-1252"),
        (_WORDS.encode("utf-8"), "text/html; charset=utf-8"),  # no BOM: the header decides
    ],
    ids=["utf8-bom-latin1-header", "utf8-bom-no-charset", "utf16le-bom-utf8-header",
         "utf16be-bom-cp1252-header", "no-bom"],
)
def test_a_byte_order_mark_wins_over_the_header_charset(body: bytes, content_type: str) -> None:
    assert decode_page(body, {"content-type": content_type}) == _WORDS


def test_without_bom_or_charset_the_bytes_go_to_trafilatura() -> None:
    body = _WORDS.encode("utf-8")
    assert decode_page(body, HTML) == body


def test_bom_page_extracts_the_right_characters() -> None:
    page = PAGE.replace("Rare earths", _WORDS).replace("Beijing", "Zölle")
    body = codecs.BOM_UTF8 + page.encode("utf-8")
    text = extract_main_text(body, {"content-type": "text/html; charset=iso-8859-1"}, "")
    assert "Zölle restricted" in text and "Ã" not in text
