"""Several short sequences in one row of a batch ("packing"), so that a batch of mixed lengths is
not mostly padding.

Many people's Compare requests are tagged together, and their sentences differ in length: padded
to the longest, a batch of eight such texts was 47 % padding (bench/load.py's texts). Packed, a
row holds as many whole sequences as fit in the batch's longest one. Each sequence keeps its own
special tokens, its positions restart at the encoder's first position, and it attends to itself
only (a block-diagonal attention mask), so every token's output is the one it gets alone, up to
float rounding. Rows are never longer than the longest sequence: the linear layers see fewer
padding tokens, and no attention matrix is larger than without packing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PackedBatch:
    input_ids: torch.Tensor  # rows × T
    positions: torch.Tensor  # rows × T: each token's place in its own sequence, from 0
    segments: torch.Tensor  # rows × T: the sequence's index within its row; -1 on padding
    places: list[tuple[int, int]]  # per sequence, in the order given: (row, first column)

    def attention_bias(self, dtype: torch.dtype) -> torch.Tensor:
        return attention_bias(self.segments, dtype)

    def to(self, device) -> PackedBatch:
        return PackedBatch(self.input_ids.to(device), self.positions.to(device), self.segments.to(device),
                           self.places)


def pack_rows(lengths: list[int], capacity: int) -> list[list[int]]:
    """Indices of sequences grouped into rows of ≤ capacity tokens, longest first, each into the
    first row with room (first-fit decreasing); a sequence longer than capacity has a row alone."""
    rows: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        row = next((r for r, free in enumerate(room) if free >= lengths[index]), None)
        if row is None:
            rows.append([])
            room.append(capacity)
            row = len(rows) - 1
        rows[row].append(index)
        room[row] -= lengths[index]
    return rows


def first_position(encoder) -> int:
    """The position id of a sequence's first token: RoBERTa-style encoders count from after the
    padding index, BERT from 0."""
    return first_position_of(encoder.config)


def first_position_of(config) -> int:
    """`first_position` from the encoder's config (a transformers config, or any object with its
    model_type, pad_token_id and max_position_embeddings)."""
    if getattr(config, "model_type", "") in ("xlm-roberta", "roberta"):
        return (config.pad_token_id if config.pad_token_id is not None else 1) + 1
    return 0


def window_tokens(config, tokenizer) -> int:
    """Content tokens per window of an encoder (its config) and tokenizer: the encoder's
    positions less two special tokens."""
    positions = config.max_position_embeddings - first_position_of(config)  # RoBERTa: after the pad index
    limit = min(positions, tokenizer.model_max_length or positions)
    return limit - 2


def pack_batch(sequences: list[list[int]], pad_id: int, pack: bool = True) -> PackedBatch:
    """The sequences (token ids, special tokens included) packed into rows as long as the longest;
    pack=False gives each its own row (a plain padded batch, the reference benches compare with)."""
    lengths = [len(s) for s in sequences]
    rows = pack_rows(lengths, max(lengths)) if pack else [[index] for index in range(len(sequences))]
    width = max(sum(len(sequences[i]) for i in row) for row in rows)
    shape = (len(rows), width)
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    positions = torch.zeros(shape, dtype=torch.long)
    segments = torch.full(shape, -1, dtype=torch.long)
    places: list[tuple[int, int]] = [(0, 0)] * len(sequences)
    for r, row in enumerate(rows):
        column = 0
        for segment, index in enumerate(row):
            n = len(sequences[index])
            input_ids[r, column:column + n] = torch.tensor(sequences[index])
            positions[r, column:column + n] = torch.arange(n)
            segments[r, column:column + n] = segment
            places[index] = (r, column)
            column += n
    return PackedBatch(input_ids, positions, segments, places)


def attention_bias(segments: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """rows × 1 × T × T, added to the attention scores: 0 within a sequence, the dtype's
    lowest value elsewhere (transformers takes such a prepared 4-D mask as it is)."""
    same = (segments.unsqueeze(-1) == segments.unsqueeze(-2)) & (segments >= 0).unsqueeze(-1)
    bias = torch.zeros(same.shape, dtype=dtype, device=segments.device)
    return bias.masked_fill(~same, torch.finfo(dtype).min).unsqueeze(1)


def encode_packed(encoder, batch: PackedBatch, output_hidden_states: bool = False):
    """The encoder's forward pass over a packed batch (each sequence sees only itself)."""
    return encode_embedded(encoder, encoder.get_input_embeddings()(batch.input_ids), batch.positions,
                           batch.segments, output_hidden_states)


def encode_embedded(encoder, word_embeddings: torch.Tensor, positions: torch.Tensor, segments: torch.Tensor,
                    output_hidden_states: bool = False):
    """`encode_packed` from the rows' word embeddings on (rows × T × d): the part of the forward
    that fusion/model/onnx_runtime.py exports, without the large embedding matrix."""
    return encoder(inputs_embeds=word_embeddings, attention_mask=attention_bias(segments, word_embeddings.dtype),
                   position_ids=positions + first_position(encoder), output_hidden_states=output_hidden_states,
                   return_dict=True)
