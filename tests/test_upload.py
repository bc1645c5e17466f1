"""Uploads: the encoding is found (or guessed, and said so) or picked, what is not text is named,
and a layout on which every model would score 0 is undone or named."""

import random

import pytest

from fusion.data.ner import DataFormatError, parse_conll_lines
from fusion.data.upload import (ENCODINGS, UploadError, check_columns, decode_upload, read_sentences,
                                strip_language_prefix)

TEXT = "Jürgen\tB-PER\nMüller\tI-PER\nbesuchte\tO\nKöln\tB-LOC\n.\tO\n"


@pytest.mark.parametrize("encoding, how", [("utf-8", "valid UTF-8"), ("utf-8-sig", "byte-order mark"),
                                           ("utf-16", "byte-order mark"), ("utf-32", "byte-order mark")])
def test_unicode_files_are_read_by_their_mark_or_as_utf8(encoding, how):
    decoded = decode_upload("de.conll", TEXT.encode(encoding))
    assert decoded.text == TEXT and decoded.how == how


def test_a_latin1_file_is_guessed_and_says_so():
    # long enough for detection to be sure; every umlaut must come back right
    raw = (TEXT * 40).encode("latin-1")
    decoded = decode_upload("de.conll", raw)
    assert decoded.how == "guessed" and decoded.guessed and decoded.text == TEXT * 40
    assert decoded.describe() == "cp1252 (guessed)"
    sentences = parse_conll_lines(decoded.text.split("\n"), "de.conll")
    assert sentences[0][0][:2] == ["Jürgen", "Müller"]


SPANISH = "José\tB-PER\nMuñoz\tI-PER\nvive\tO\nen\tO\nEspaña\tB-LOC\n.\tO\n\n"
GERMAN = "Thomas\tB-PER\nMüller\tI-PER\nspielt\tO\nin\tO\nMünchen\tB-LOC\n.\tO\n\n"


@pytest.mark.parametrize("copies", [1, 30])
def test_latin1_spanish_and_german_read_as_cp1252_not_a_rarer_code_page(copies):
    """The detector calls both cp1250 (Spanish then reads "Muńoz ... Espańa"): among close
    single-byte code pages that read a file equally well, the most common one wins."""
    spanish = decode_upload("es.conll", (SPANISH * copies).encode("latin-1"))
    assert spanish.text == SPANISH * copies and spanish.encoding == "cp1252" and spanish.guessed
    assert "cp1250" in spanish.others  # the guess names what else would read it ...
    assert spanish.sample_words()[:2] == ["Muñoz", "España"]  # ... and the words that tell them apart
    german = decode_upload("de.conll", (GERMAN * copies).encode("latin-1"))
    assert "Müller" in german.text and german.encoding == "cp1252"


def test_a_close_code_page_still_wins_when_its_letters_say_so():
    polish = "Łódź\tB-LOC\nleży\tO\nniedaleko\tO\nWrocławia\tB-LOC\n.\tO\n\nZażółć\tO\ngęślą\tO\njaźń\tO\n\n"
    decoded = decode_upload("pl.conll", (polish * 5).encode("cp1250"))
    assert decoded.encoding == "cp1250" and decoded.text == polish * 5  # not "£ódŸ", "Wroc³awia"


@pytest.mark.parametrize("text, encoding, expected", [
    ("Владимир\tB-PER\nПутин\tI-PER\nпосетил\tO\nМоскву\tB-LOC\n.\tO\n\n"
     "Газета\tO\nИзвестия\tB-ORG\nвышла\tO\nв\tO\nпонедельник\tO\n.\tO\n\n", "cp1251", "cp1251"),
    ("東京\tB-LOC\nに\tO\n住む\tO\n山田\tB-PER\n太郎\tI-PER\nは\tO\n会社員\tO\nです\tO\n。\tO\n\n"
     "大阪\tB-LOC\nの\tO\nトヨタ\tB-ORG\n自動車\tI-ORG\nで\tO\n働く\tO\n。\tO\n\n", "shift_jis", "cp932"),
])
def test_cyrillic_and_japanese_files_still_read_right(text, encoding, expected):
    # one token a line looks like noise to the detector: it is shown sentences as prose
    for copies in (1, 20):
        decoded = decode_upload("x.conll", (text * copies).encode(encoding))
        assert decoded.text == text * copies and decoded.encoding == expected and decoded.guessed


def test_a_picked_encoding_is_honoured_and_a_wrong_one_is_said():
    raw = SPANISH.encode("latin-1")
    chosen = decode_upload("es.conll", raw, "cp1250")  # the user's word, even when it reads worse
    assert chosen.how == "chosen" and chosen.describe() == "cp1250 (chosen)" and "Muńoz" in chosen.text
    assert decode_upload("es.conll", raw, "latin-1").text == SPANISH
    assert decode_upload("es.conll", raw, "auto").encoding == "cp1252"
    assert decode_upload("es.conll", "\ufeff".encode() + SPANISH.encode(), "utf-8").text == SPANISH
    with pytest.raises(UploadError, match=r"not valid utf-8 \(line 1, byte 3 "):
        decode_upload("es.conll", raw, "utf-8")
    with pytest.raises(UploadError, match="Unknown encoding 'rot13'"):
        decode_upload("es.conll", raw, "rot13")
    assert {"utf-8", "cp1252", "latin-1", "cp1250", "cp1251", "shift_jis", "gb18030", "euc-kr"} <= set(ENCODINGS)
    for encoding in ENCODINGS:  # every one in the menu is a codec
        "a".encode(encoding)


