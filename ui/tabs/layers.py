"""Layers: where each entity of the text last compared emerges, layer by layer.

Every layer's probe (fusion/probing/probes.py) reads one sentence in one pass of the frozen encoder,
computed when this tab is opened, never on Compare; grids are kept in a small server-wide cache
(serve/probes.py). Beside it, the fusion tagger's gate share per word comes from the same
explanation cache as Inside's, so opening both views costs one explanation.
"""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.probing.emergence import EmergenceGrid, word_gate_share
from serve.cache import BoundedCache
from serve.compare import CompareView
from serve.explanations import TOKEN_LIMIT, ExplanationCache
from serve.markdown import code, plain
from serve.paths import PROBES_DIR, relative
from serve.probes import GridCache, ProbeSlot
from serve.slots import TaggerSlot
from ui import plots
from ui.common import Parts, clamp, colour_words, is_rtl, palette_of, plots_serialised, safe, sentence_choices

PLACEHOLDER = ("Compare a text first (Compare tab): this view then reads its sentences layer by "
               "layer.")


def help_text(colours: dict[str, str]) -> str:
    """The tab's help, naming the colours the grid uses (the page's palette, as in Compare)."""
    return (
        "**Where does each name appear?** The encoder builds its picture of a sentence in 12 steps "
        "(layers). At every layer a small *probe*, trained on English only, tries to read the entity "
        "tags straight off that layer. Each row below is a layer, 0 (the bare word embeddings) at the "
        "top, 12 (the last layer, the one the baseline reads) at the bottom; each column a word, in "
        "reading order (right to left for Arabic, Hebrew, Persian or Urdu). Coloured cells are the "
        f"entity type the probe sees there ({colour_words(colours)}: the colours of the Compare tab), "
        "darker when it is surer; white is no entity. Follow a column down to see at which depth a "
        "name appears, and whether it changes type on the way. The bars under the grid (fusion "
        "model) show how much of each word the AIF gate takes from the last layer; the rest comes "
        "from layer k.")
TABLE_COLUMNS = ["word", "last layer reads", "from layer on", "gate: share of last layer"]


class LayersView(NamedTuple):
    note: str
    grid: object  # the plotly figure
    words: pd.DataFrame
    sentence: object  # the sentence picker (gr.Dropdown), or gr.skip()


def sentence_dropdown(grid: EmergenceGrid) -> gr.Dropdown:
    choices = sentence_choices(grid.text, grid.sentence_spans)
    return gr.Dropdown(choices=choices, value=grid.sentence if choices else None)


def word_table(grid: EmergenceGrid, shares: list[float | None]) -> pd.DataFrame:
    rows = []
    for index, word in enumerate(grid.words):
        layer = grid.first_layer(index)
        top = grid.tags[-1][index]
        rows.append({"word": word.text, "last layer reads": top,
                     "from layer on": "–" if layer is None else layer,
                     "gate: share of last layer": "–" if shares[index] is None else f"{shares[index]:.0%}"})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _gate_shares(slots: dict[str, TaggerSlot], view: CompareView, grid: EmergenceGrid,
                 explanations: ExplanationCache) -> tuple[list, int | None]:
    """The fusion tagger's gate share of each word of the grid's sentence, and its fusion layer."""
    fusion = slots.get("fusion")
    if fusion is None or not fusion.ready:
        return [None] * len(grid.words), None
    explanation = explanations.get(fusion, view, grid.sentence)
    shares = word_gate_share(explanation, list(range(grid.first_word, grid.first_word + len(grid.words))))
    return shares, fusion.tagger.config.fusion_layer


