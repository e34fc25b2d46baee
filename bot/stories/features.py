"""What the story grouper compares: a headline (and lead) reduced to stemmed content words.

Pure functions, no state beyond a bounded stem cache. The reduction is deliberately simple
and explainable:

* wire decorations go first: ``UPDATE 2-``, ``EXCLUSIVE-``, ``BREAKING:`` in front, a source
  suffix such as `` - Reuters`` or `` | BBC News`` at the end;
* words are lower-cased, ``U.S.`` becomes ``us``, possessive ``'s`` is dropped, stop words and
  newsroom filler (``says``, ``report``, ``video``) are removed and the rest is Snowball-stemmed,
  so ``raises``/``raised`` and ``rate``/``rates`` agree;
* a word is what the matcher calls a word (``bot.query.words``): letters, digits and
  combining marks, so a Hindi or Thai word is not split at its vowel signs; runs of
  scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) are cut
  into words by ``unspaced_words``, so two identical Chinese headlines share many words;
* numbers are kept apart (``1,000`` → ``1000``): two headlines that both carry numbers must
  share one, because "3 dead" and "30 dead" are different news;
* words that name the direction of an event (raise/hold/cut, win/lose, approve/reject …) are
  collected as "event classes", so "Fed raises rates" and "Fed holds rates" can be told apart
  although they share most words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import regex
import snowballstemmer

from bot.core.text import html_to_text
from bot.core.urls import normalise_link
from bot.query.segment import split_run
from bot.query.words import MARKS

__all__ = ["Features", "canonical_link", "clean_headline", "extract_features", "unspaced_words"]

_STEMMER = snowballstemmer.stemmer("english")

# Leading wire tags; repeated ("UPDATE 1-EXCLUSIVE-…"). The separator is required so a headline
# that merely starts with the word "Live" or "Watch" keeps it.
_PREFIX = re.compile(
    r"^\s*(?:(?:update|refile|corrected|correction|rpt|wrapup|exclusive|breaking(?: news)?|"
    r"analysis|insight|factbox|explainer|live|video|watch|photos?|opinion|just in|urgent|"
    r"developing|breakingviews|column|editorial|podcast|(?:[a-z]+ )?update)"
    r"\s*\d{0,2}\s*(?:[-:–—|]|\s-\s)\s*)+",
    re.IGNORECASE)
# A trailing source: " - Reuters", " | BBC News", " — The Guardian", " (Reuters)".
_SUFFIX = re.compile(r"\s+(?:[-|–—•:]|::)\s+([^-|–—•]{1,60})$|\s*\(([^()]{1,40})\)\s*$")
_SOURCE_WORD = re.compile(r"^(?:[A-Z0-9][\w.&'’!]*|of|the|and|de|la|le|du|news|online|com)$")
_ACRONYM = re.compile(r"\b(?:[a-z]\.){2,}")
_POSSESSIVE = re.compile(r"['’]s\b")
_WORD_CHAR = rf"(?:[^\W_]|[{''.join(re.escape(mark) for mark in sorted(MARKS))}])"
_TOKEN = re.compile(rf"\d+(?:[.,]\d+)*%?(?!{_WORD_CHAR})|{_WORD_CHAR}+")
_UNSPACED_CLASS = (r"[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Thai}\p{scx=Lao}"
                   r"\p{scx=Khmer}\p{scx=Myanmar}]")
_UNSPACED = regex.compile(_UNSPACED_CLASS)
# A run of an unspaced script, with the marks that belong to its letters (Thai vowels).
_UNSPACED_RUN = regex.compile(rf"{_UNSPACED_CLASS}(?:{_UNSPACED_CLASS}|\p{{M}})*")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOP_WORDS = _set("""
    a about above after again against ago all also am amid among an and another any are as at
    back be because been before being below between both but by can could did do does doing
    during each either even ever every few for from further get gets had has have having he
    her here hers him his how however i if in into is it its just like many may me might more
    most much must my near no nor not now of off often on once only or other our out over own
    per same she should since so some still such than that the their them then there these
    they this those through to too under until upon us very was we were what when where
    whether which while who whom whose why will with within without would yet you your
    s t re ve ll d m
    says said say saying tells told report reports reported reportedly according source sources
    new news latest today tonight yesterday week year video watch photos photo live update
    updates breaking exclusive analysis opinion here what's via amid after
    everything need know things thing ways way reasons
