"""Inside: the attention of any layer and head, attention entropy of every head, and the fusion
gate per token and channel, for one sentence of the text last compared.

Attentions are computed only when this view asks for them (not on every Compare), and kept in a
small server-wide cache keyed by model, text and sentence: a class switching back and forth
between the same examples costs one forward pass each, and memory stays bounded.
"""

from __future__ import annotations


import gradio as gr

from fusion import plots
from fusion.alignment import word_label_positions
from fusion.predict import Explanation, clean_text, predict, segment

from .common import SIDES, BoundedCache, TaggerSlot, code, plain, text_key, whole_number

TOKEN_LIMIT = 96  # sub-word tokens explained (a T × T map per head: 12 × 12 × 96² floats = 5 MB)
CACHE_ENTRIES = 24  # explanations kept: ≤ ~130 MB at the token limit
PLACEHOLDER = "Compare a text first (Compare tab): this view then shows what happens inside the models."
PLACEHOLDER_HELP = (
    "### Nothing to look inside yet\n"
    "This tab shows what the two models do with one sentence: which words each word reads from "
    "(attention), and how much the fusion model takes from the last layer or the lower one (the "
    "gate).\n\n**First type a sentence or pick an example in the Compare tab and press Compare**, "
    "then come back here, or click a row of Compare's entity table to jump to that word.")
FOCUS_COLOUR = "#d62728"  # the outline of the word picked in Compare's entity table

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
    number = whole_number(value, lowest, upper)
    return lowest if number is None else number


