"""Where each entity emerges: every layer's probe read on one sentence of a typed text.

A word × layer grid of the probes' tags (fusion/probing/probes.py) from one pass of the frozen encoder,
with the same words and character offsets as `predict` gives, and, for a fusion tagger, the
gate's share of the last layer at each word (from its Explanation), side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fusion.data.alignment import word_label_positions
from fusion.probing.probes import LayerProbes, layer_features, probe_tags
from fusion.tagging.predict import Explanation, Word, clean_text, segment


@dataclass
class EmergenceGrid:
    """The probes' reading of one sentence: rows are layers 0..L, columns the sentence's words."""

    text: str
    words: list[Word]  # the sentence's words, offsets into `text` (as predict gives them)
    sentence: int  # which sentence of the text
    sentence_spans: list[tuple[int, int]]  # (start, end) of every sentence of the text
    first_word: int = 0  # index of the sentence's first word among all the text's words
    tags: list[list[str]] = field(default_factory=list)  # layer × word
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # layer × word: P(tag)

    @property
    def n_sentences(self) -> int:
        return len(self.sentence_spans)

    @property
    def n_layers(self) -> int:
        return len(self.tags)

    def first_layer(self, word: int) -> int | None:
        """The lowest layer from which on the word keeps the top layer's entity type (None when
        the top layer reads no entity there): where that entity 'emerges'."""
        top = self.tags[-1][word]
        if top == "O":
            return None
        kind = top.split("-", 1)[1]
        layer = self.n_layers - 1
        while layer > 0 and self.tags[layer - 1][word].split("-", 1)[-1] == kind:
            layer -= 1
        return layer


def emergence(probes: LayerProbes, encoder, tokenizer, text: str, sentence: int = 0,
              language: str = "en") -> EmergenceGrid:
    """Read every layer's probe on one sentence of `text` (clamped to its sentences); one encoder
    pass. Empty text gives an empty grid."""
    text = clean_text(text)
    words, sentences = segment(text, tokenizer, language)
    if not sentences:
        return EmergenceGrid(text, [], 0, [])
    index = min(max(int(sentence), 0), len(sentences) - 1)
    chosen = sentences[index]
    own = words[chosen.first_word:chosen.first_word + chosen.n_words]
    features = layer_features(encoder, tokenizer, [[w.text for w in own]])
    best, scores = probe_tags(probes, features)  # words × layers
    labels = probes.config.labels
    tags = [[labels[i] for i in best[:, layer]] for layer in range(best.shape[1])]
    spans = [(s.start, s.end) for s in sentences]
    return EmergenceGrid(text, own, index, spans, chosen.first_word, tags, scores.T.copy())


def word_gate_share(explanation: Explanation, words: list[int]) -> list[float | None]:
    """For each word index (as in Prediction.words), the fusion gate's mean at the word's label
    position: the share its features take from the last layer (None when the explanation does not
    reach the word, or the tagger has no gate)."""
    if explanation is None or explanation.gate_share is None:
        return [None] * len(words)
    positions = word_label_positions(explanation.tokens, explanation.token_words)
    return [float(explanation.gate_share[positions[w]]) if w in positions else None for w in words]