def layers_view(probe_slot: ProbeSlot, slots: dict[str, TaggerSlot], view: CompareView, sentence,
                grids: GridCache, explanations: ExplanationCache,
                colours: dict[str, str] | None = None, views: BoundedCache | None = None) -> LayersView:
    """The note, the grid, the word table and the sentence picker for one sentence of a text;
    `colours`: the page's entity palette. With `views`, the view of a sentence is made once,
    its figure serialised, and shared: under a class, drawing the grid again for every visitor
    of the same sentence was most of the tab's wait (bench/load.py --mix)."""
    if not probe_slot.ready:
        return fallback_values(f"The layer probes are not loaded ({plain(probe_slot.error)}); they "
                               f"ship in {code(relative(PROBES_DIR))}.")
    if not view.text.strip():  # nothing compared, or nothing of it fits one request's budget
        return fallback_values(view.fitted.note or PLACEHOLDER)
    grid = grids.get(probe_slot, view, clamp(sentence if sentence is not None else 0, 10**9, 0))
    if not grid.words:
        return fallback_values("This text has no words to read.")
    colours = colours or palette_of(["PER", "ORG", "LOC"])
    if views is None:
        return _grid_view(slots, view, grid, explanations, colours, probe_slot.probes.info)
    return views.fetch((probe_slot.directory, view.key, grid.sentence, tuple(colours.items())),
                       lambda: plots_serialised(_grid_view(slots, view, grid, explanations, colours,
                                                           probe_slot.probes.info), "grid"))


def _grid_view(slots: dict[str, TaggerSlot], view: CompareView, grid: EmergenceGrid,
               explanations: ExplanationCache, colours: dict[str, str], info: dict) -> LayersView:
    shares, fusion_layer = _gate_shares(slots, view, grid, explanations)
    missing = sum(s is None for s in shares)
    words = [w.text for w in grid.words]
    figure = plots.emergence_grid(words, grid.tags, grid.scores, shares if fusion_layer is not None else None,
                                  fusion_layer, colours=colours, rtl=is_rtl(" ".join(words)))
    training = info.get("training", {})
    trained = training.get("train_sentences")
    note = (f"Sentence {grid.sentence + 1} of {grid.n_sentences}, {len(grid.words)} words; probes "
            f"trained on {f'{trained:,}' if isinstance(trained, int) else '?'} English sentences (seed "
            f"{plain(training.get('seed', '?'))}).")
    if fusion_layer is not None and missing:
        note += (f" The gate share of {missing} word(s) is not shown: the fusion model's explanation "
                 f"covers the first {TOKEN_LIMIT} sub-word tokens of a sentence.")
    if view.fitted.notes:  # what of the text sent was left out
        note += "\n\n" + view.fitted.note
    return LayersView(note, figure, word_table(grid, shares), sentence_dropdown(grid))


def fallback_values(message: str) -> LayersView:
    return LayersView(message, plots.message_figure(message), pd.DataFrame(columns=TABLE_COLUMNS), gr.skip())


class LayersTab:
    def __init__(self, page, tab: gr.Tab):
        self.services, self.tab, self.colours = page.services, tab, page.colours
        self.parts = Parts()
        gr.Markdown(help_text(page.colours), elem_classes=["help"])
        self.parts["sentence"] = gr.Dropdown(choices=[], label="Sentence", interactive=True,
                                             allow_custom_value=True)  # API callers pass any number; it is clamped
        self.parts["note"] = gr.Markdown(PLACEHOLDER)
        self.parts["grid"] = gr.Plot(show_label=False, elem_id="emergence-plot")
        self.parts["words"] = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS), interactive=False,
                                           label="Where each word's entity appears")

    def on_layers(self, text, sentence) -> dict:
        """Every probe read on a sentence of the compared text, computed when looked at."""
        services = self.services
        view = services.compare.view(text, tagged=False)
        return self.parts.updates(layers_view(services.probes.get(), services.slots, view, sentence,
                                              services.grids, services.explanations, self.colours,
                                              services.layers_views))

    def wire(self, page) -> None:
        gr.on([self.tab.select, self.parts["sentence"].input],
              safe(self.on_layers, lambda message: self.parts.updates(fallback_values(message))),
              [page.compared, self.parts["sentence"]], self.parts.pick(*LayersView._fields), api_name="layers")
