"""Text normalisation shared by matching and snippets: HTML to plain text, NFKC, whitespace.

Two forms of a field exist. The *published* form (``html_to_published``, ``published_text``)
is what a reader sees: markup stripped, entities decoded, whitespace collapsed. The *normal*
form (``finish`` of the published form; ``html_to_text``, ``normalize_text``) is what the
matcher reads: NFKC applied, soft hyphens and zero-width characters removed, whitespace
collapsed again. Snippets show the published form (``bot.core.aligned`` maps between them).

Everything here is pure, linear-time and safe on hostile input: the HTML scanner never
recurses and only moves forward (``str.find`` plus anchored regexes of bounded length), so
an unclosed comment, a tag without ``>`` or ten thousand ``<`` cost one pass.

Output conventions (the query language and the snippet maker rely on them):

- Block-level tags (``p``, ``br``, ``div``, ``li``, ``h1``…``h6``, ``tr``…) become a single
  ``"\\n"``; a newline breaks a phrase the way sentence punctuation does. Table cells become a
  space. Inline tags (``b``, ``a``, ``span``…) vanish, so ``rare <b>earths</b>`` reads
  ``rare earths``.
- Raw whitespace in HTML source (including newlines) is insignificant: it becomes one space.
- ``script``, ``style``, ``template``, ``noscript`` and ``iframe`` are dropped with their content.
- Entities are decoded once, after tags are removed (``&lt;b&gt;`` stays the text ``<b>``).
- In the normal form NFKC is applied, then soft hyphens and zero-width characters are removed.
- A tag ends at the first ``>``: a ``>`` inside a quoted attribute value ends it early (rare in
  feed HTML; the price of a guaranteed linear scan).
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = [
    "INVISIBLE", "finish", "html_to_published", "html_to_text", "normalize_query",
    "normalize_text", "published_text",
]

_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "legend", "li", "main", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
})  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_DROP_CONTENT_TAGS = frozenset({"script", "style", "template", "noscript", "iframe"})

# Anchored at a "<": a tag name, a comment, a declaration/CDATA or a processing instruction.
_TAG_START = re.compile(r"<(?:(/?)([A-Za-z][A-Za-z0-9:-]{0,63})|(!--)|(!)|(\?))")
_CLOSE_TAG = {name: re.compile(rf"</{name}\b", re.IGNORECASE) for name in _DROP_CONTENT_TAGS}
# Numeric character references longer than any code point: int() of a 5,000-digit string
# raises in Python >= 3.11, which would crash html.unescape on hostile input.
_HUGE_CHARREF = re.compile(r"&#(?:[xX]0*[0-9a-fA-F]{7,}|0*[0-9]{8,});?")
INVISIBLE = "\u00ad\u200b\u2060\ufeff"  # soft hyphen, zero-width space, word joiner, BOM
_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE))
_SPACE_RUN = re.compile(r"\s+")
_BREAK_RUN = re.compile(r" *\n[ \n]*")
_INLINE_SPACE = re.compile(r"[^\S\n]+")

_BLOCK = "\n"
_CELL = " "


def normalize_text(text: str) -> str:
    """Normalise plain (non-HTML) text: NFKC, drop invisible characters, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return _SPACE_RUN.sub(" ", text).strip()


def published_text(text: str) -> str:
    """Plain (non-HTML) text as a reader sees it: whitespace collapsed to single spaces.

    ``finish(published_text(t)) == normalize_text(t)``.
    """
    return _SPACE_RUN.sub(" ", text).strip()


def html_to_text(html_text: str) -> str:
    """Return the readable text of an HTML fragment, normalised (see the module docstring).

    Block tags become ``"\\n"`` (at most one in a row), all other whitespace a single space.
    Plain text without markup passes through with entities decoded and whitespace collapsed.
    """
    return finish(html_to_published(html_text))


def html_to_published(html_text: str) -> str:
    """The readable text of an HTML fragment as published: ``html_to_text`` without NFKC.

    Markup is stripped and entities decoded as in ``html_to_text``; whitespace is collapsed
    the same way; characters are left as written (``CO₂``, ``™``, full-width punctuation).
    """
    if "<" not in html_text and "&" not in html_text:
        return _collapse(_SPACE_RUN.sub(" ", html_text))
    pieces: list[str] = []
    for kind, value in _scan(html_text):
        if kind == "text":
            pieces.append(_SPACE_RUN.sub(" ", _decode(value)))
        else:
            pieces.append(value)
    return _collapse("".join(pieces))


def finish(published: str) -> str:
    """The normal form of published text: NFKC, invisible characters out, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", published).translate(_INVISIBLE)
    return _collapse(text)


def _collapse(text: str) -> str:
    # \s covers no-break and typographic spaces, tabs and CR. Applied again after NFKC,
    # which turns some characters into spaces ("¨" is " " + a combining diaeresis).
    text = _BREAK_RUN.sub(_BLOCK, _INLINE_SPACE.sub(" ", text))
    return text.strip(" \n")


def _decode(text: str) -> str:
    """Decode entities once, after neutralising numeric references that cannot be code points."""
    if "&" not in text:
        return text
    return html.unescape(_HUGE_CHARREF.sub("\ufffd", text))


def _scan(src: str) -> list[tuple[str, str]]:
    """Split HTML into ("text", raw) and ("sep", separator) pieces in one forward pass."""
    out: list[tuple[str, str]] = []
    pos = 0
    length = len(src)
    while pos < length:
        lt = src.find("<", pos)
        if lt < 0:
            out.append(("text", src[pos:]))
            break
        if lt > pos:
            out.append(("text", src[pos:lt]))
        match = _TAG_START.match(src, lt)
        if match is None:
            # A bare "<" (as in "a < b") is text.
            out.append(("text", "<"))
            pos = lt + 1
            continue
        pos = _skip_markup(src, match, out)
    return out


def _skip_markup(src: str, match: re.Match[str], out: list[tuple[str, str]]) -> int:
    """Consume the markup that starts at ``match``; return the position after it."""
    start = match.start()
    if match.group(3):  # comment: runs to "-->", or to the end when unclosed
        end = src.find("-->", start + 4)
        return len(src) if end < 0 else end + 3
    if match.group(4) and src.startswith("<![CDATA[", start):
        end = src.find("]]>", start + 9)
        stop = len(src) if end < 0 else end
        out.append(("text", html.escape(src[start + 9 : stop], quote=False)))
        return len(src) if end < 0 else end + 3
    close = src.find(">", match.end())
    if close < 0:
        # No ">" anywhere after: nothing further can be a tag, the rest is text.
        out.append(("text", src[start:]))
        return len(src)
    if match.group(4) or match.group(5):
        return close + 1  # <!DOCTYPE …>, <?xml …?>
    closing, name = match.group(1), match.group(2).lower()
    if name in _BLOCK_TAGS:
        out.append(("sep", _BLOCK))
    elif name in _CELL_TAGS:
        out.append(("sep", _CELL))
    if name in _DROP_CONTENT_TAGS and not closing and not src.endswith("/", 0, close):
        end_tag = _CLOSE_TAG[name].search(src, close + 1)
        if end_tag is None:
            return len(src)
        after = src.find(">", end_tag.end())
        return len(src) if after < 0 else after + 1
    return close + 1


def normalize_query(text: str) -> str:
    """What a query's words and regexes get of ``normalize_text``: NFKC, invisibles removed.

    Whitespace is left alone (a regex may mean its spaces). Queries and documents must be
    normalised alike, or a query typed with a soft hyphen or a ligature never matches.
    """
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
