"""Which sub-word token carries each word's label (fusion/data/alignment.py)."""

import pytest

from fusion.data.alignment import align_labels, word_label_positions
from fusion.model.modeling import IGNORE_INDEX, PANX_LABELS

LABEL2ID = {label: i for i, label in enumerate(PANX_LABELS)}


def test_first_subword_carries_the_label_and_the_rest_are_ignored():
    tokens = ["▁Ang", "ela", "▁Merkel", "▁visit", "ed"]
    word_ids = [0, 0, 1, 2, 2]
    labels = align_labels(tokens, word_ids, ["B-PER", "I-PER", "O"], LABEL2ID)
    assert labels == [LABEL2ID["B-PER"], IGNORE_INDEX, LABEL2ID["I-PER"], LABEL2ID["O"], IGNORE_INDEX]


def test_a_bare_prefix_piece_never_carries_the_label():
    # XLM-R turns each Chinese character into "▁" + the character
    # (docs/METHOD.md, 'The alignment rule')
    tokens = ["▁", "北", "▁", "京", "▁是"]
    word_ids = [0, 0, 1, 1, 2]
    assert word_label_positions(tokens, word_ids) == {0: 1, 1: 3, 2: 4}
    labels = align_labels(tokens, word_ids, ["B-LOC", "I-LOC", "O"], LABEL2ID)
    assert labels == [IGNORE_INDEX, LABEL2ID["B-LOC"], IGNORE_INDEX, LABEL2ID["I-LOC"], LABEL2ID["O"]]


def test_special_tokens_and_a_word_that_is_only_a_bare_piece():
    tokens = ["<s>", "▁", "▁x", "</s>"]
    word_ids = [None, 0, 1, None]
    assert word_label_positions(tokens, word_ids) == {0: 1, 1: 2}


@pytest.mark.slow  # the real tokenizer
def test_alignment_with_the_real_tokenizer_on_chinese(tiny_bert, make_tagger):
    tokenizer = make_tagger(tiny_bert).tokenizer
    words = list("北京大学") + ["Paris"]
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    tokens, word_ids = enc.tokens(), enc.word_ids()
    positions = word_label_positions(tokens, word_ids)
    assert sorted(positions) == list(range(len(words)))
    assert all(tokens[p] != "▁" for p in positions.values())
    assert "▁" in tokens  # the case the rule exists for really occurs


def test_wordpiece_tokenizer_labels_first_piece(tiny_wordpiece, make_tagger):
    tokenizer = make_tagger(tiny_wordpiece).tokenizer
    enc = tokenizer(["visited", "times"], is_split_into_words=True, add_special_tokens=False)
    assert "▁" not in "".join(enc.tokens())  # WordPiece pieces: the rule changes nothing here
    positions = word_label_positions(enc.tokens(), enc.word_ids())
    assert positions == {0: 0, 1: enc.word_ids().index(1)}
