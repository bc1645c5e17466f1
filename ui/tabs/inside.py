"""Inside: the attention of any layer and head, attention entropy of every head, and the fusion
gate per token and channel, for one sentence of the text last compared.

Attentions are computed only when this view asks for them (not on every Compare), and kept in a
small server-wide cache (serve/explanations.py)."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from fusion.data.alignment import word_label_positions
from fusion.tagging.predict import Explanation
from serve.cache import BoundedCache
from serve.compare import CompareView
from serve.explanations import TOKEN_LIMIT, ExplanationCache
from serve.markdown import code, plain
from serve.slots import SIDES, TaggerSlot
from ui import plots
from ui.common import Parts, clamp, is_rtl, plots_serialised, safe, sentence_choices
from ui.markup import inside_clamp_js

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
PLOTS = (("attention", ATTENTION_HELP, "Attention"), ("overview", OVERVIEW_HELP, "All layers"),
         ("share", GATE_SHARE_HELP, "Gate share"), ("gate", GATE_HELP, "Gates"))


class InsideView(NamedTuple):
    note: str
    attention: object  # plotly figures, or their JSON once shared (`plots_serialised`)
    overview: object
    share: object
    gate: object


FIGURES = InsideView._fields[1:]  # serialised once when shared: ~70 ms for a 30-token sentence's four


class InsideValues(NamedTuple):
    """The tab's outputs: the view, and the layer and head it shows (snapped to their range).
    Those two go to hidden boxes, for the API, never back into the sliders: an answer that
    arrived after the visitor typed another number would put the old one back."""

    note: str
    attention: object
    overview: object
    share: object
    gate: object
    shown_layer: object
    shown_head: object


def _message(message: str) -> InsideView:
    return InsideView(message, *(plots.message_figure(message) for _ in range(4)))


def inside_view(slots: dict[str, TaggerSlot], view: CompareView, side: str, sentence, layer, head,
                cache: ExplanationCache, focus=None, figures: BoundedCache | None = None) -> InsideView:
    """One sentence of the compared text, as the chosen model reads it; `layer` and `head` count
    from 1. `focus`, a character offset (an entity picked in Compare's table), outlines that
    word's row and names its gate share. With `figures`, the figures of a sentence, layer and
    head are built once, serialised and shared (an outlined view gets its own figures)."""
    if side not in SIDES:
        return _message(f"Pick a model: {' or '.join(SIDES)}.")
    if not view.text.strip():  # nothing compared, or nothing of it fits one request's budget
        return _message(view.fitted.note or PLACEHOLDER)
    slot = slots.get(side)
    if slot is None or not slot.ready:
        return _message(f"The {side} model is not loaded.")
    explanation = cache.get(slot, view, clamp(sentence if sentence is not None else 0, 10**9, lowest=0))
    if explanation is None or len(explanation.attentions) == 0:
        return _message("This text has no words to explain.")
    position = clamp(focus, len(view.text), lowest=-1) if focus is not None else -1
    focus_note, token = focus_on(view, explanation, position) if position >= 0 else ("", None)

    def build() -> InsideView:
        return inside_figures(explanation, side, layer, head, rtl=is_rtl(sentence_text(view, explanation.sentence)))

    if token is not None or figures is None:
        shown = build()
        if token is not None:
            outline_token(shown, token, len(explanation.tokens))
    else:
        n_layers, n_heads = len(explanation.attentions), len(explanation.attentions[0])
        shown = figures.fetch((slot.side, slot.directory, view.key, explanation.sentence,
                               clamp(layer, n_layers), clamp(head, n_heads)),
                               lambda: plots_serialised(build(), *FIGURES))
    notes = [shown.note, focus_note]
    notes.append(view.fitted.note)  # what of the text sent was left out ("" when nothing was)
    return shown._replace(note="\n\n".join(note for note in notes if note))


def sentence_text(view: CompareView, sentence: int) -> str:
    """The text of one sentence of a compared text ("" for a sentence it does not have)."""
    if not 0 <= sentence < len(view.sentences):
        return ""
    start, end = view.sentences[sentence]
    return view.text[start:end]


def focus_on(view: CompareView, explanation: Explanation, position: int) -> tuple[str, int | None]:
    """A line about the word at character `position` and the token row to outline (None: not
    among the explained tokens). The row is the sub-word that carries the word's label."""
    index = next((i for i, (start, end) in enumerate(view.words) if start <= position < end), None)
    if index is None:
        return "The picked entity is not a word of this text.", None
    word = view.text[slice(*view.words[index])]
    token = word_label_positions(explanation.tokens, explanation.token_words).get(index)
    if token is None:
        where = ("another sentence" if index not in explanation.token_words
                 else f"beyond the first {TOKEN_LIMIT} tokens explained")
        return f"The picked word '{plain(word)}' lies in {where}: pick its sentence above.", None
    line = (f"**'{plain(word)}'** (its sub-word {code(explanation.tokens[token])}, row {token + 1}, "
            "outlined in red)")
    if explanation.gate_share is None:
        return line + ": the baseline has no fusion gate; switch to the fusion model to see its share.", token
    share = float(explanation.gate_share[token])
    lower = ("the embeddings (layer 0)" if explanation.fusion_layer == 0
             else f"layer {explanation.fusion_layer}")
    return line + f": {100 * share:.0f} % from the last layer, {100 * (1 - share):.0f} % from {lower}.", token


def outline_token(shown: InsideView, token: int, n_tokens: int) -> None:
    """Outline one token's row on the heat maps and its bar in the gate share (in place)."""
    line = dict(color=FOCUS_COLOUR, width=3)
    shown.attention.add_shape(type="rect", x0=-0.5, x1=n_tokens - 0.5, y0=token - 0.5, y1=token + 0.5, line=line)
    if shown.share.data:
        shown.share.add_shape(type="rect", x0=token - 0.5, x1=token + 0.5, y0=0, y1=1, line=line)
    if shown.gate.data:
        width = len(shown.gate.data[0].z[0])
        shown.gate.add_shape(type="rect", x0=-0.5, x1=width - 0.5, y0=token - 0.5, y1=token + 0.5, line=line)


def inside_figures(explanation: Explanation, side: str, layer, head, rtl: bool = False) -> InsideView:
    """The four figures of one explained sentence; with `rtl`, token axes along the sentence run
    right to left, as it reads."""
    attentions, tokens = explanation.attentions, explanation.tokens
    layer, head = clamp(layer, len(attentions)), clamp(head, len(attentions[0]))
    note = (f"**{side}** model, sentence {explanation.sentence + 1}: {len(tokens)} sub-word tokens"
            + ("" if explanation.complete else f" (its first {TOKEN_LIMIT})")
            + (f", fusion of the last layer with layer {explanation.fusion_layer}"
               if explanation.fusion_layer is not None else "") + ".")
    attention = plots.attention_heatmap(tokens, attentions[layer - 1][head - 1],
                                        title=f"{side}: layer {layer}, head {head}", rtl=rtl)
    # Both axes give up space rather than stretch, so cells stay square whatever the width
    attention.update_xaxes(constrain="domain")
    shown = InsideView(note, attention,
                       plots.attention_overview(attentions, layer, head, title=f"{side}: entropy per layer × head"),
                       plots.gate_share_bars(tokens, explanation.gate_share, explanation.fusion_layer, rtl=rtl),
                       plots.gate_heatmap(tokens, explanation.gates, explanation.fusion_layer, rtl=rtl))
    for figure in shown[1:]:
        keys_below(figure)
    return shown


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


def inside_values(slots: dict[str, TaggerSlot], view: CompareView, sentence, side: str, layer, head,
                  cache: ExplanationCache, focus=None, n_layers: int = 12, n_heads: int = 12,
                  figures: BoundedCache | None = None) -> InsideValues:
    """The view, and the layer and head it shows (snapped to their range)."""
    shown = inside_view(slots, view, side, sentence, layer, head, cache, focus=focus, figures=figures)
    return InsideValues(*shown, clamp(layer, n_layers), clamp(head, n_heads))


def fallback_values(message: str) -> dict:
    return _message(message)._asdict()  # the sliders stay as they are


def sentence_picker(view: CompareView, sentence: int = 0) -> gr.Dropdown:
    """The sentences of a compared text; `sentence` picked when it has one, else the first."""
    choices = sentence_choices(view.text, view.sentences)
    indices = [index for _, index in choices]
    return gr.Dropdown(choices=choices, value=sentence if sentence in indices else (indices[0] if indices else None))


def _build_controls(parts: Parts, n_layers: int, n_heads: int) -> None:
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
    # The layer and head the plots show (the API's answer; the sliders are the visitor's)
    parts["shown_layer"] = gr.Number(value=None, visible=False)
    parts["shown_head"] = gr.Number(value=None, visible=False)


class InsideTab:
    """Until a text is compared only a placeholder shows (which of the two: the page's CSS, as
    `inside_clamp_js` marks the page); the controls and plots appear with the first explanation."""

    def __init__(self, page, tab: gr.Tab):
        self.services, self.tab = page.services, tab
        self.n_layers, self.n_heads = page.services.shape
        self.parts = parts = Parts()
        with gr.Column(elem_id="inside-placeholder"):
            gr.Markdown(PLACEHOLDER_HELP)
            parts["to_compare"] = gr.Button("Go to the Compare tab", size="sm", variant="primary")
        with gr.Column(elem_id="inside-content"):
            gr.Markdown("What the encoder and the fusion gate do with one sentence of the text from the "
                        f"Compare tab (its first {TOKEN_LIMIT} sub-word tokens).")
            _build_controls(parts, self.n_layers, self.n_heads)
            parts["note"] = gr.Markdown(PLACEHOLDER, elem_id="inside-note")
            for key, help_text, label in PLOTS:
                gr.Markdown(help_text, elem_classes=["help"])
                parts[key] = gr.Plot(label=label, show_label=False, elem_id=f"{key}-plot")
        page.inside_place = parts.pick("side", "sentence", "focus")
        page.add_link_fields(side=parts["side"], layer=parts["layer"], head=parts["head"],
                             sentence=parts["sentence"], word=parts["focus"])
        page.add_layout(parts.pick("sentence", "focus"), lambda view, sentence, word: {
            parts["sentence"]: sentence_picker(view, sentence), parts["focus"]: word})
        page.add_restore(parts.pick("side", "layer", "head"), lambda state: {
            parts["side"]: state.side, parts["layer"]: gr.Slider(value=min(state.layer, self.n_layers)),
            parts["head"]: gr.Slider(value=min(state.head, self.n_heads))})

    def on_inside(self, text, sentence, side, layer, head, focus=None) -> dict:
        view = self.services.compare.view(text, tagged=False)
        return self.parts.updates(inside_values(self.services.slots, view, sentence, side, layer, head,
                                                self.services.explanations, focus, self.n_layers, self.n_heads,
                                                self.services.inside_figures))

    def wire(self, page) -> None:
        """A slider applies when it is let go, and its number box on Enter (`inside_clamp_js`
        makes Enter leave the box), when it loses focus or by its arrows: all of them Gradio's
        `release`. `always_last`: a number typed while the previous view is being drawn is drawn
        next, instead of being dropped."""
        parts = self.parts
        page.synced(gr.on(
            [self.tab.select, parts["sentence"].input, parts["side"].input, parts["layer"].release,
             parts["head"].release],
            safe(self.on_inside, lambda message: parts.updates(fallback_values(message))),
            [page.compared] + parts.pick("sentence", "side", "layer", "head", "focus"),
            parts.pick(*InsideValues._fields), api_name="inside", trigger_mode="always_last",
            js=inside_clamp_js(self.n_layers, self.n_heads)))
        page.show_tab(parts["to_compare"].click, "compare")
