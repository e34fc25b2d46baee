"""Watches and headlines in many languages, through ``wirewatch match``, as a reader expects.

Each row: language, query, headline, whether a native reader expects an alert. The English
rows pin what the README promises; the other rows are the issue-19 cases (unspaced scripts,
Korean particles, inflection, accents, Turkish i, Greek tonos, Arabic marks, symbols).
"""

from __future__ import annotations

import argparse

import pytest

from bot.cli.match import add_match_arguments, run_match

TABLE: list[tuple[str, str, str, bool]] = [
    # English: the README's rules stay exactly as they were
    ("en", '"rare earths" OR tariffs OR Xi OR Bessent', "China curbs rare-earth exports", True),
    ("en", "tariffs", "The tariff’s bite", True),
    ("en", "Xi", "Xiʼs visit to Paris", True),
    ("en", "Xi", "Taxi drivers strike in Beijing", False),
    ("en", "Xi", "Xinjiang cotton ban widens", False),
    ("en", "Mars", "Trump returns to Mar-a-Lago", False),
    ("en", "Mars", "LONDON, Mar 3 (Reuters) - Stocks fell", False),
    ("en", "Mars", "NASA delays Mars sample return", True),
    ("en", "crisis", "Two crises at once", True),
    ("en", "=US", "Tell us more", False),
    ("en", '"U.S. tariffs"', "New U.S. tariffs hit steel", True),
    ("en", "/C\\+\\+/", "C++ turns 40", True),
    ("en", "vitamin", "Vitamin C sales soar", True),
    # Chinese
    ("zh", "稀土", "中国限制稀土出口", True),
    ("zh", "关税", "美国宣布对华加征关税", True),
    ("zh", "Trump", "美国总统Trump表示将提高关税", True),
    ("zh", "中国", "发展中国家呼吁减免债务", False),
    ("zh", "出口", "中国限制稀土出口", True),
    # Japanese
    ("ja", "関税", "米国が関税を引き上げ", True),
    ("ja", "トランプ", "トランプ大統領は関税を発表した", True),
    ("ja", "日銀", "日銀が利上げを決定", True),
    ("ja", "東京", "東京株式市場で日経平均が反落", True),
    # Korean
    ("ko", "관세", "미국이 관세를 부과했다", True),
    ("ko", "관세", "관세가 오른다", True),
    ("ko", "반도체", "반도체 수출이 급증했다", True),
    ("ko", "한국은행", "한국은행은 기준금리를 동결했다", True),
    ("ko", "관세", "관세청 발표", False),
    # Thai
    ("th", "ภาษี", "สหรัฐขึ้นภาษีนำเข้าจีน", True),
    ("th", "จีน", "สหรัฐขึ้นภาษีนำเข้าจีน", True),
    ("th", "ทองคำ", "ราคาทองคำพุ่งสูงสุดเป็นประวัติการณ์", True),
    # Russian
    ("ru", "пошлины", "Введение пошлин отложено", True),
    ("ru", "пошлины", "США пригрозили пошлинами", True),
    ("ru", "Путин", "Путину доложили о переговорах", True),
    ("ru", "нефть", "Цены на нефть выросли", True),
    ("ru", "пошлины", "Пошлый анекдот", False),
    # German
    ("de", "Zoll lang:de", "Neue Zölle auf Stahl", True),
    ("de", '"Seltene Erden" lang:de', "China stoppt Export Seltener Erden", True),
    ("de", "Bundesregierung", "Kritik an der BUNDESREGIERUNG wächst", True),
    ("de", "Zölle", "Die Zölle steigen", True),
    ("de", "Zölle", "Trump droht mit neuem Zoll", True),
    # French
    ("fr", "Élysée", "L'ELYSEE dément toute rumeur", True),
    ("fr", "élection", "Les élections législatives anticipées", True),
    ("fr", "=Élysée", "L'ELYSEE dément toute rumeur", False),
    ("fr", "grève lang:fr", "Nouvelles grèves à la SNCF", True),
    # Spanish
    ("es", "arancel lang:es", "Nuevos aranceles al acero", True),
    ("es", "exportación", "Caen las exportaciones de soja", True),
    ("es", "España", "ESPANA gana la Eurocopa", True),
    ("es", "mes lang:es", "Una mesa redonda", False),
    # Turkish
    ("tr", "Istanbul", "İstanbul'da protesto", True),
    ("tr", "İstanbul", "ISTANBUL borsası yükseldi", True),
    ("tr", "gümrük", "Gümrük vergileri artırıldı", True),
    ("tr", "enflasyon lang:tr", "Enflasyonun yükselişi sürüyor", True),
    # Greek
    ("el", "Αθήνα", "ΑΘΗΝΑ: νέα μέτρα για την ακρίβεια", True),
    ("el", "Αθήνα", "Διαδήλωση στην Αθήνα", True),
    ("el", "κυβέρνηση", "Η ΚΥΒΕΡΝΗΣΗ ανακοίνωσε μέτρα", True),
    # Arabic
    ("ar", "السعودية", "السعـودية تعلن خفض الإنتاج", True),
    ("ar", "محمد", "مُحَمَّد بن سلمان يستقبل الرئيس", True),
    ("ar", "السعودية", "وزير الخارجية يزور السعودية", True),
    ("ar", "السعودية", "والسعودية تعلن خفض الإنتاج", True),
    ("ar", "النفط", "ارتفاع أسعار النفط", True),
    # Hindi
    ("hi", "भारत", "भारत ने अमेरिका पर शुल्क लगाया", True),
    ("hi", "चुनाव", "बिहार में चुनावों की तारीख घोषित", True),
    ("hi", "मोदी", "प्रधानमंत्री मोदी ने कहा", True),
    # Vietnamese
    ("vi", "Đà Nẵng", "Bão đổ bộ DA NANG", True),
    ("vi", "thuế", "Mỹ áp thuế đối với hàng Việt Nam", True),
    ("vi", "Việt Nam", "Xuất khẩu của VIỆT NAM tăng mạnh", True),
    # Hebrew
    ("he", "ישראל", "הממשלה בישראל החליטה", True),
    ("he", "ירושלים", "הפגנה גדולה בירושלים", True),
    ("he", "שלום", "שָׁלוֹם עכשיו", True),
]


def _match(query: str, headline: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="wirewatch match")
    add_match_arguments(parser)
    status = run_match(parser.parse_args([query, "--text", headline]))
    out, err = capsys.readouterr()
    assert status in (0, 1), err
    return status, out


@pytest.mark.parametrize(("lang", "query", "headline", "expected"), TABLE)
def test_a_reader_gets_what_they_expect(
    lang: str, query: str, headline: str, expected: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _match(query, headline, capsys)
    assert (status == 0) is expected, out


def test_explain_names_the_language_and_the_form_that_matched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out = _match("Zoll lang:de", "Neue Zölle auf Stahl", capsys)
    assert "language: German (de), from lang:" in out
    assert "'Zölle' <- Zoll" in out
    _, out = _match("пошлины", "США пригрозили пошлинами", capsys)
    assert "language: Russian (ru), detected from the query's words" in out
    assert "'пошлинами' <- пошлины" in out