""")

# Event words whose classes conflict inside one family. Stems, so "raises"/"raised" match.
_EVENT_FAMILIES: tuple[dict[str, frozenset[str]], ...] = (
    {   # a level or a price moves
        "up": _set("rais rise rose risen hike increas jump soar surg climb gain boost "
                        "up higher rebound ralli spike doubl tripl expand"),
        "down": _set("cut lower fall fell fallen drop declin slip plung tumbl sink sank "
                          "slump down slash reduc shrink contract dip crash halv eas"),
        "flat": _set("hold held keep kept unchang steadi paus flat maintain"),
    },
    {"win": _set("win won beat defeat victori triumph clinch"),
     "lose": _set("lose lost loss concede beaten")},
    {"yes": _set("approv pass back endors accept agre ratifi sign grant confirm "
                      "uphold upheld"),
     "no": _set("reject block veto deni oppos refus overturn strike struck halt "
                     "scrap cancel withdraw")},
    {"open": _set("open launch start begin began resum reopen"),
     "close": _set("close shut end stop suspend")},
    {"join": _set("appoint hire name nomin elect join"),
     "leave": _set("resign quit fire sack oust step leav depart retir")},
    {"guilty": _set("convict guilti sentenc jail"),
     "free": _set("acquit clear releas free innoc")},
    {"dead": _set("die dead death kill"),
     "alive": _set("surviv rescu alive found")},
)


@dataclass(frozen=True, slots=True)
class Features:
    """The comparable part of one item."""

    words: frozenset[str]
    numbers: frozenset[str]
    events: frozenset[str]
    lead: frozenset[str]
    link: str
    feed: str = ""


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def _is_source(segment: str, feed: str) -> bool:
    words = segment.split()
    if not words or len(words) > 5:
        return False
    if feed and segment.strip().lower() == feed.strip().lower():
        return True
    return all(_SOURCE_WORD.match(w) for w in words)


def clean_headline(title: str, feed: str = "") -> str:
    """The headline without wire tags in front and a source name at the end."""
    text = unicodedata.normalize("NFKC", title).strip()
    text = _PREFIX.sub("", text, count=1)
    for _ in range(2):  # "Headline - Reuters (video)" has two suffixes
        match = _SUFFIX.search(text)
        if match is None or match.start() < 12:
            break
        if not _is_source(match.group(1) or match.group(2) or "", feed):
            break
        text = text[:match.start()].rstrip()
    return text


def unspaced_words(run: str) -> list[str]:
    """The words of a run of a script written without spaces (Chinese, Japanese, Thai …), as
    the matcher reads them: ICU's word break (``bot.query.segment``), so story grouping and
    watches agree on what a word is (``中国限制稀土出口`` → ``中国 限制 稀土 出口``)."""
    return [run[start:end] for start, end in split_run(run)]


def _tokens(text: str) -> list[str]:
    lower = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text.lower())
    tokens = _TOKEN.findall(_POSSESSIVE.sub("", lower))
    if text.isascii():
        return tokens
    out: list[str] = []
    for token in tokens:
        if _UNSPACED.search(token) is None:
            out.append(token)
            continue
        pos = 0  # "美国总统trump表示": the Latin word apart, the Han runs cut into words
        for match in _UNSPACED_RUN.finditer(token):
            if match.start() > pos:
                out.append(token[pos : match.start()])
            out.extend(unspaced_words(match.group()))
            pos = match.end()
        if pos < len(token):
            out.append(token[pos:])
    return out


def _number(token: str) -> str:
    return token.replace(",", "")


def _split(tokens: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    words: set[str] = set()
    numbers: set[str] = set()
    for token in tokens:
        if token[0].isdigit():
            numbers.add(_number(token))
        elif _UNSPACED.match(token):
            words.add(token)  # a word of an unspaced script: no English stop word or stem
        elif token not in _STOP_WORDS and len(token) > 1:
            words.add(_stem(token))
    return frozenset(words), frozenset(numbers)


def _events(words: frozenset[str]) -> frozenset[str]:
    found = set()
    for index, family in enumerate(_EVENT_FAMILIES):
        for name, stems in family.items():
            if not words.isdisjoint(stems):
                found.add(f"{index}:{name}")
    return frozenset(found)


def canonical_link(link: str) -> str:
    """The link without scheme, ``www.``, query tracking and trailing slash; ``""`` if none."""
    normal = normalise_link(link)
    if "://" not in normal:
        return ""
    rest = normal.split("://", 1)[1]
    rest = rest.removeprefix("www.").rstrip("/")
    return rest


def extract_features(title: str, summary: str = "", link: str = "", feed: str = "") -> Features:
    """Reduce one item to the features the grouper compares. Pure and deterministic."""
    words, numbers = _split(_tokens(clean_headline(title, feed)))
    lead_text = html_to_text(summary[:2000])[:400] if summary else ""
    lead_words, _ = _split(_tokens(lead_text)) if lead_text else (frozenset(), frozenset())
    return Features(words=words, numbers=numbers, events=_events(words),
                    lead=lead_words, link=canonical_link(link) if link else "",
                    feed=feed.strip().lower())
