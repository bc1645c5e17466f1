"""fusion.text.languages: every WikiANN language (and Thai) is known; anything else falls back."""

from pathlib import Path

import pytest

from fusion.text.languages import LANGUAGES, UNKNOWN, language_info, language_name, text_direction

WIKIANN = ("af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt "
           "ru sw ta te tl tr ur vi yo zh").split()
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "wikiann"


def test_every_wikiann_language_and_thai_is_described():
    for code in WIKIANN + ["th"]:
        info = language_info(code)
        assert info.code == code
        assert info.name and info.family != UNKNOWN and info.script != UNKNOWN
        assert info.direction in ("ltr", "rtl")
    assert len(WIKIANN) == 39


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared WikiANN data not present")
def test_covers_the_languages_on_disk():
    on_disk = {p.name for p in SHARED.iterdir() if p.is_dir()}
    assert on_disk <= set(LANGUAGES)


def test_right_to_left_languages():
    assert {code for code, info in LANGUAGES.items() if info.direction == "rtl"} == {"ar", "he", "fa", "ur"}


def test_some_facts():
    assert language_info("ja").family == "Japonic"
    assert language_info("hi").script == "Devanagari"
    assert language_info("ru").branch == "Slavic"
    assert language_name("sw") == "Swahili"


@pytest.mark.parametrize("code", ["xx", "", None, 42, "  ", "qqq-Latn", "\x00"])
def test_unknown_codes_fall_back(code):
    info = language_info(code)
    assert info.family == UNKNOWN and info.script == UNKNOWN and info.direction == "ltr"
    assert isinstance(info.name, str) and info.name


@pytest.mark.parametrize("code,expected", [("DE", "de"), (" pt-BR ", "pt"), ("zh_Hans", "zh"), ("he", "he")])
def test_codes_are_normalised(code, expected):
    assert language_info(code).code == expected


@pytest.mark.parametrize("text,direction", [
    ("זה טקסט בעברית", "rtl"), ("هذا نص عربي", "rtl"), ("Hello world", "ltr"), ("", "ltr"),
    ("123 !? 😀", "ltr"), ("北京大学", "ltr"), ("CNN نقلت الخبر من القاهرة", "rtl"),
])
def test_text_direction(text, direction):
    assert text_direction(text) == direction
