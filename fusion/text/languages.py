"""Language code -> name, family, branch, script and writing direction.

Covers the 39 WikiANN languages of XTREME plus Thai (the 40 of XTREME's NER task). The app uses
it to name languages, group per-language results by family or script, and show right-to-left
text right-to-left. Unknown codes give a record that says "unknown" instead of raising.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    family: str  # top-level family, e.g. "Indo-European"
    branch: str  # the genus inside it, e.g. "Germanic" (= family for isolates)
    script: str  # the script WikiANN's text uses
    direction: str = "ltr"  # "ltr" or "rtl"


UNKNOWN = "Unknown"

_TABLE = [
    # code, name, family, branch, script, direction
    ("af", "Afrikaans", "Indo-European", "Germanic", "Latin", "ltr"),
    ("ar", "Arabic", "Afro-Asiatic", "Semitic", "Arabic", "rtl"),
    ("bg", "Bulgarian", "Indo-European", "Slavic", "Cyrillic", "ltr"),
    ("bn", "Bengali", "Indo-European", "Indo-Aryan", "Bengali", "ltr"),
    ("de", "German", "Indo-European", "Germanic", "Latin", "ltr"),
    ("el", "Greek", "Indo-European", "Hellenic", "Greek", "ltr"),
    ("en", "English", "Indo-European", "Germanic", "Latin", "ltr"),
    ("es", "Spanish", "Indo-European", "Romance", "Latin", "ltr"),
    ("et", "Estonian", "Uralic", "Finnic", "Latin", "ltr"),
    ("eu", "Basque", "Isolate", "Basque", "Latin", "ltr"),
    ("fa", "Persian", "Indo-European", "Iranian", "Arabic", "rtl"),
    ("fi", "Finnish", "Uralic", "Finnic", "Latin", "ltr"),
    ("fr", "French", "Indo-European", "Romance", "Latin", "ltr"),
    ("he", "Hebrew", "Afro-Asiatic", "Semitic", "Hebrew", "rtl"),
    ("hi", "Hindi", "Indo-European", "Indo-Aryan", "Devanagari", "ltr"),
    ("hu", "Hungarian", "Uralic", "Ugric", "Latin", "ltr"),
    ("id", "Indonesian", "Austronesian", "Malayo-Polynesian", "Latin", "ltr"),
    ("it", "Italian", "Indo-European", "Romance", "Latin", "ltr"),
    ("ja", "Japanese", "Japonic", "Japanese", "Kanji + Kana", "ltr"),
    ("jv", "Javanese", "Austronesian", "Malayo-Polynesian", "Latin", "ltr"),
    ("ka", "Georgian", "Kartvelian", "Karto-Zan", "Georgian", "ltr"),
    ("kk", "Kazakh", "Turkic", "Kipchak", "Cyrillic", "ltr"),
    ("ko", "Korean", "Koreanic", "Korean", "Hangul", "ltr"),
    ("ml", "Malayalam", "Dravidian", "South Dravidian", "Malayalam", "ltr"),
    ("mr", "Marathi", "Indo-European", "Indo-Aryan", "Devanagari", "ltr"),
    ("ms", "Malay", "Austronesian", "Malayo-Polynesian", "Latin", "ltr"),
    ("my", "Burmese", "Sino-Tibetan", "Lolo-Burmese", "Myanmar", "ltr"),
    ("nl", "Dutch", "Indo-European", "Germanic", "Latin", "ltr"),
    ("pt", "Portuguese", "Indo-European", "Romance", "Latin", "ltr"),
    ("ru", "Russian", "Indo-European", "Slavic", "Cyrillic", "ltr"),
    ("sw", "Swahili", "Niger-Congo", "Bantu", "Latin", "ltr"),
    ("ta", "Tamil", "Dravidian", "South Dravidian", "Tamil", "ltr"),
    ("te", "Telugu", "Dravidian", "South-Central Dravidian", "Telugu", "ltr"),
    ("th", "Thai", "Kra-Dai", "Tai", "Thai", "ltr"),
    ("tl", "Tagalog", "Austronesian", "Malayo-Polynesian", "Latin", "ltr"),
    ("tr", "Turkish", "Turkic", "Oghuz", "Latin", "ltr"),
    ("ur", "Urdu", "Indo-European", "Indo-Aryan", "Arabic", "rtl"),
    ("vi", "Vietnamese", "Austroasiatic", "Vietic", "Latin", "ltr"),
    ("yo", "Yoruba", "Niger-Congo", "Volta-Niger", "Latin", "ltr"),
    ("zh", "Chinese", "Sino-Tibetan", "Sinitic", "Han", "ltr"),
]

LANGUAGES: dict[str, Language] = {row[0]: Language(*row) for row in _TABLE}


def language_info(code) -> Language:
    """The record for `code` ("de", "DE", "pt-BR" and "zh_Hans" all work); never raises.

    An unknown code gives a record named after the code itself, family and script "Unknown",
    direction "ltr".
    """
    text = str(code).strip() if code is not None else ""
    key = text.lower().replace("_", "-")
    if key in LANGUAGES:
        return LANGUAGES[key]
    base = key.split("-", 1)[0]
    if base in LANGUAGES:
        return LANGUAGES[base]
    return Language(text or "?", text or "unknown language", UNKNOWN, UNKNOWN, UNKNOWN, "ltr")


def language_name(code) -> str:
    return language_info(code).name


def text_direction(text: str) -> str:
    """"rtl" when strong right-to-left letters (Hebrew, Arabic, ...) outnumber left-to-right
    letters in `text`, else "ltr". Digits, punctuation and emoji do not count."""
    rtl = ltr = 0
    for char in str(text):
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            rtl += 1
        elif kind == "L":
            ltr += 1
    return "rtl" if rtl > ltr else "ltr"
