"""Sentence-pair classification (XNLI, PAWS-X) with the same encoder, adapters and AIF as the taggers.

Nothing differs from a tagger but the head: the pair goes through the tokenizer's own pair template
(XLM-R: ``<s> A </s></s> B </s>``), the baseline reads the last layer and the fusion model the
AIF-fused sequence (`TokenTagger.features`), and one linear layer classifies a summary of that
sequence instead of each token. The summary is the masked mean over the pair's tokens by default:
the offline encoder (multilingual-e5) was trained to summarise text by its mean, and its first
token carries no trained summary; ``pooling="first"`` takes the first token as BERT's [CLS] head
does (the paper's choice on mBERT).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fusion.model.modeling import PAIR_TASKS, TaggerConfig, TaggerOutput, TokenTagger

POOLINGS = ("mean", "first")


@dataclass
class PairConfig(TaggerConfig):
    """A pair classifier's config: a tagger's, for a pair task, with its labels and pooling."""

    task: str = "xnli"
    pooling: str = "mean"

    TASKS = tuple(PAIR_TASKS)

    def __post_init__(self) -> None:
        if self.labels == TaggerConfig().labels and self.task in PAIR_TASKS:  # the default: the task's own
            self.labels = list(PAIR_TASKS[self.task])
        super().__post_init__()
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.labels != list(PAIR_TASKS[self.task]):
            raise ValueError(f"a {self.task} classifier has the labels {list(PAIR_TASKS[self.task])}, "
                             f"got {self.labels}")


def is_pair_config(data: dict) -> bool:
    """Whether a stored config (a checkpoint's JSON) is a pair classifier's."""
    return isinstance(data, dict) and data.get("task") in PAIR_TASKS


class PairClassifier(TokenTagger):
    """Encoder (+ AIF) + pooling + dropout + linear classifier over the pair's labels."""

    def __init__(self, config: PairConfig, encoder: nn.Module | None = None, tokenizer=None):
        if not isinstance(config, PairConfig):
            raise ValueError("a PairClassifier needs a PairConfig")
        super().__init__(config, encoder, tokenizer)

    def pooled(self, features: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.config.pooling == "first":
            return features[:, 0]
        weights = attention_mask.unsqueeze(-1).to(features.dtype)
        return (features * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> TaggerOutput:
        """input_ids, attention_mask: B × T (one pair per row); labels: B. Logits: B × n_labels."""
        features, gates, out = self.features(input_ids, attention_mask, output_attentions,
                                             output_hidden_states)
        logits = self.classifier(self.dropout(self.pooled(features, attention_mask)))
        loss = None if labels is None else nn.functional.cross_entropy(logits, labels)
        return TaggerOutput(logits=logits, loss=loss, gates=gates,
                            attentions=out.attentions if output_attentions else None,
                            hidden_states=out.hidden_states if output_hidden_states else None)

    def logits_from_embeddings(self, word_embeddings: torch.Tensor, positions: torch.Tensor,
                               segments: torch.Tensor) -> torch.Tensor:
        """Packed pairs (fusion/model/packing.py) from their word embeddings on -> rows × T ×
        n_labels, where slot s of a row holds the logits of the row's pair s (slots past its pairs
        hold the classifier's bias). The signature and shape of a tagger's, so that the ONNX export
        (fusion/model/onnx_runtime.py) and its check against torch serve both."""
        features = self.packed_features(word_embeddings, positions, segments)
        # as many slots as tokens: a bound from the shape, not the data (as AIF's packed means)
        slots = torch.arange(segments.shape[1], device=segments.device)
        members = (segments.unsqueeze(-1) == slots).to(features.dtype)  # rows × T × slots
        if self.config.pooling == "first":
            members = members * (positions == 0).unsqueeze(-1).to(features.dtype)
        pooled = members.transpose(1, 2) @ features / members.sum(1).unsqueeze(-1).clamp(min=1.0)
        return self.classifier(self.dropout(pooled))
