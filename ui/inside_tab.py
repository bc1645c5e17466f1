"""Inside: the attention of any layer and head, attention entropy of every head, and the fusion
gate per token and channel, for one sentence of the text last compared.

Attentions are computed only when this view asks for them (not on every Compare), and kept in a
small server-wide cache keyed by model, text and sentence: a class switching back and forth
between the same examples costs one forward pass each, and memory stays bounded.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict

import gradio as gr

from fusion import plots
from fusion.predict import Explanation, clean_text, predict

from .common import SIDES, TaggerSlot

TOKEN_LIMIT = 96  # sub-word tokens explained (a T × T map per head: 12 × 12 × 96² floats = 5 MB)
CACHE_ENTRIES = 24  # explanations kept: ≤ ~130 MB at the token limit
PLACEHOLDER = "Compare a text first (Compare tab): this view then shows what happens inside the models."

ATTENTION_HELP = (
    "**Attention of one head.** Each row is a sub-word token being updated (the query); each "
    "column a token it reads from (the key); each row sums to 1 and darker means more weight. "
    "“▁” marks the start of a word; `<s>` and `</s>` are the start and end tokens, where many heads "
    "park their attention when they have nothing specific to look at.")
OVERVIEW_HELP = (
    "**All layers at a glance.** One cell per head of every layer; the colour is the average "
    "entropy of that head's attention rows, in bits. Low (dark) = sharp: each token looks at one "
    "or two tokens (often its neighbour, or `</s>`); high (yellow) = attention spread over the "
    "whole sentence (the top of the scale is perfectly uniform). The red box is the head shown above.")
GATE_SHARE_HELP = (
    "**How much of each token comes from which layer** (fusion model only). The AIF module mixes "
    "the last layer H_L with the lower layer H_k channel by channel: Z = M ⊙ H_L + (1 − M) ⊙ H_k. "
    "Blue is the gate M averaged over the channels — the share taken from the last layer; orange "
    "is the share from layer k. The dotted line marks an even mix.")
GATE_HELP = (
    "**Every gate value** (fusion model only). Rows are tokens, columns the hidden channels. Blue: "
    "the channel comes from the last layer (gate near 1); orange: from layer k (gate near 0); "
    "white: an even mix. Vertical stripes are channels the module takes from the same layer for "
    "every token (the sentence-wide global branch); differences between rows are per-token "
    "choices (the local branch).")


def clamp(value, upper: int, lowest: int = 1) -> int:
    """A layer, head or sentence number from any input (None, NaN, text, out of range)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return lowest
    return lowest if math.isnan(number) else min(max(int(number), lowest), upper)


class ExplanationCache:
    """Least recently used explanations, keyed by (model side, text hash, sentence)."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        self.entries = entries
        self._items: OrderedDict[tuple, Explanation | None] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # forward passes made (tests and benches read it)

    def get(self, slot: TaggerSlot, text: str, sentence: int) -> Explanation | None:
        key = (slot.side, slot.directory, hashlib.sha256(text.encode("utf-8", "replace")).hexdigest(),
               sentence)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        result = predict(slot.tagger, text, explain=True, explain_max_tokens=TOKEN_LIMIT,
                         explain_sentence=sentence)[0].explanation
        with self._lock:
            self.computed += 1
            self._items[key] = result
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return result


CACHE = ExplanationCache()


def sentence_choices(text: str, sentences: list[tuple[int, int]]) -> list[tuple[str, int]]:
    """(label, index) of each sentence, for the picker; `sentences` are Compare's spans."""
    labels = []
    for index, (start, end) in enumerate(sentences):
        words = text[start:end]
        labels.append((f"{index + 1}: {words[:60]}{'…' if len(words) > 60 else ''}", index))
    return labels


def _message(message: str) -> tuple:
    return (message,) + tuple(plots.message_figure(message) for _ in range(4))


def inside_view(slots: dict[str, TaggerSlot], text, side: str, sentence, layer, head,
                cache: ExplanationCache = CACHE) -> tuple:
    """(note, attention heatmap, layer × head overview, gate share bars, gate heatmap) for one
    sentence of `text` and the chosen model; `layer` and `head` count from 1."""
    if side not in SIDES:
        return _message(f"Pick a model: {' or '.join(SIDES)}.")
    text = clean_text("" if text is None else str(text))
    if not text.strip():
        return _message(PLACEHOLDER)
    slot = slots.get(side)
    if slot is None or not slot.ready:
        return _message(f"The {side} model is not loaded.")
    sentence = clamp(sentence if sentence is not None else 0, 10**9, lowest=0)
    explanation = cache.get(slot, text, sentence)
    if explanation is None or len(explanation.attentions) == 0:
        return _message("This text has no words to explain.")
    return inside_figures(explanation, side, layer, head)


def inside_figures(explanation: Explanation, side: str, layer, head) -> tuple:
    attentions, tokens = explanation.attentions, explanation.tokens
    layer, head = clamp(layer, len(attentions)), clamp(head, len(attentions[0]))
    note = (f"**{side}** model, sentence {explanation.sentence + 1}: {len(tokens)} sub-word tokens"
            + ("" if explanation.complete else f" (its first {TOKEN_LIMIT})")
            + (f", fusion of the last layer with layer {explanation.fusion_layer}"
               if explanation.fusion_layer is not None else "") + ".")
    return (
        note,
        plots.attention_heatmap(tokens, attentions[layer - 1][head - 1],
                                title=f"{side}: layer {layer}, head {head}"),
        plots.attention_overview(attentions, layer, head,
                                 title=f"{side}: attention entropy per layer and head"),
        plots.gate_share_bars(tokens, explanation.gate_share, explanation.fusion_layer),
        plots.gate_heatmap(tokens, explanation.gates, explanation.fusion_layer),
    )


def build(n_layers: int, n_heads: int) -> dict:
    """Lay out the Inside tab; returns its components."""
    parts = {}
    gr.Markdown("What the encoder and the fusion gate do with one sentence of the text from the "
                f"Compare tab (its first {TOKEN_LIMIT} sub-word tokens).")
    with gr.Row():
        parts["sentence"] = gr.Dropdown(choices=[], value=None, label="Sentence",
                                        allow_custom_value=True,  # API callers pass any number; it is clamped
                                        elem_id="inside-sentence")
        parts["side"] = gr.Radio(list(SIDES), value="fusion", label="Model")
        parts["layer"] = gr.Slider(1, n_layers, value=n_layers, step=1, label="Layer (1 = first)")
        parts["head"] = gr.Slider(1, n_heads, value=1, step=1, label="Head")
    parts["note"] = gr.Markdown(PLACEHOLDER)
    for key, help_text, label in (("attention", ATTENTION_HELP, "Attention"),
                                  ("overview", OVERVIEW_HELP, "All layers"),
                                  ("share", GATE_SHARE_HELP, "Gate share"),
                                  ("gate", GATE_HELP, "Gates")):
        gr.Markdown(help_text, elem_classes=["help"])
        parts[key] = gr.Plot(label=label, show_label=False, elem_id=f"{key}-plot")
    return parts


def outputs(parts: dict) -> list:
    return [parts["note"], parts["attention"], parts["overview"], parts["share"], parts["gate"]]


def fallback_values(message: str) -> list:
    return [message] + [plots.message_figure(message)] * 4
