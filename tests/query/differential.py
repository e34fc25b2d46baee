"""Random watch rules and news items for the bulk-versus-single differential check.

Used by ``tests/query/test_differential.py`` (bounded) and ``bench/match_differential.py``
(long run). The vocabulary is either real news text (``../shared/corpus/real-news``, read in
place, never copied) or the small bundled one below, written for these tests. Both keep the
most common words (the, of, said, market …) because a prefilter that skips or shares them is
where a bulk matcher goes wrong. Rules mix whole words reused as prefixes (``market*`` next to
``market``), plurals, phrases, NOT, OR, NEAR/n, field scopes, ``=Case`` terms and regexes.

``compare`` checks, for every rule and item, that the bulk matcher over the whole rule set,
the same matcher built over that rule alone, the single-query evaluator and (on a sample)
the slow reference evaluator all decide the same.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.core.errors import ParseError, QueryError
from bot.core.model import Entry
from bot.pipeline.match import (
    CompiledQuery,
    Document,
    WatchMatcher,
    compile_query,
    document_from_mapping,
)
from bot.query.evaluate import DocView, evaluate
from bot.query.reference import reference_matches
from bot.query.segment import has_unspaced
from bot.query.words import tokenize

# Written for these tests (not taken from any feed): news-like sentences rich in common words,
# plural pairs, words that are prefixes of other words, acronyms and possessives.
BUNDLED_SENTENCES = """
The market said on Monday that the price of copper rose for the third week.
Officials of the central bank said markets were calm after the rate decision.
A marketplace for used cars was fined by the regulator, the ministry said.
The party said it would form a government with two smaller parties in the new year.
Part of the report was withheld; parts of it were leaked to the press.
The allies said all of the troops would leave the country by the end of the month.
The county council said the count of votes would take three days.
Analysts said the analysis showed a crisis in the housing market, one of several crises.
Two analyses of the bias in the data found biases in both of the lenses used.
The atlas of the world's aliases lists atlases and every alias the agency used.
The CEO of the company said CEOs were paid too much; the ceo's pay rose.
US officials said the uses of the new tax were unclear and taxes would rise.
President Xi spoke by phone with the US president; taxi drivers in Beijing went on strike.
The economy grew while emerging economies slowed, according to the IMF's report.
What the central bank said about rates was whatever the market wanted to hear.
Rare-earth exports fell as China's curbs on rare earths took effect in the spring.
The army said the arm of the border force was armed and the armies had withdrawn.
News of the series of strikes spread as the species count fell, the government said.
The policy of the police was to report every case; the policies were later changed.
In the U.S. the price of eggs rose 1,000 percent, AT&T said in a statement.
Bitcoin traders said the crypto marketplace was fined by regulators in Binance's case.
The minister's statement on trade, tariffs and the tariff's effect was read in parliament.
Energy prices fell; the energies of the team were spent on the deal, he said.
""".strip().splitlines()
# The same kind of news in the scripts and languages issue 19 covers: unspaced runs, Latin
# words touching Han, particles, inflection, accents and capitals without them, marks.
BUNDLED_WORLD = """
中国限制稀土出口，美国总统Trump表示将对中国加征关税。
发展中国家的稀土出口增加，关税和出口管制成为市场焦点。
米国が関税を引き上げ、トランプ大統領は日本の輸出について発表した。
東京株式市場で日経平均が反落、日銀は利上げを決定した。
미국이 관세를 부과했다. 관세가 오르자 반도체 수출이 급증했다.
한국은행은 기준금리를 동결했고 관세청은 수출 통계를 발표했다.
สหรัฐขึ้นภาษีนำเข้าจีน ราคาทองคำพุ่งสูงสุดเป็นประวัติการณ์
Введение пошлин отложено; США пригрозили пошлинами, цены на нефть выросли.
Путину доложили о переговорах по пошлине на нефть.
China stoppt den Export Seltener Erden; neue Zölle auf Stahl, der Zoll steigt.
Kritik an der BUNDESREGIERUNG wächst, die Bundesregierung plant Zölle.
L'ELYSEE dément toute rumeur; l'Élysée parle des élections et des grèves.
Nuevos aranceles al acero: caen las exportaciones de soja de ESPANA y España.
İstanbul'da protesto; ISTANBUL borsası yükseldi, gümrük vergileri artırıldı.
ΑΘΗΝΑ: νέα μέτρα για την ακρίβεια, διαδήλωση στην Αθήνα, η κυβέρνηση ανακοίνωσε.
السعـودية تعلن خفض الإنتاج؛ مُحَمَّد بن سلمان يستقبل الرئيس والسعودية ترفع أسعار النفط.
भारत ने अमेरिका पर शुल्क लगाया, बिहार में चुनावों की तारीख घोषित, प्रधानमंत्री मोदी ने कहा।
Bão đổ bộ DA NANG; Mỹ áp thuế đối với hàng Việt Nam, xuất khẩu của VIỆT NAM tăng mạnh.
הממשלה בישראל החליטה; הפגנה גדולה בירושלים, שָׁלוֹם עכשיו.
President Xiʼs C++ team said the 10% tariffs on Mar-a-Lago and Mars were a market risk.
""".strip().splitlines()
LANG_OPTIONS = ("de", "fr", "es", "ru", "tr", "el", "ko", "he", "ar", "hi", "en", "zh")
BUNDLED_AUTHORS = ["Jane Doe", "J. Smith", "Reuters Staff", "Ana María López"]
BUNDLED_FEEDS = ["World News", "Markets Wire", "BBC Business", "Local County Herald"]
BUNDLED_TAGS = ["markets", "Market", "politics", "US", "rare earths", "crisis", "the economy"]

FIELD_NAMES = ("title", "summary", "content", "body", "author", "tag", "feed", "link")
_WORD = re.compile(r"\w+(?:['’]\w+)?")
_SEPARATORS = [" ", " ", " ", " ", ", ", ". ", "-", " – ", "’s ", "\n", " <b>", "</b> ", "'", ""]


@dataclass
class Vocabulary:
    """Words as they appear in text (case kept, repeated by frequency) and adjacent pairs."""

    words: list[str]
    pairs: list[tuple[str, str]]
    sentences: list[str]
    items: list[dict[str, object]] = field(default_factory=list)  # real items, when any


def vocabulary_from_sentences(sentences: Sequence[str]) -> Vocabulary:
    """Split ``sentences`` into words (frequency kept) and adjacent word pairs."""
    words: list[str] = []
    pairs: list[tuple[str, str]] = []
    for sentence in sentences:
        if has_unspaced(sentence):  # words as the matcher splits them (稀土, not a sentence)
            tokens = [token.word for token in tokenize(sentence)]
        else:
            tokens = _WORD.findall(sentence)
        words += tokens
        pairs += list(itertools.pairwise(tokens))
    return Vocabulary(words, pairs, list(sentences))


def bundled_vocabulary() -> Vocabulary:
    """The vocabulary written for these tests (English news and the world's scripts)."""
    return vocabulary_from_sentences(BUNDLED_SENTENCES + BUNDLED_WORLD)


def vocabulary_from_entries(entries: Iterable[tuple[Entry, str]]) -> Vocabulary:
    """Real items (entry, feed name) as item mappings, and their sentences as vocabulary."""
    items: list[dict[str, object]] = []
    sentences: list[str] = []
    for entry, feed in entries:
        item = {
            "title": entry.title,
            "summary": entry.summary,
            "content": entry.content,
            "body": entry.body,
            "author": entry.author,
            "tags": list(entry.tags),
            "feed": feed,
            "link": entry.link,
        }
        items.append(item)
        doc = document_from_mapping(item)
        for name in ("title", "summary", "content", "body"):
            sentences += [s for s in re.split(r"(?<=[.!?])\s+|\n", doc.fields.get(name, "")) if s]
    vocab = vocabulary_from_sentences(sentences)
    vocab.items = items
    return vocab


def corpus_entries(directory: object) -> list[tuple[Entry, str]]:
    """Every entry of every parseable feed in the real-news directory (a ``Path``)."""
    from pathlib import Path

    from bot.pipeline.parse import parse_feed

    assert isinstance(directory, Path)
    out: list[tuple[Entry, str]] = []
    headers = {"content-type": "application/xml"}
    for path in sorted(directory.iterdir()):
        if path.name == "SOURCES.txt":
            continue
        try:
            parsed = parse_feed(path.read_bytes(), headers, "https://news.example/feed")
        except ParseError:
            continue
        out += [(entry, parsed.title or path.stem) for entry in parsed.entries]
    return out


def _variant(word: str, rng: random.Random) -> str:
    """The word, or a plural/singular/case variant of it (what users type)."""
    roll = rng.random()
    if roll < 0.15:
        return word + "s"
    if roll < 0.22:
        return word + "es"
    if roll < 0.28 and word.endswith("y"):
        return word[:-1] + "ies"
    if roll < 0.34 and len(word) > 4 and word.endswith("s"):
        return word[:-1]
    if roll < 0.40 and word.endswith("is"):
        return word[:-2] + "es"
    if roll < 0.46:
        return word.upper()
    if roll < 0.52:
        return word.lower()
    return word


class RuleMaker:
    """Random rules over one vocabulary (seeded; frequent words are drawn often)."""

    def __init__(self, vocab: Vocabulary, rng: random.Random) -> None:
        self.vocab = vocab
        self.rng = rng
        counts = Counter(w.casefold() for w in vocab.words)
        self.common = [w for w, _ in counts.most_common(60)]
        self.distinct = sorted(set(vocab.words))

    def word(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            return rng.choice(self.common)
        if roll < 0.7:
            return rng.choice(self.vocab.words)
        return rng.choice(self.distinct)

    def term(self) -> str:
        rng, word = self.rng, self.word()
        roll = rng.random()
        if roll < 0.30:
            return _quote(_variant(word, rng))
        if roll < 0.45:  # a prefix, half the time the whole word itself (market*)
            cut = len(word) if rng.random() < 0.5 else rng.randint(min(3, len(word)), len(word))
            return _quote(word[:cut]) + "*" if word[:cut].isalnum() else _quote(word)
        if roll < 0.55:
            return "=" + _quote(_variant(word, rng))
        if roll < 0.80 and self.vocab.pairs:
            a, b = rng.choice(self.vocab.pairs)
            star = "*" if rng.random() < 0.15 and b.isalnum() else ""
            case = "=" if rng.random() < 0.1 else ""
            if rng.random() < 0.2 and a.isalnum() and b.isalnum() and not star:
                return f"{case}{a}-{_variant(b, rng)}"
            return f'{case}"{a} {_variant(b, rng)}{star}"'
        return _quote(word)

    def leaf(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.55:
            return self.term()
        if roll < 0.72:
            return f"{rng.choice(FIELD_NAMES)}:{self.term()}"
        if roll < 0.85:
            return f"{self.term()} NEAR/{rng.choice((0, 1, 2, 5, 10))} {self.term()}"
        return self.regex()

    def regex(self) -> str:
        rng, word = self.rng, re.escape(self.word())
        scope = rng.choice(("", "", "", "title:", "summary:", "tag:", "body:"))
        pattern = rng.choice((
            f"/\\b{word}\\b/", f"/{word}/i", f"/^{word}/", f"/{word[:3]}[a-z]+s\\b/i",
            f"/{word}$/", "/^$/",
        ))  # fmt: skip
        return scope + pattern

    def rule(self, depth: int = 0) -> str:
        """One random rule (may rarely be invalid; ``compile_rules`` drops those)."""
        rng = self.rng
        if depth == 0 and rng.random() < 0.15:  # a watch language given, not detected
            return f"lang:{rng.choice(LANG_OPTIONS)} {self.rule(1)}"
        roll = rng.random() if depth < 2 else 0.0
        if roll < 0.45:
            return self.leaf()
        if roll < 0.65:
            return " ".join(self.rule(depth + 1) for _ in range(rng.randint(2, 3)))
        if roll < 0.80:
            return " OR ".join(self.rule(depth + 1) for _ in range(rng.randint(2, 3)))
        if roll < 0.88:
            return f"{self.rule(depth + 1)} -{self.leaf()}"
        if roll < 0.94:
            return f"-{self.leaf()}"
        return f"({self.rule(depth + 1)}) NOT ({self.rule(depth + 1)})"


def _quote(word: str) -> str:
    """A bare word the query language reads as itself (else a quoted phrase)."""
    if word.isalnum():
        return word
    return '"' + word.replace('"', "") + '"'


class ItemMaker:
    """Random items: real ones (when the vocabulary has them) and recombined text."""

    def __init__(self, vocab: Vocabulary, rng: random.Random) -> None:
        self.vocab = vocab
        self.rng = rng

    def text(self, words: int) -> str:
        rng, vocab = self.rng, self.vocab
        if rng.random() < 0.5 and vocab.sentences:
            return " ".join(rng.choice(vocab.sentences) for _ in range(rng.randint(1, 3)))
        out = []
        for _ in range(words):
            out += [_variant(rng.choice(vocab.words), rng), rng.choice(_SEPARATORS)]
        return "".join(out)

    def item(self) -> dict[str, object]:
        rng, vocab = self.rng, self.vocab
        if vocab.items and rng.random() < 0.5:
            return rng.choice(vocab.items)
        return {
            "title": self.text(rng.randint(2, 10)),
            "summary": self.text(rng.randint(0, 30)),
            "content": self.text(rng.randint(0, 40)) if rng.random() < 0.3 else "",
            "body": "\n".join(self.text(rng.randint(5, 30)) for _ in range(rng.randint(0, 4))),
            "author": rng.choice([*BUNDLED_AUTHORS, self.text(2)]),
            "tags": [self.text(rng.randint(1, 2)) for _ in range(rng.randint(0, 2))],
            "feed": rng.choice(BUNDLED_FEEDS),
            "link": "https://news.example/" + "-".join(self.text(3).split()[:4]),
        }


def compile_rules(sources: Iterable[str]) -> list[CompiledQuery]:
    """The valid rules of ``sources`` (random NEARs may share no field, for instance)."""
    out = []
    for source in sources:
        try:
            out.append(compile_query(source, semantic=True))  # about: needs no model here
        except QueryError:
            continue
    return out


@dataclass
class Comparison:
    """Decisions compared and the first few disagreements."""

    decisions: int = 0
    mismatches: int = 0
    examples: list[str] = field(default_factory=list)
    matches: int = 0  # decisions that were "matches"
    rules_matching: int = 0  # rules that matched at least one item

    def add(self, other: Comparison) -> None:
        self.decisions += other.decisions
        self.mismatches += other.mismatches
        self.examples += other.examples[: max(0, 10 - len(self.examples))]
        self.matches += other.matches
        self.rules_matching += other.rules_matching


def compare(
    rules: Sequence[CompiledQuery],
    docs: Sequence[Document],
    *,
    alone_every: int = 1,
    reference_every: int = 0,
) -> Comparison:
    """Check every (rule, item) decision of the bulk matcher against the single paths.

    The single-query evaluator decides every pair (one shared, lazily built ``DocView`` per
    item, as ``CompiledQuery.matches`` builds per call). Every ``alone_every``-th item also
    asks a matcher built over each rule by itself (what ``--queries`` does with a one-line
    file; 0: never); with ``reference_every`` > 0 the slow reference decides every n-th pair.
    """
    result = Comparison()
    bulk = WatchMatcher(list(enumerate(rules)))
    singles = [WatchMatcher([(0, rule)]) for rule in rules] if alone_every else []
    count = 0
    matching: set[int] = set()
    for number, doc in enumerate(docs):
        got = set(bulk.match(doc))
        matching |= got
        view = DocView(doc.fields, meaning=doc.meaning)
        alone = alone_every and number % alone_every == 0
        for i, rule in enumerate(rules):
            expected = evaluate(rule.node, view)
            result.matches += expected
            decisions = [i in got]
            if alone:
                decisions.append(bool(singles[i].match(doc)))
            count += 1
            if reference_every and count % reference_every == 0:
                decisions.append(reference_matches(rule.node, doc.fields, doc.meaning))
            result.decisions += 1
            if any(d != expected for d in decisions):
                result.mismatches += 1
                if len(result.examples) < 10:
                    result.examples.append(
                        f"rule {rule.source!r}: single {expected}, bulk/alone/reference"
                        f" {decisions} on {dict(doc.fields)!r:.300}"
                    )
    result.rules_matching = len(matching)
    return result