@pytest.mark.parametrize("name, raw, said", [
    ("photo.conll", b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
    ("data.zip", b"PK\x03\x04" + bytes(50), "Unzip it"),
    ("data.tar", b"plain", "archive"),
    ("en_ewt.conllu", b"1\tHello\thello\tINTJ\n", "CoNLL-U"),
    ("noise.txt", bytes(random.Random(0).randrange(256) for _ in range(3000)) + b"\x00\xff", "binary"),
])
def test_what_is_not_a_text_file_is_named(name, raw, said):
    with pytest.raises(UploadError, match=said):
        decode_upload(name, raw)


def test_a_one_column_line_gets_the_whole_message():
    from fusion.data.ner import DataFormatError

    with pytest.raises(DataFormatError) as caught:
        parse_conll_lines(["Paris\tB-LOC", "", "lonely"], "one.conll")
    assert str(caught.value).startswith("one.conll:3: expected a token, then a tab")
    assert "'lonely'" in str(caught.value)  # the line itself, nothing cut


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_every_line_ending_reads_as_lines(ending):
    text = ending.join(["Angela\tB-PER", "Merkel\tI-PER", "", "Paris\tB-LOC", ""])
    decoded = decode_upload("de.conll", text.encode("utf-8"))
    sentences = parse_conll_lines(decoded.lines(), "de.conll")
    assert sentences == [(["Angela", "Merkel"], ["B-PER", "I-PER"]), (["Paris"], ["B-LOC"])]


def test_a_unicode_line_separator_inside_a_token_stays_in_its_line():
    decoded = decode_upload("x.conll", "a\u2028b\tO\n".encode("utf-8"))
    assert decoded.lines() == ["a\u2028b\tO", ""]


# ---- layouts on which every model would score 0 ---------------------------------------------

WIKIANN_RAW = "de:Angela\tB-PER\nde:Merkel\tI-PER\nde:besuchte\tO\nde:Paris\tB-LOC\nde::\tO\n\nde:Die\tO\nde:Zeit\tB-ORG\n"


def _read(text: str, name: str = "mine.tsv"):
    return read_sentences(decode_upload(name, text.encode("utf-8")), name)


def test_wikiann_language_prefixes_are_removed_and_counted():
    read = _read(WIKIANN_RAW)
    assert read.sentences == [(["Angela", "Merkel", "besuchte", "Paris", ":"], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
                              (["Die", "Zeit"], ["O", "B-ORG"])]
    assert (read.prefix.prefixes, read.prefix.tokens, read.prefix.total) == (("de:",), 7, 7)
    assert read.prefix.describe() == "7 of 7 tokens had a language prefix 'de:'; it was removed"
    assert _read(WIKIANN_RAW.replace("de:", "zh-yue:")).prefix.prefixes == ("zh-yue:",)


def test_a_few_tokens_with_a_colon_are_left_alone():
    sentences = [(["http:x", "fr:Paris", "ist", "schön", "de:A", "b", "c", "d", "e", "f"], ["O"] * 10)]
    assert strip_language_prefix(sentences) == (sentences, None)  # 2 of 10: not WikiANN's layout
    assert _read("Paris\tB-LOC\n").prefix is None


@pytest.mark.parametrize("text, said", [
    ("B-PER\tAngela\nI-PER\tMerkel\nO\tbesuchte\nB-LOC\tParis\n", "tags are in the first column"),
    ("1\tAngela\tB-PER\n2\tMerkel\tI-PER\n3\tbesuchte\tO\n\n1\tParis\tB-LOC\n", "first column of mine.tsv holds numbers"),
    ("Angela\tO\nMerkel\tO\n", "no entity tags: every tag is O"),
    ("Angela\tB-PERSON\nMerkel\tI-PERSON\nin\tO\nParis\tB-GPE\n", "PERSON .2 tokens., GPE .1 tokens."),
])
def test_a_layout_that_would_score_0_is_named_not_scored(text, said):
    with pytest.raises(UploadError, match=said):
        _read(text)


def test_tags_first_on_one_line_only_is_the_parsers_error_as_before():
    check_columns(["Angela\tB-PER", "B-PER\tMerkel", "Paris\tB-LOC"], "x")  # no layout: one line
    with pytest.raises(DataFormatError, match="x.tsv:2: tag 'Merkel'"):
        _read("Angela\tB-PER\nB-PER\tMerkel\nParis\tB-LOC\n", "x.tsv")


def test_types_the_models_do_not_tag_are_counted():
    read = _read("Angela\tB-PER\nin\tO\nJuni\tB-DATE\n2020\tI-DATE\nGrüne\tB-MISC\n")
    assert read.other_types == (("DATE", 2), ("MISC", 1))
