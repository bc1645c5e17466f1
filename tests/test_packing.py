"""Packing several sequences into one row changes nothing a sequence gets (fusion/model/packing.py)."""

import pytest
import torch

from fusion.data.alignment import word_label_positions
from fusion.model.packing import pack_batch, pack_rows
from fusion.probing.probes import CountingEncoder
from fusion.tagging.predict import predict, word_outputs


def test_rows_hold_whole_sequences_longest_first_within_capacity():
    lengths = [3, 9, 4, 5, 2, 10]
    rows = pack_rows(lengths, 10)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 10 for row in rows)
    assert len(rows) == 4  # 10 | 9 | 5 + 4 | 3 + 2: the fewest rows 33 tokens fit in
    assert pack_rows([12, 3], 10) == [[0], [1]]  # too long for the capacity: a row of its own


def test_packed_batch_places_positions_and_mask():
    batch = pack_batch([[5, 6, 7, 8], [1, 2], [3]], pad_id=0)
    assert batch.input_ids.shape == (2, 4)  # rows as long as the longest sequence: 4 | 2 + 1
    for index, sequence in enumerate([[5, 6, 7, 8], [1, 2], [3]]):
        row, column = batch.places[index]
        assert batch.input_ids[row, column:column + len(sequence)].tolist() == sequence
        assert batch.positions[row, column:column + len(sequence)].tolist() == list(range(len(sequence)))
    bias = batch.attention_bias(torch.float32)
    row, column = batch.places[1]
    other_row, other_column = batch.places[2]
    assert row == other_row  # 2 + 1 tokens fit beside nothing else but each other
    assert bias[row, 0, column, column + 1] == 0  # within a sequence
    assert bias[row, 0, column, other_column] < -1e30  # across sequences


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_xlmr"])  # XLM-R: positions after the pad index
def test_a_word_gets_the_same_outputs_packed_as_alone(encoder, request, make_tagger):
    for fusion_layer in (None, 1):
        tagger = make_tagger(request.getfixturevalue(encoder), fusion_layer=fusion_layer)
        sentences = [["Maria", "Lopez", "flew", "to", "Nairobi", "with", "the", "World", "Bank", "."],
                     ["Paris"], ["Hi", "there"], ["Siemens", "and", "Ford"]]
        together = word_outputs(tagger.tokenizer, sentences, tagger.packed_logits, 510)
        padded_rows = word_outputs(tagger.tokenizer, sentences, tagger.packed_logits, 510, pack=False)
        assert all(torch.allclose(a[0], b[0], atol=1e-5) for a, b in zip(together, padded_rows))
        for sentence, packed in zip(sentences, together):
            alone = word_outputs(tagger.tokenizer, [sentence], tagger.packed_logits, 510)[0]
            assert torch.allclose(packed[0], alone[0], atol=1e-5)
        # and the same as the tagger's ordinary padded forward pass, one sentence at a time
        ids = tagger.tokenizer(sentences[0], is_split_into_words=True)["input_ids"]
        with torch.no_grad():
            padded = tagger(torch.tensor([ids]), torch.ones((1, len(ids)), dtype=torch.long)).logits[0]
        enc = tagger.tokenizer(sentences[0], is_split_into_words=True, add_special_tokens=False)
        positions = word_label_positions(enc.tokens(), enc.word_ids())
        read = [1 + positions[w] for w in range(len(sentences[0]))]  # 1: the opening special token
        assert torch.allclose(together[0][0], padded[read], atol=1e-5)


def test_packing_leaves_tags_and_layer_features_unchanged(tiny_bert, make_tagger):
    tagger = make_tagger(tiny_bert, fusion_layer=1)
    texts = ["Maria Lopez flew to Nairobi.", "Paris.", "Angela Merkel met Emmanuel Macron in Berlin today."]
    together = predict(tagger, texts)
    for text, packed in zip(texts, together):
        alone = predict(tagger, [text])[0]
        assert [(w.text, w.tag) for w in packed.words] == [(w.text, w.tag) for w in alone.words]
    counting = CountingEncoder(tagger.encoder)
    words = [["a", "b", "c", "d", "e"], ["f"], ["g", "h"]]
    stacked = word_outputs(tagger.tokenizer, words, counting, 510)
    assert counting.calls == 1
    for sentence, features in zip(words, stacked):
        assert torch.allclose(features[0].float(),
                              word_outputs(tagger.tokenizer, [sentence], counting, 510)[0][0].float(), atol=1e-2)
