"""Real-looking news article pages (site furniture included) and hostile pages, for tests.

``news_page`` wraps article paragraphs in what a news site puts around them: a navigation
bar, a cookie banner, a "Most read" sidebar, related links, reader comments and a footer.
The furniture's words are given by the caller, so a test can prove they are not matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

TRUMP_XI = (
    "President Donald Trump spoke with Chinese leader Xi Jinping by telephone on Tuesday, "
    "the first call between the two men since the summer, officials in both capitals said.",
    "The call lasted more than ninety minutes and covered tariffs, export controls on "
    "advanced chips and the flow of fentanyl precursors, according to a White House readout.",
    "Chinese state media described the conversation as candid and constructive, and said "
    "both sides had agreed to keep their trade teams in close contact over the coming weeks.",
    "Treasury Secretary Scott Bessent, who joined the call from Washington, said the talks "
    "had cleared the way for a meeting of negotiators in Geneva next month.",
    "Markets in Asia rose modestly after the news, with the Hang Seng index gaining almost "
    "one percent in early trading on Wednesday as investors bet on a lasting truce.",
    "Analysts cautioned that earlier rounds of talks had produced few agreements that lasted, "
    "and that the question of semiconductor controls remained the hardest to settle.",
)


def news_page(title: str, paragraphs: Sequence[str], *, most_read: Sequence[str] = (),
              related: Sequence[str] = (), comments: Sequence[str] = (),
              site: str = "The Daily Ledger") -> bytes:
    """An HTML5 article page with navigation, cookie banner, sidebar, comments and footer."""
    nav = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>'
                  for s in ("World", "Business", "Politics", "Technology", "Sport", "Opinion"))
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    sidebar = "".join(f'<li><a href="/story/{i}">{escape(t)}</a></li>'
                      for i, t in enumerate(most_read))
    more = "".join(f'<li><a href="/related/{i}">{escape(t)}</a></li>'
                   for i, t in enumerate(related))
    talk = "".join(f'<div class="comment"><span class="author">reader{i}</span>'
                   f"<p>{escape(c)}</p></div>" for i, c in enumerate(comments))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {site}</title>
<meta property="og:title" content="{escape(title)}"><script>window.ads = [];</script></head>
<body>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies to personalise content and
ads and to analyse our traffic. By continuing you agree to our cookie policy.</p>
<button>Accept all cookies</button><button>Manage preferences</button></div>
<header class="site-header"><a class="logo" href="/">{site}</a>
<nav class="main-nav"><ul>{nav}</ul></nav><form class="search"><input name="q"></form>
</header>
<main><article class="story">
<h1 class="headline">{escape(title)}</h1>
<div class="byline">By Jane Reporter, Washington · 2 hours ago</div>
<div class="story-body">{body}</div>
<section class="related"><h2>Related stories</h2><ul>{more}</ul></section>
</article>
<section id="comments" class="comments"><h2>Comments</h2>{talk}</section>
</main>
<aside class="sidebar most-read"><h2>Most read</h2><ol>{sidebar}</ol></aside>
<footer class="site-footer"><ul><li><a href="/about">About us</a></li>
<li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li></ul>
<p>© 2026 {site}. All rights reserved.</p></footer>
</body></html>""".encode()


def deeply_nested(depth: int = 200_000) -> bytes:
    """A page of ``depth`` nested divs around one sentence."""
    return (b"<html><body>" + b"<div>" * depth + b"<p>deep inside</p>" + b"</div>" * depth
            + b"</body></html>")


def huge_page(paragraphs: int = 20_000) -> bytes:
    """A valid page of many paragraphs, just under 3 MiB."""
    line = b"<p>" + b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 2 + b"</p>\n"
    count = min(paragraphs, (3 * 1024 * 1024 - 200) // len(line))
    return b"<html><body><article>" + line * count + b"</article></body></html>"
