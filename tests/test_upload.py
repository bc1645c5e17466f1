"""Uploads: the encoding is found without asking, and what is not text is named."""

import random

import pytest

from fusion.data.ner import parse_conll_lines
from fusion.data.upload import UploadError, decode_upload

TEXT = "Jürgen\tB-PER\nMüller\tI-PER\nbesuchte\tO\nKöln\tB-LOC\n.\tO\n"


@pytest.mark.parametrize("encoding, how", [("utf-8", "valid UTF-8"), ("utf-8-sig", "byte-order mark"),
                                           ("utf-16", "byte-order mark"), ("utf-32", "byte-order mark")])
def test_unicode_files_are_read_by_their_mark_or_as_utf8(encoding, how):
    decoded = decode_upload("de.conll", TEXT.encode(encoding))
    assert decoded.text == TEXT and decoded.how == how


def test_a_latin1_file_is_detected_and_says_so():
    # long enough for detection to be sure; every umlaut must come back right
    raw = (TEXT * 40).encode("latin-1")
    decoded = decode_upload("de.conll", raw)
    assert decoded.how == "detected" and decoded.text == TEXT * 40
    assert "detected" in decoded.describe()
    sentences = parse_conll_lines(decoded.text.split("\n"), "de.conll")
    assert sentences[0][0][:2] == ["Jürgen", "Müller"]


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
