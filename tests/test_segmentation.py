"""Sentences and words as the training data has them, offsets into the original string."""

import random

import pytest
import regex

from fusion.segmentation import split_sentences, split_words


def _sentences(text, language="en"):
    return [text[a:b] for a, b in split_sentences(text, language)]


def _words(text, tokenizer=None):
    spans = split_words(text, tokenizer=tokenizer)
    assert all(a < b for a, b in spans) and spans == sorted(spans)
    return [text[a:b] for a, b in spans]


@pytest.mark.parametrize("text,expected", [
    ("Dr. Smith moved to the U.S. in 1990. He met J. R. R. Tolkien there! Was it 3.5 km?",
     ["Dr. Smith moved to the U.S. in 1990.", "He met J. R. R. Tolkien there!", "Was it 3.5 km?"]),
    ("北京是中国的首都。他走了！好吗？", ["北京是中国的首都。", "他走了！", "好吗？"]),
    ("東京は日本の首都です。大阪に行きました。", ["東京は日本の首都です。", "大阪に行きました。"]),
    ("नई दिल्ली भारत की राजधानी है। वह वहाँ गया।", ["नई दिल्ली भारत की राजधानी है।", "वह वहाँ गया।"]),
    ("ذهب أحمد إلى القاهرة. هل رأيته؟ نعم.", ["ذهب أحمد إلى القاهرة.", "هل رأيته؟", "نعم."]),
    ("አዲስ አበባ ትልቅ ከተማ ናት። እኔ እዚያ ነበርኩ።", ["አዲስ አበባ ትልቅ ከተማ ናት።", "እኔ እዚያ ነበርኩ።"]),
    ("กรุงเทพมหานครเป็นเมืองหลวง ประเทศไทยมีประชากรมาก", ["กรุงเทพมหานครเป็นเมืองหลวง", "ประเทศไทยมีประชากรมาก"]),
    ("A heading without a full stop\nThe body. It goes on.",
     ["A heading without a full stop", "The body.", "It goes on."]),
])
def test_sentences_per_script(text, expected):
    assert _sentences(text) == expected


@pytest.mark.parametrize("text", ["", "   \n\t ", "\n\n"])
def test_no_sentences_in_empty_text(text):
    assert split_sentences(text) == []


def test_a_long_quoted_passage_is_cut_at_its_sentence_ends():
    text = '"' + "I came home. " * 200 + '"'
    spans = split_sentences(text)
    assert len(spans) > 1 and all(b - a <= 1_000 for a, b in spans)


def test_a_long_run_without_breaks_stays_one_sentence():
    text = "x" * 50_000
    assert split_sentences(text) == [(0, 50_000)]


@pytest.mark.parametrize("text,expected", [
    ("Санкт-Петербург and U.S. or O'Brien paid 3.5 €.",
     ["Санкт-Петербург", "and", "U.S.", "or", "O'Brien", "paid", "3.5", "€", "."]),
    ("(Paris), «Динамо» and Nasa's team...",
     ["(", "Paris", ")", ",", "«Динамо»", "and", "Nasa's", "team", "..."]),
    ("Inter Miami 🇺🇸 won 👩‍👩‍👧!", ["Inter", "Miami", "🇺🇸", "won", "👩‍👩‍👧", "!"]),
    ("我在北京大学。東京タワー", list("我在北京大学。東京タワー")),
    ("زار أنجيلا ميركل باريس، ثم عادت.", ["زار", "أنجيلا", "ميركل", "باريس،", "ثم", "عادت", "."]),
    ("नई दिल्ली भारत की राजधानी है", "नई दिल्ली भारत की राजधानी है".split()),
    ("می‌خواهم به تهران", ["می‌خواهم", "به", "تهران"]),  # ZWNJ stays inside the word
    ("Paris😀!\x00\x07 Berlin\u200b—Rome", ["Paris", "😀", "!", "Berlin", "—", "Rome"]),
])
def test_words_as_wikiann_has_them(text, expected):
    assert _words(text) == expected


def test_thai_runs_split_at_tokenizer_pieces_never_inside_a_cluster(tiny_bert, make_tagger):
    tokenizer = make_tagger(tiny_bert).tokenizer
    text = "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย์"
    words = _words(text, tokenizer)
    assert len(words) > 1 and "".join(words) == text
    clusters = {m.start() for m in regex.finditer(r"\X", text)}
    assert all(a in clusters for a, _ in split_words(text, tokenizer=tokenizer))


def test_random_text_is_covered_and_never_cut_inside_a_grapheme_cluster():
    rng = random.Random(0)
    alphabet = list("aZ.-'’,«» \n()3🇺🇸👩\u200d👧ไทย์북京\u0301é،؟।") + ["\u0915\u094d\u0937"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        clusters = [m.span() for m in regex.finditer(r"\X", text)]
        # a mark after a space clusters with it; the space still separates words
        starts = {a for a, _ in clusters} | {a + 1 for a, _ in clusters if text[a].isspace()}
        ends = {b for _, b in clusters} | {a + 1 for a, _ in clusters if text[a].isspace()}
        for sentence in split_sentences(text):
            words = split_words(text, *sentence)
            assert all(a in starts and b in ends for a, b in words)
            covered = "".join(text[a:b] for a, b in words)
            visible = "".join(c for c in text[sentence[0]:sentence[1]]
                              if not c.isspace() and c.isprintable() or c == "\u200d")
            assert covered == visible


def test_offsets_of_right_to_left_text_are_logical():
    text = "ذهب أحمد إلى القاهرة. هل رأيته؟"
    for a, b in split_sentences(text):
        for start, end in split_words(text, a, b):
            assert text[start:end].strip() == text[start:end] != ""
