"""What happens inside a tagger for one sentence of a compared text (attentions, fusion gates),
computed only when Inside or Layers asks, and kept in a small server-wide cache: a class switching
back and forth between the same examples costs one forward pass each, and memory stays bounded.
The pass runs on the tagger's ONNX Runtime graph once it is attached, the one Compare runs
(fusion/model/onnx_runtime.py; about a Compare's time for both models, bench/inside_speed.py), and on
torch before."""

from __future__ import annotations

from fusion.tagging.predict import Explanation, predict
from serve.cache import BoundedCache
from serve.compare import CompareView
from serve.slots import TaggerSlot

TOKEN_LIMIT = 96  # sub-word tokens explained (a T × T map per head: 12 × 12 × 96² floats = 5 MB)
CACHE_ENTRIES = 24  # explanations kept: ≤ ~130 MB at the token limit


class ExplanationCache(BoundedCache):
    """Least recently used explanations, keyed by (model side, checkpoint, text key, sentence)."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        super().__init__(entries)

    def get(self, slot: TaggerSlot, view: CompareView, sentence: int) -> Explanation | None:
        return self.fetch((slot.side, slot.directory, view.key, sentence), lambda: predict(
            slot.tagger, view.text, explain=True, explain_max_tokens=TOKEN_LIMIT,
            explain_sentence=sentence)[0].explanation)
