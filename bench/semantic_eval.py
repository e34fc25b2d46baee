"""How well about:"topic" watches do, against keyword watches, on labelled real headlines.

    .venv/bin/python bench/semantic_eval.py          # needs the semantic extra and ../shared
    .venv/bin/python bench/semantic_eval.py --corpus /work/shared/corpus/real-news

Topics: the saved real news feeds in ``../shared/corpus/real-news`` (read in place), labelled
by hand in ``bench/semantic_labels.json`` by a hash of each title (no headline is stored in
this repository): 5 topic watches, with ambiguous items left out of each topic's score.
Each item's title is scored by the production path (``bot.query.semantic`` with the model's
calibration); items are split in two halves by title hash, precision and recall are given
on each half and overall, at the ``broad``, ``normal`` and ``strict`` thresholds, next to
the keyword watch of the same topic.

Across languages: five events, each reported in Chinese, Japanese, Russian, German and
Arabic (``XLING``, written for this bench): how many of its own event's 25 reports each
English about: watch catches, and how many of the 100 others it wrongly catches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.pipeline.embedding import CALIBRATIONS, DEFAULT_MODEL, load_embedder
from bot.pipeline.match import compile_query, document_from_entry
from bot.query.semantic import RIVALS, SENSITIVITIES, Space
from tests.fakes.corpus import real_news_dir
from tests.query.differential import corpus_entries

LABELS = Path(__file__).with_name("semantic_labels.json")
XLING = {
    "China restricts exports of rare metals": [
        "中国宣布限制镓和锗出口，加强对关键矿产的管控",
        "中国、ガリウムとゲルマニウムの輸出を規制　半導体材料に影響",
        "Китай ограничил экспорт галлия и германия",
        "China beschränkt die Ausfuhr von Gallium und Germanium",
        "الصين تفرض قيودا على تصدير الغاليوم والجرمانيوم"],
    "earthquake in Turkey": [
        "土耳其东南部发生7.8级强烈地震，数千人遇难",
        "トルコ南東部でM7.8の大地震　死者数千人に",
        "Мощное землетрясение магнитудой 7,8 произошло на юго-востоке Турции",
        "Schweres Erdbeben der Stärke 7,8 erschüttert den Südosten der Türkei",
        "زلزال بقوة 7.8 درجات يضرب جنوب شرق تركيا ويقتل الآلاف"],
    "European Central Bank raises interest rates": [
        "欧洲央行宣布加息25个基点以抑制通胀",
        "欧州中央銀行が0.25％の利上げを決定　インフレ抑制へ",
        "ЕЦБ повысил ключевую ставку на 25 базисных пунктов",
        "EZB erhöht den Leitzins um 0,25 Prozentpunkte",
        "البنك المركزي الأوروبي يرفع أسعار الفائدة ربع نقطة مئوية"],
    "Apple launches a new iPhone": [
        "苹果发布新款iPhone，搭载更强大的芯片和摄像头",
        "アップル、新型iPhoneを発表　カメラと処理性能を強化",
        "Apple представила новый iPhone с улучшенной камерой",
        "Apple stellt neues iPhone mit besserer Kamera vor",
        "أبل تكشف عن هاتف آيفون الجديد بكاميرا محسنة"],
    "Olympic Games open in Paris": [
        "巴黎奥运会开幕式在塞纳河上举行",
        "パリ五輪が開幕　セーヌ川で開会式",
        "В Париже открылись Олимпийские игры",
        "Olympische Spiele in Paris feierlich eröffnet",
        "افتتاح دورة الألعاب الأولمبية في باريس"],
}


def title_hash(title: str) -> str:
    """The key of ``semantic_labels.json``."""
    return hashlib.sha1(" ".join(title.split()).casefold().encode()).hexdigest()[:12]  # noqa: S324


def prf(pairs: list[tuple[bool, bool]]) -> tuple[float, float]:
    """Precision and recall of (predicted, gold) pairs (1.0 when undefined)."""
    tp = sum(1 for p, g in pairs if p and g)
    fp = sum(1 for p, g in pairs if p and not g)
    fn = sum(1 for p, g in pairs if g and not p)
    return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=real_news_dir(),
                        help="the real-news directory (default ../shared/corpus/real-news)")
    news = parser.parse_args().corpus
    if news is None or not news.is_dir():
        sys.exit("no real-news corpus: give --corpus")
    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    universe = set(labels["universe"])
    seen: dict[str, tuple[str, object]] = {}
    for entry, feed in corpus_entries(news):
        key = title_hash(entry.title)
        if key in universe and key not in seen:
            seen[key] = (entry.title, document_from_entry(entry, feed))
    keys = sorted(seen)
    model = load_embedder(DEFAULT_MODEL)
    space = Space(model.name, tuple(tuple(v) for v in model.embed(RIVALS, query=True)),
                  CALIBRATIONS[model.name])
    topics = labels["topics"]
    for spec, vector in zip(topics.values(), model.embed([t["about"] for t in topics.values()],
                                                         query=True), strict=True):
        space.add_topic(spec["about"], vector)
    started = time.process_time()
    vectors = model.embed([seen[k][0] for k in keys], query=False)
    cpu = time.process_time() - started
    meanings = {k: space.meaning(v) for k, v in zip(keys, vectors, strict=True)}
    print(f"{len(keys)} labelled headlines, model {model.name}: "
          f"{len(keys) / cpu:.0f} headlines per CPU-second")
    halves = {"half A": [k for k in keys if int(k, 16) % 2 == 0],
              "half B": [k for k in keys if int(k, 16) % 2 == 1], "all": keys}
    totals: dict[str, list[tuple[float, float]]] = {}
    for name, spec in topics.items():
        pos, amb = set(spec["pos"]), set(spec["amb"])
        query = compile_query(spec["keywords"], semantic=True)
        row = [f"{name:<12}"]
        for half, members in halves.items():
            scored = [k for k in members if k not in amb]
            for level in ("normal",):
                p, r = prf([((meanings[k].score(spec["about"]) or 0) >= SENSITIVITIES[level],
                             k in pos) for k in scored])
                row.append(f"{half} about P {p:.2f} R {r:.2f}")
                totals.setdefault(f"{half} about", []).append((p, r))
            p, r = prf([(query.matches(seen[k][1]), k in pos) for k in scored])  # type: ignore[arg-type]
            row.append(f"keywords P {p:.2f} R {r:.2f}")
            totals.setdefault(f"{half} keywords", []).append((p, r))
        print(" | ".join(row))
    print("macro: " + " | ".join(
        f"{what} P {sum(p for p, _ in v) / len(v):.2f} R {sum(r for _, r in v) / len(v):.2f}"
        for what, v in totals.items()))
    xling(model, space)


def xling(model: object, space: Space) -> None:
    """Each English event watch against the 25 reports in five languages."""
    embed = model.embed  # type: ignore[attr-defined]
    for topic, vector in zip(XLING, embed(list(XLING), query=True), strict=True):
        space.add_topic(topic, vector)
    reports = [(topic, text) for topic, texts in XLING.items() for text in texts]
    vectors = embed([text for _, text in reports], query=False)
    for level, threshold in SENSITIVITIES.items():
        own = other = 0
        for (event, _), vector in zip(reports, vectors, strict=True):
            meaning = space.meaning(vector)
            for topic in XLING:
                hit = (meaning.score(topic) or 0) >= threshold
                own += hit and topic == event
                other += hit and topic != event
        print(f"across languages at {level}: own event {own}/25, other events {other}/100")


if __name__ == "__main__":
    main()
