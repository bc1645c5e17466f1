import pytest
import torch

from fusion.model.modeling import IGNORE_INDEX
from fusion.tagging.batching import (batches_by_length, best_window, length_grouped_batches, pad_batch,
                                     window_spans)

# ---- padding ------------------------------------------------------------------------------

def test_pad_batch_pads_to_the_longest_row_and_masks_the_padding():
    batch = pad_batch([[5, 6, 7], [8]], pad_id=1, labels=[[IGNORE_INDEX, 3, IGNORE_INDEX], [4]])
    assert list(batch) == ["input_ids", "attention_mask", "labels"]
    assert all(tensor.shape == (2, 3) and tensor.dtype == torch.long for tensor in batch.values())
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 3, IGNORE_INDEX], [4, IGNORE_INDEX, IGNORE_INDEX]]


def test_pad_batch_without_labels_gives_only_ids_and_mask():
    batch = pad_batch([[2], [3, 4]], pad_id=0)
    assert list(batch) == ["input_ids", "attention_mask"]
    assert batch["input_ids"].tolist() == [[2, 0], [3, 4]]
    assert batch["attention_mask"].tolist() == [[1, 0], [1, 1]]


# ---- windows ------------------------------------------------------------------------------

def test_a_short_sequence_is_one_window():
    assert window_spans(5, 10, 4) == [(0, 5)]
    assert window_spans(10, 10, 4) == [(0, 10)]


@pytest.mark.parametrize("n_tokens, size, overlap", [(25, 10, 4), (11, 10, 4), (100, 12, 6),
                                                     (37, 8, 0), (50, 9, 1)])
def test_windows_cover_every_token_and_neighbours_share_the_overlap(n_tokens, size, overlap):
    spans = window_spans(n_tokens, size, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == n_tokens
    assert all(end - start == size for start, end in spans)
    for (_, end), (next_start, _) in zip(spans, spans[1:]):
        assert end - next_start >= overlap  # every token near an edge is inside another window
    assert set().union(*(range(start, end) for start, end in spans)) == set(range(n_tokens))


def test_best_window_is_the_one_where_the_token_is_most_central():
    spans = [(0, 10), (6, 16), (12, 22)]
    assert [best_window(p, spans) for p in (0, 7, 9, 13, 15, 21)] == [0, 0, 1, 1, 2, 2]
    for position in range(22):
        chosen = spans[best_window(position, spans)]
        margin = min(position - chosen[0], chosen[1] - 1 - position)
        assert chosen[0] <= position < chosen[1]
        assert margin == max(min(position - s, e - 1 - position) for s, e in spans if s <= position < e)


# ---- batches ------------------------------------------------------------------------------

def test_batches_by_length_sort_stably_and_respect_both_limits():
    assert batches_by_length([3, 1, 2, 1], 2) == [[1, 3], [2, 0]]
    lengths = [10, 300, 10, 300, 10]
    batches = batches_by_length(lengths, 4, max_batch_tokens=512)
    assert batches == [[0, 2, 4], [1], [3]]


def test_length_grouped_batches_cover_every_sentence_once_and_are_deterministic():
    lengths = [5, 50, 7, 9, 48, 3, 12, 40] * 20
    batches = length_grouped_batches(lengths, 8, seed=1)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert batches == length_grouped_batches(lengths, 8, seed=1)
    assert batches != length_grouped_batches(lengths, 8, seed=2)
    spread = max(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread < 47  # batches group similar lengths


def test_length_grouped_batches_keep_their_order_for_a_seed():
    # resuming a run replays an epoch's batches from the seed: their order must never drift
    lengths = [5, 50, 7, 9, 48, 3, 12, 40, 6, 44]
    assert length_grouped_batches(lengths, 3, seed=1) == [[7, 9, 4], [1], [5, 0, 8], [2, 3, 6]]


def test_long_sentences_get_smaller_batches_under_the_token_budget():
    lengths = [10] * 40 + [500] * 8
    batches = length_grouped_batches(lengths, 16, seed=0, max_batch_tokens=2048)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(len(batch) * max(lengths[i] for i in batch) <= 2048 for batch in batches)
    assert max(len(batch) for batch in batches) == 16
