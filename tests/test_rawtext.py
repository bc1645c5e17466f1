"""Pre-split sentences back to raw text, with gold character spans (bench/raw_text.py)."""

from fusion.evaluation.raw_text import cut_differences, detokenise, gold_spans, paragraph, span_scores
from fusion.text.segmentation import split_sentences


def test_detokenise_attaches_punctuation_and_keeps_entity_spans():
    raw = detokenise(["Tim", "Cook", "(", "Apple", ")", "visited", "Paris", "."],
                     ["B-PER", "I-PER", "O", "B-ORG", "O", "O", "B-LOC", "O"], "en")
    assert raw.text == "Tim Cook (Apple) visited Paris."
    assert [(raw.text[a:b], kind) for a, b, kind in raw.entities] == [
        ("Tim Cook", "PER"), ("Apple", "ORG"), ("Paris", "LOC")]
    assert all(raw.text[a:b] == token for (a, b), token in
               zip(raw.tokens, ["Tim", "Cook", "(", "Apple", ")", "visited", "Paris", "."]))


def test_a_taggers_tags_on_the_gold_words_become_character_spans_under_strict_iob2():
    raw = detokenise(["Tim", "Cook", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"], "en")
    predicted = ["B-ORG", "I-ORG", "I-LOC", "O", "B-LOC"]  # an I- after O starts no entity
    assert [(raw.text[a:b], kind) for a, b, kind in raw.spans_of(predicted)] == [("Tim Cook", "ORG"), (".", "LOC")]


def test_chinese_has_no_spaces_and_tokens_keep_their_characters():
    raw = detokenise(["北", "京", "#", "Cotton", "''"], ["B-LOC", "I-LOC", "O", "B-ORG", "O"], "zh")
    assert raw.text == "北京#Cotton''"
    assert [(raw.text[a:b], kind) for a, b, kind in raw.entities] == [("北京", "LOC"), ("Cotton", "ORG")]


def test_paragraph_joins_fragments_with_line_breaks_and_shifts_spans():
    first = detokenise(["Paris", "is", "big", "."], ["B-LOC", "O", "O", "O"], "en")
    title = detokenise(["Hotel", "Ritz"], ["B-ORG", "I-ORG"], "en")
    last = detokenise(["Rome", "too", "."], ["B-LOC", "O", "O"], "en")
    joined = paragraph([first, title, last], "en")
    assert joined.text == "Paris is big. Hotel Ritz\nRome too."
    assert [joined.text[a:b] for a, b, _ in joined.entities] == ["Paris", "Hotel Ritz", "Rome"]
    assert [joined.text[a:b] for a, b in joined.parts] == ["Paris is big.", "Hotel Ritz", "Rome too."]


def test_cut_differences_name_merged_ends_and_cuts_inside_a_sentence():
    sentences = [detokenise(["He", "met", "Pope", "Leo", "X", "."], ["O"] * 6, "sw"),
                 detokenise(["Baraza", "la", "Usalama", "."], ["O"] * 4, "sw"),
                 detokenise(["Dk", ".", "Juma", "alikuja", "."], ["O"] * 5, "sw")]
    joined = paragraph(sentences, "sw")
    alone = [split_sentences(s.text, "sw") for s in sentences]
    assert cut_differences(joined, split_sentences(joined.text, "sw"), alone) == ([], [])
    # a splitter that merged the first two sentences and cut after "Dk."
    first, second, third = joined.parts
    found = [(first[0], second[1]), (third[0], third[0] + 3), (third[0] + 4, third[1])]
    assert cut_differences(joined, found, alone) == ([first[1]], [third[0] + 3])


def test_gold_spans_are_strict_and_span_scores_count_exact_matches():
    assert gold_spans(["B-PER", "I-PER", "O", "I-LOC", "B-ORG"]) == [(0, 2, "PER"), (4, 5, "ORG")]
    gold = [[(0, 8, "PER"), (13, 18, "LOC")]]
    scores = span_scores(gold, [[(0, 8, "PER"), (13, 17, "LOC"), (20, 25, "ORG")]])
    assert (scores["gold"], scores["predicted"]) == (2, 3)
    assert abs(scores["precision"] - 1 / 3) < 1e-9 and scores["recall"] == 0.5
    assert span_scores([[]], [[]])["f1"] == 0.0

