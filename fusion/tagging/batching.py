"""Windows and batches of token ids, shared by training, prediction and evaluation.

A sequence longer than the encoder's positions is covered by overlapping windows, each framed by
the tokenizer's special tokens; a token takes its prediction from the window in which it sits
farthest from an edge. Batches group sequences of similar length, so little of them is padding;
prediction and evaluation also pack short ones together within a batch (fusion/model/packing.py).
"""

from __future__ import annotations

import random

import torch

from fusion.model.modeling import IGNORE_INDEX, TokenTagger

WINDOW_OVERLAP = 128  # tokens shared by neighbouring windows of a long text


# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------

def frame_token_ids(tokenizer) -> tuple[int, int]:
    """The ids that open and close every window: CLS/SEP (BERT) or BOS/EOS (XLM-R)."""
    first = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    last = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if first is None or last is None:
        raise ValueError("the tokenizer has no CLS/BOS and SEP/EOS tokens to frame a window with")
    return first, last


def max_window_tokens(tagger: TokenTagger) -> int:
    """Content tokens per window: the encoder's positions less two special tokens."""
    return tagger.window_tokens


def window_spans(n_tokens: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) spans of at most `size` tokens covering n_tokens, neighbours sharing `overlap`."""
    if n_tokens <= size:
        return [(0, n_tokens)]
    starts = list(range(0, n_tokens - size, max(1, size - overlap))) + [n_tokens - size]
    return [(start, start + size) for start in starts]


def best_window(position: int, spans: list[tuple[int, int]]) -> int:
    """Index of the window where `position` is farthest from an edge (it sees the most context)."""
    return max(range(len(spans)), key=lambda w: min(position - spans[w][0], spans[w][1] - 1 - position)
               if spans[w][0] <= position < spans[w][1] else -1)


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------

def batches_by_length(lengths: list[int], batch_size: int,
                      max_batch_tokens: int | None = None) -> list[list[int]]:
    """Indices sorted by length (stable), cut into batches of ≤ batch_size rows and, when given,
    ≤ max_batch_tokens (rows × longest row): little padding, bounded memory for long sequences."""
    batches, batch = [], []
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        too_many_tokens = max_batch_tokens and (len(batch) + 1) * lengths[index] > max_batch_tokens
        if batch and (len(batch) == batch_size or too_many_tokens):
            batches.append(batch)
            batch = []
        batch.append(index)
    return batches + [batch] if batch else batches


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int,
                           max_batch_tokens: int | None = None) -> list[list[int]]:
    """Shuffle, then sort within pools of 50 batches so each batch holds similar lengths (less
    padding, much faster on the CPU), then shuffle the batches. Deterministic for a seed.

    `max_batch_tokens` (batch rows × longest row) splits batches of long sentences: attention
    memory grows with the square of the length, and one batch of 16 × 512 tokens needs > 10 GB.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for begin in range(0, len(order), pool):
        chunk = order[begin:begin + pool]
        batches += [[chunk[i] for i in batch] for batch in
                    batches_by_length([lengths[i] for i in chunk], batch_size, max_batch_tokens)]
    rng.shuffle(batches)
    return batches


def pad_batch(sequences: list[list[int]], pad_id: int,
              labels: list[list[int]] | None = None) -> dict[str, torch.Tensor]:
    """Right-pad token ids to the longest sequence: `input_ids`, `attention_mask` (1 on real
    tokens) and, when `labels` are given, `labels` (IGNORE_INDEX on padding, so the loss skips it)."""
    shape = (len(sequences), max(len(sequence) for sequence in sequences))
    batch = {"input_ids": torch.full(shape, pad_id, dtype=torch.long),
             "attention_mask": torch.zeros(shape, dtype=torch.long)}
    if labels is not None:
        batch["labels"] = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        batch["input_ids"][row, :len(sequence)] = torch.tensor(sequence)
        batch["attention_mask"][row, :len(sequence)] = 1
        if labels is not None:
            batch["labels"][row, :len(sequence)] = torch.tensor(labels[row])
    return batch
