"""Classifying sentence pairs with a `PairClassifier` (fusion/model/pairs.py): the pair template,
the length bound, batches by length, class probabilities. Training, scoring and the app all call
these, so a pair is encoded one way everywhere."""

from __future__ import annotations

import torch

from fusion.model.packing import pack_batch

MAX_PAIR_TOKENS = 256  # tokens of a pair with its template; XNLI's longest English pair has ~150


def encode_pairs(classifier, pairs: list[tuple[str, str]]) -> tuple[list[list[int]], int]:
    """Token ids of each (first, second) pair through the tokenizer's pair template, at most
    MAX_PAIR_TOKENS (the longer sentence is cut first); returns (ids, how many pairs were cut), so
    that a cut is counted and said, never silent."""
    firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
    full = classifier.tokenizer(firsts, seconds)["input_ids"]
    cut = sum(len(ids) > MAX_PAIR_TOKENS for ids in full)
    if not cut:
        return full, 0
    bounded = classifier.tokenizer(firsts, seconds, truncation="longest_first", max_length=MAX_PAIR_TOKENS)
    return bounded["input_ids"], cut


@torch.no_grad()
def pair_probabilities(classifier, ids: list[list[int]], batch_size: int = 32) -> torch.Tensor:
    """len(ids) × n_labels class probabilities of encoded pairs, in eval mode. Pairs of similar
    length are packed into rows (fusion/model/packing.py), and a classifier with an ONNX Runtime
    forward attached runs through it, as Compare's taggers do."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    device = next(classifier.parameters()).device
    pad_id = classifier.tokenizer.pad_token_id if classifier.tokenizer.pad_token_id is not None else 0
    result = torch.zeros(len(ids), len(classifier.config.labels))
    classifier.eval()
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = pack_batch([ids[i] for i in rows], pad_id).to(device)
        logits = classifier.packed_logits(batch)  # rows × slots × labels
        picked = torch.stack([logits[row, batch.segments[row, column]] for row, column in batch.places])
        result[rows] = picked.float().softmax(-1).cpu()
    return result


def classify_pairs(classifier, pairs: list[tuple[str, str]], batch_size: int = 32) -> tuple[list[int], torch.Tensor, int]:
    """(predicted label index per pair, their probabilities, pairs cut to MAX_PAIR_TOKENS)."""
    if not pairs:
        return [], torch.zeros(0, len(classifier.config.labels)), 0
    ids, cut = encode_pairs(classifier, pairs)
    probabilities = pair_probabilities(classifier, ids, batch_size)
    return probabilities.argmax(-1).tolist(), probabilities, cut