class ExplanationCache(BoundedCache):
    """Least recently used explanations, keyed by (model side, text hash, sentence)."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        super().__init__(entries)

    def get(self, slot: TaggerSlot, text: str, sentence: int) -> Explanation | None:
        return self.fetch((slot.side, slot.directory, text_key(text), sentence), lambda: predict(
            slot.tagger, text, explain=True, explain_max_tokens=TOKEN_LIMIT,
            explain_sentence=sentence)[0].explanation)


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


def sentence_of(slots: dict[str, TaggerSlot], text, position: int) -> int:
    """The index of the sentence (as Compare cut the text) that holds character `position`."""
    slot = next((s for s in slots.values() if s.ready), None)
    text = clean_text("" if text is None else str(text))
    if slot is None or not text.strip():
        return 0
    _, sentences = segment(text, slot.tagger.tokenizer)
    return next((index for index, sentence in enumerate(sentences)
                 if sentence.start <= position < sentence.end), 0)


def inside_view(slots: dict[str, TaggerSlot], text, side: str, sentence, layer, head,
                cache: ExplanationCache = CACHE, focus=None) -> tuple:
    """(note, attention heatmap, layer × head overview, gate share bars, gate heatmap) for one
    sentence of `text` and the chosen model; `layer` and `head` count from 1. `focus`, a character
    offset (an entity picked in Compare's table), outlines that word's row and names its gate share."""
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
    note, *figures = inside_figures(explanation, side, layer, head)
    position = clamp(focus, len(text), lowest=-1) if focus is not None else -1
    if position >= 0:
        focus_note, token = focus_on(slot, text, explanation, position)
        note += "\n\n" + focus_note
        if token is not None:
            outline_token(figures, token, len(explanation.tokens))
    return (note, *figures)


def focus_on(slot: TaggerSlot, text: str, explanation: Explanation, position: int) -> tuple[str, int | None]:
    """A line about the word at character `position` and the token row to outline (None: not
    among the explained tokens). The row is the sub-word that carries the word's label."""
    words, _ = segment(text, slot.tagger.tokenizer)
    index = next((i for i, word in enumerate(words) if word.start <= position < word.end), None)
    if index is None:
        return "The picked entity is not a word of this text.", None
    word = words[index]
    token = word_label_positions(explanation.tokens, explanation.token_words).get(index)
    if token is None:
        where = ("another sentence" if index not in explanation.token_words
                 else f"beyond the first {TOKEN_LIMIT} tokens explained")
        return f"The picked word '{plain(word.text)}' lies in {where}: pick its sentence above.", None
    line = (f"**'{plain(word.text)}'** (its sub-word {code(explanation.tokens[token])}, row {token + 1}, "
            "outlined in red)")
    if explanation.gate_share is None:
        return line + ": the baseline has no fusion gate; switch to the fusion model to see its share.", token
    share = float(explanation.gate_share[token])
    lower = ("the embeddings (layer 0)" if explanation.fusion_layer == 0
             else f"layer {explanation.fusion_layer}")
    return line + f": {100 * share:.0f} % from the last layer, {100 * (1 - share):.0f} % from {lower}.", token


def outline_token(figures: list, token: int, n_tokens: int) -> None:
    """Outline one token's row on the heat maps and its bar in the gate share (in place)."""
    attention, _, share, gates = figures
    line = dict(color=FOCUS_COLOUR, width=3)
    attention.add_shape(type="rect", x0=-0.5, x1=n_tokens - 0.5, y0=token - 0.5, y1=token + 0.5, line=line)
    if share.data:
        share.add_shape(type="rect", x0=token - 0.5, x1=token + 0.5, y0=0, y1=1, line=line)
    if gates.data:
        width = len(gates.data[0].z[0])
        gates.add_shape(type="rect", x0=-0.5, x1=width - 0.5, y0=token - 0.5, y1=token + 0.5, line=line)


def inside_figures(explanation: Explanation, side: str, layer, head) -> tuple:
    attentions, tokens = explanation.attentions, explanation.tokens
    layer, head = clamp(layer, len(attentions)), clamp(head, len(attentions[0]))
    note = (f"**{side}** model, sentence {explanation.sentence + 1}: {len(tokens)} sub-word tokens"
            + ("" if explanation.complete else f" (its first {TOKEN_LIMIT})")
            + (f", fusion of the last layer with layer {explanation.fusion_layer}"
               if explanation.fusion_layer is not None else "") + ".")
    attention = plots.attention_heatmap(tokens, attentions[layer - 1][head - 1],
                                        title=f"{side}: layer {layer}, head {head}")
    # Both axes give up space rather than stretch, so cells stay square whatever the width
    attention.update_xaxes(constrain="domain")
    figures = (attention,
               plots.attention_overview(attentions, layer, head,
                                        title=f"{side}: entropy per layer × head"),
               plots.gate_share_bars(tokens, explanation.gate_share, explanation.fusion_layer),
               plots.gate_heatmap(tokens, explanation.gates, explanation.fusion_layer))
    for figure in figures:
        keys_below(figure)
    return (note, *figures)


def keys_below(figure) -> None:
    """Colour bars and legends under the plot, not beside it: on a phone the side ones took a
    third of the width (in place)."""
    below = 70
    for trace in figure.data:
        if trace.type == "heatmap":
            trace.colorbar.update(orientation="h", x=0.5, xanchor="center", yref="container", y=0.01,
                                  yanchor="bottom", thickness=12, len=0.6, title_side="right")
        elif trace.type == "bar":
            figure.update_layout(legend=dict(orientation="h", x=0.5, xanchor="center", yref="container",
                                             y=0.01, yanchor="bottom"))
            below = 40
    if figure.data:
        figure.update_layout(margin_b=figure.layout.margin.b + below, height=figure.layout.height + below)


def inside_values(slots: dict[str, TaggerSlot], text, sentence, side: str, layer, head, focus=None,
                  n_layers: int = 12, n_heads: int = 12) -> list:
    """The Inside tab's output values, in the order of `outputs`: the view, and the layer and
    head snapped to their range."""
    view = inside_view(slots, text, side, sentence, layer, head, focus=focus)
    return list(view) + [clamp(layer, n_layers), clamp(head, n_heads)]


def clamp_js(n_layers: int, n_heads: int) -> str:
    """Browser-side, before each Inside call: a layer or head typed out of range snaps into it
    before the server sees it (the slider would refuse 99 with an error toast), and the page
    shows the placeholder or the plots by whether a text was compared (`PLACEHOLDER_CSS`: a
    column's visibility set by the server would make Gradio's page re-read the plots at each
    later status change). Inputs: text, sentence, side, layer, head, focus; the same values
    come back, clamped."""
    return ("(text, sentence, side, layer, head, focus) => {"
            " document.body.dataset.compared = String(text ?? '').trim() ? 'yes' : 'no';"
            " const snap = (v, top) => Math.min(Math.max(Math.round(Number(v)) || 1, 1), top);"
            f" return [text, sentence, side, snap(layer, {int(n_layers)}), snap(head, {int(n_heads)}), focus]; }}")


# Until a text is compared, Inside shows its placeholder; `clamp_js` marks the page.
PLACEHOLDER_CSS = """
body:not([data-compared="yes"]) #inside-content, body[data-compared="yes"] #inside-placeholder {
  display: none !important; }
"""


def build(n_layers: int, n_heads: int) -> dict:
    """Lay out the Inside tab; returns its components. Until a text is compared only a
    placeholder shows; the controls and plots appear with the first explanation."""
    parts = {"n_layers": n_layers, "n_heads": n_heads}
    with gr.Column(elem_id="inside-placeholder"):  # which of the two shows: PLACEHOLDER_CSS
        gr.Markdown(PLACEHOLDER_HELP)
        parts["to_compare"] = gr.Button("Go to the Compare tab", size="sm", variant="primary")
    with gr.Column(elem_id="inside-content"):
        gr.Markdown("What the encoder and the fusion gate do with one sentence of the text from the "
                    f"Compare tab (its first {TOKEN_LIMIT} sub-word tokens).")
        with gr.Row():
            parts["sentence"] = gr.Dropdown(choices=[], value=None, label="Sentence",
                                            allow_custom_value=True,  # API callers pass any number; it is clamped
                                            elem_id="inside-sentence")
            parts["side"] = gr.Radio(list(SIDES), value="fusion", label="Model", elem_id="inside-side")
            parts["layer"] = gr.Slider(1, n_layers, value=n_layers, step=1, label="Layer (1 = first)",
                                       elem_id="inside-layer")
            parts["head"] = gr.Slider(1, n_heads, value=1, step=1, label="Head", elem_id="inside-head")
        # The character offset of the entity picked in Compare's table (None: no word picked)
        parts["focus"] = gr.Number(value=None, visible=False)
        parts["note"] = gr.Markdown(PLACEHOLDER, elem_id="inside-note")
        for key, help_text, label in (("attention", ATTENTION_HELP, "Attention"),
                                      ("overview", OVERVIEW_HELP, "All layers"),
                                      ("share", GATE_SHARE_HELP, "Gate share"),
                                      ("gate", GATE_HELP, "Gates")):
            gr.Markdown(help_text, elem_classes=["help"])
            parts[key] = gr.Plot(label=label, show_label=False, elem_id=f"{key}-plot")
    return parts


def inputs(parts: dict, compared) -> list:
    """What the Inside view reads, in the order of `inside_values` (and of `clamp_js`)."""
    return [compared, parts["sentence"], parts["side"], parts["layer"], parts["head"], parts["focus"]]


def outputs(parts: dict) -> list:
    return [parts["note"], parts["attention"], parts["overview"], parts["share"], parts["gate"],
            parts["layer"], parts["head"]]


def fallback_values(message: str) -> list:
    return [message] + [plots.message_figure(message)] * 4 + [gr.skip()] * 2
