"""Inside: the attention of any layer and head, attention entropy of every head, and the fusion
gate per token and channel, for the text last compared."""

from __future__ import annotations

import math

import gradio as gr

from fusion import plots

from .common import SIDES

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


def clamp(value, upper: int) -> int:
    """A 1-based layer or head number from any input (None, NaN, text, out of range)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 1
    return 1 if math.isnan(number) else min(max(int(number), 1), upper)


def inside_figures(explanations: dict | None, side: str, layer, head) -> tuple:
    """(note, attention heatmap, layer × head overview, gate share bars, gate heatmap) for the
    chosen model; `layer` and `head` count from 1."""
    if side not in SIDES:
        message = f"Pick a model: {' or '.join(SIDES)}."
        return (message,) + tuple(plots.message_figure(message) for _ in range(4))
    explanation = (explanations or {}).get(side)
    if explanation is None or len(explanation.attentions) == 0:
        message = ("Run a text in the Compare tab first." if not explanations else
                   f"No {side} result: the {side} model is not loaded or the text was empty.")
        return (message,) + tuple(plots.message_figure(message) for _ in range(4))
    attentions, tokens = explanation.attentions, explanation.tokens
    layer, head = clamp(layer, len(attentions)), clamp(head, len(attentions[0]))
    note = (f"**{side}** model, {len(tokens)} sub-word tokens"
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


def build(n_layers: int, n_heads: int, token_limit: int) -> dict:
    """Lay out the Inside tab; returns its components."""
    parts = {}
    gr.Markdown("What the encoder and the fusion gate do with the text from the Compare tab (its "
                f"first {token_limit} sub-word tokens).")
    with gr.Row():
        parts["side"] = gr.Radio(list(SIDES), value="fusion", label="Model")
        parts["layer"] = gr.Slider(1, n_layers, value=n_layers, step=1, label="Layer (1 = first)")
        parts["head"] = gr.Slider(1, n_heads, value=1, step=1, label="Head")
    parts["note"] = gr.Markdown()
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
