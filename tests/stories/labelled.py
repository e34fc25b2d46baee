"""Labelled story sets for the grouper's tests.

``WRITTEN`` is our own text: groups of headlines that tell one story (wire-style updates,
syndicated copies with source suffixes, rewrites) and hard negatives — items about the same
people or things that tell a different event. Each group is a list of (title, feed) in
arrival order; items of different groups must never share a story.

``CORPUS`` names items of ``../shared/corpus/real-news`` by file and entry position only (the
text is third-party and stays outside the repository). Items in one tuple tell one story;
the tuples are different stories.
"""

from __future__ import annotations

Group = tuple[tuple[str, str], ...]

WRITTEN: dict[str, Group] = {
    "fed-raise": (
        ("Fed raises interest rates by a quarter point", "AP"),
        ("UPDATE 1-Fed raises interest rates by quarter point - Reuters", "Reuters"),
        ("Fed raises interest rates by a quarter point | BBC News", "BBC"),
        ("EXCLUSIVE-Fed raises interest rates a quarter point, signals more", "Wire"),
        ("Federal Reserve raises interest rates by quarter point", "Guardian"),
    ),
    "fed-hold": (
        ("Fed holds interest rates steady", "AP"),
        ("Fed holds interest rates steady - Reuters", "Reuters"),
        ("UPDATE 2-Fed keeps interest rates steady as inflation cools", "Wire"),
    ),
    "fed-cut": (("Fed cuts interest rates by half a point", "CNBC"),),
    "quake-3": (
        ("Earthquake kills 3 in northern Japan", "AP"),
        ("Earthquake kills 3 in northern Japan, dozens injured - Reuters", "Reuters"),
    ),
    "quake-30": (("Earthquake kills 30 in northern Japan", "Kyodo"),),
    "ukraine-win": (
        ("Ukraine beats England to reach Euro final", "Sky"),
        ("BREAKING: Ukraine beats England to reach Euro final", "Mirror"),
    ),
    "ukraine-lose": (("Ukraine loses to England, out of Euro final race", "Sun"),),
    "senate-pass": (
        ("Senate passes border security bill", "Politico"),
        ("Senate passes border security bill - The Hill", "The Hill"),
        ("US Senate passes border security bill after long debate", "NYT"),
    ),
    "senate-reject": (("Senate rejects border security bill", "CNN"),),
    "apple-up": (
        ("Apple shares jump after record iPhone sales", "Bloomberg"),
        ("Apple shares jump after record iPhone sales (Reuters)", "Yahoo"),
    ),
    "apple-down": (("Apple shares fall after weak iPhone sales", "FT"),),
    "ceo-resigns": (
        ("Boeing chief executive resigns after safety crisis", "WSJ"),
        ("Boeing chief executive resigns after safety crisis – DW", "DW"),
    ),
    "ceo-named": (("Boeing names new chief executive after safety crisis", "Reuters"),),
    "trade-talks": (
        ("Trump and Xi agree to resume trade talks", "AP"),
        ("Trump, Xi agree to resume trade talks - Reuters", "Reuters"),
        ("UPDATE 3-Trump and Xi agree to resume trade talks at G20 summit", "Wire"),
        ("Trump and Xi agree to resume stalled trade talks | Al Jazeera", "Al Jazeera"),
    ),
    "trade-dinner": (("Trump and Xi to meet for dinner at G20 summit", "Politico"),),
    "wellness-a": (("Fairfax County wellness calendar, Aug. 16-22", "Post"),),
    "wellness-b": (("Fairfax County wellness calendar, Aug. 23-30", "Post"),),
    "wellness-c": (("Loudoun County wellness calendar, Aug. 23-30", "Post"),),
}

# (file, entry position) of the parsed feed; one tuple per story.
CORPUS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("google_news_crawinsight.xml", 41), ("google_news_crawinsight.xml", 46)),
    (("guardian_rssparser.rss", 28), ("guardian_rssparser.rss", 32)),
    (("npr_news.xml", 0), ("nyt_topstories.xml", 11)),
    (("cnn_newspal.xml", 23), ("fox_politics.xml", 7)),
    (("cnbc_newspal.xml", 2), ("fox_politics.xml", 1), ("thehill.xml", 5)),
    (("cnbc_newspal.xml", 11), ("reuters_topnews_feedburner.xml", 4)),
    (("msnbc.xml", 3), ("msnbc.xml", 5), ("msnbc.xml", 8)),
    # Hard negatives: one template, different subjects or weeks; one day's column vs another's;
    # oil over $100 versus over $90; markets halted versus reopened.
    (("washingtonpost_wellness.xml", 5),),
    (("washingtonpost_wellness.xml", 6),),
    (("washingtonpost_wellness.xml", 8),),
    (("washingtonpost_wellness.xml", 9),),
    (("washingtonpost_wellness.xml", 12),),
    (("washingtonpost_wellness.xml", 13),),
    (("washingtonpost_wellness.xml", 14),),
    (("washingtonpost_wellness.xml", 15),),
    (("washingtonpost_wellness.xml", 17),),
    (("washingtonpost_wellness.xml", 18),),
    (("google_news_crawinsight.xml", 6),),
    (("google_news_crawinsight.xml", 42),),
    (("nyt_business.xml", 0),),
    (("nyt_business.xml", 39),),
    (("google_news_crawinsight.xml", 43),),
    (("google_news_crawinsight.xml", 87),),
    (("tpm.atom", 14),),
    (("tpm.atom", 17),),
)
