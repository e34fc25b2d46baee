"""HTML to text and plain-text normalisation, including hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.text import finish, html_to_published, html_to_text, normalize_text, published_text


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("plain text", "plain text"),
        ("  lots \t of\n\n  space  ", "lots of space"),
        ("rare <b>earths</b>", "rare earths"),
        ("<b>rare</b>earths", "rareearths"),  # inline tags join, as a browser shows them
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("one<br>two<br/>three", "one\ntwo\nthree"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("<h1>Head</h1>Body", "Head\nBody"),
        ("<DIV>Upper</DIV>case", "Upper\ncase"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
        ("x<script>alert('<p>')</script>y", "xy"),
        ("x<SCRIPT type='a'>1 < 2</SCRIPT >y", "xy"),
        ("x<style>p{}</style>y", "xy"),
        ("x<script/>y", "xy"),
        ("x<script>never closed", "x"),
        ("a<!-- hidden <b>x</b> -->b", "ab"),
        ("a<!-- never closed", "a"),
        ("<!DOCTYPE html><?xml version='1.0'?>text", "text"),
        ("<![CDATA[<b>kept</b> &amp;]]>", "<b>kept</b> &amp;"),
        ("AT&amp;T &lt;b&gt; &#8217; &#x2019; &nbsp;end", "AT&T <b> ’ ’ end"),
        ("&#" + "9" * 5000 + ";", "\ufffd"),  # int() of 5,000 digits would raise
        ("a < b and c > d", "a < b and c > d"),
        ("if x <y then", "if x <y then"),  # "<" + letter without ">" is text
        ("ﬁnance ①", "finance 1"),  # NFKC
        ("soft\u00adhyphen zero\u200bwidth", "softhyphen zerowidth"),
        ("no\u00a0break", "no break"),
        ("<p> </p><p>\n</p>x", "x"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_normalize_text() -> None:
    assert normalize_text("  Ｒｅｕｔｅｒｓ\n  World\u200b ") == "Reuters World"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "hostile",
    [
        "<a" * 100_000,
        "<!--" * 100_000,
        "<script>" * 50_000,
        "<p " + "x" * 200_000,
        "&#" * 100_000,
        "<" * 200_000,
        "<![CDATA[" * 50_000,
        "<a href='" * 50_000 + ">",
    ],
)
def test_hostile_input_is_linear(hostile: str) -> None:
    # A quadratic scanner needs ~10^10 steps here; a linear one a few milliseconds.
    out = html_to_text(hostile)
    assert len(out) <= len(hostile)
    assert "<script" not in out  # dropped content never leaks, however malformed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*"<>/!-&#;ab pP\n\t\u00a0", "<p>", "</p>", "<br>", "&nbsp;"])))
def test_output_is_normalised(parts: list[str]) -> None:
    html = "".join(parts)
    out = html_to_text(html)
    assert out == out.strip(" \n")
    assert "  " not in out
    assert "\n\n" not in out
    assert " \n" not in out
    assert "\n " not in out
    assert "\t" not in out


@pytest.mark.parametrize(
    ("html", "published", "normal"),
    [
        ("CO₂ at 10⁶ ppm™", "CO₂ at 10⁶ ppm™", "CO2 at 106 ppmTM"),
        ("<p>稀土出口！</p><p>ＡＢＣ，ok</p>", "稀土出口！\nＡＢＣ，ok", "稀土出口!\nABC,ok"),
        ("soft\u00adhyphen\u00a0 x", "soft\u00adhyphen x", "softhyphen x"),
        ("a \u200b <br> b", "a \u200b\nb", "a\nb"),
        ("plain\nlines", "plain lines", "plain lines"),  # no markup: newlines are spaces
    ],
)
def test_published_form_keeps_characters_as_written(html: str, published: str, normal: str) -> None:
    assert html_to_published(html) == published
    assert finish(published) == normal == html_to_text(html)


def test_plain_published_form() -> None:
    text = "  Ｒｅｕｔｅｒｓ\n  World\u200b "
    assert published_text(text) == "Ｒｅｕｔｅｒｓ World\u200b"
    assert finish(published_text(text)) == normalize_text(text)
