"""Layers: where each entity of the text last compared emerges, layer by layer.

Every layer's probe (fusion/probes.py) reads one sentence in one pass of the frozen encoder,
computed when this tab is opened, never on Compare; grids are kept in a small server-wide cache.
Beside it, the fusion tagger's gate share per word comes from the Inside tab's explanation cache,
so opening both views costs one explanation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from fusion import plots
from fusion.emergence import EmergenceGrid, emergence, word_gate_share
from fusion.predict import clean_text

from . import inside_tab
from .common import ROOT, BoundedCache, TaggerSlot, code, plain, relative, text_key

PROBES_DIR = ROOT / "checkpoints" / "probes"
CACHE_ENTRIES = 64  # a grid is 13 × words small values
PLACEHOLDER = ("Compare a text first (Compare tab): this view then reads its sentences layer by "
               "layer.")
HELP = (
    "**Where does each name appear?** The encoder builds its picture of a sentence in 12 steps "
    "(layers). At every layer a small *probe*, trained on English only, tries to read the entity "
    "tags straight off that layer. Each row below is a layer, 0 (the bare word embeddings) at the "
    "top, 12 (the last layer, the one the baseline reads) at the bottom; each column a word. "
    "Coloured cells are the entity type the probe sees there (red PER, blue ORG, green LOC), darker "
    "when it is surer; white is no entity. Follow a column down to see at which depth a name "
    "appears, and whether it changes type on the way. The bars under the grid (fusion model) show "
    "how much of each word the AIF gate takes from the last layer; the rest comes from layer k.")
TABLE_COLUMNS = ["word", "last layer reads", "from layer on", "gate: share of last layer"]


@dataclass
class ProbeSlot:
    """The layer probes and the frozen encoder they read, or why they could not be loaded."""

    directory: str
    probes: object = None  # fusion.probes.LayerProbes
    encoder: object = None
    tokenizer: object = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.probes is not None


def load_probe_slot(directory=PROBES_DIR) -> ProbeSlot:
    """Load the probes and build their frozen encoder; any failure becomes the slot's message."""
    from fusion.encoders import build_encoder
    from fusion.probes import ProbeError, load_probes

    try:
        probes = load_probes(directory)
        encoder, tokenizer = build_encoder(probes.config.encoder)
    except ProbeError as error:
        return ProbeSlot(str(directory), error=str(error))
    except Exception as error:  # noqa: BLE001 — the app always starts; the tab says why
        return ProbeSlot(str(directory), error=f"could not load: {type(error).__name__}: {error}")
    return ProbeSlot(str(directory), probes, encoder, tokenizer)


class LazyProbes:
    """The probe slot, loaded the first time the Layers tab asks for it (not at app start: the
    app starts as fast as before, and a server nobody opens Layers on never builds the encoder)."""

    def __init__(self, directory=PROBES_DIR):
        self.directory = directory
        self._slot: ProbeSlot | None = None
        self._lock = threading.Lock()

    def get(self) -> ProbeSlot:
        with self._lock:
            if self._slot is None:
                self._slot = load_probe_slot(self.directory)
            return self._slot


class GridCache(BoundedCache):
    """Least recently used grids, keyed by (probe set, text hash, sentence)."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        super().__init__(entries)

    def get(self, slot: ProbeSlot, text: str, sentence: int) -> EmergenceGrid:
        return self.fetch((slot.directory, text_key(text), sentence), lambda: emergence(
            slot.probes, slot.encoder, slot.tokenizer, text, sentence))


CACHE = GridCache()


def sentence_dropdown(grid: EmergenceGrid) -> gr.Dropdown:
    choices = inside_tab.sentence_choices(grid.text, grid.sentence_spans)
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


def layers_view(probe_slot: ProbeSlot, slots: dict[str, TaggerSlot], text, sentence,
                cache: GridCache = CACHE) -> tuple:
    """(note, grid figure, word table, sentence picker) for one sentence of `text`."""
    if not probe_slot.ready:
        return fallback_values(f"The layer probes are not loaded ({plain(probe_slot.error)}); they "
                               f"ship in {code(relative(PROBES_DIR))}.")
    text = clean_text("" if text is None else str(text))
    if not text.strip():
        return fallback_values(PLACEHOLDER)
    grid = cache.get(probe_slot, text, inside_tab.clamp(sentence if sentence is not None else 0, 10**9, 0))
    if not grid.words:
        return fallback_values("This text has no words to read.")
    fusion = slots.get("fusion")
    shares = [None] * len(grid.words)
    fusion_layer = None
    if fusion is not None and fusion.ready:
        explanation = inside_tab.CACHE.get(fusion, text, grid.sentence)
        shares = word_gate_share(explanation, list(range(grid.first_word, grid.first_word + len(grid.words))))
        fusion_layer = fusion.tagger.config.fusion_layer
    missing = sum(s is None for s in shares)
    figure = plots.emergence_grid([w.text for w in grid.words], grid.tags, grid.scores,
                                  shares if fusion_layer is not None else None, fusion_layer)
    training = probe_slot.probes.info.get("training", {})
    trained = training.get("train_sentences")
    note = (f"Sentence {grid.sentence + 1} of {grid.n_sentences}, {len(grid.words)} words; probes "
            f"trained on {f'{trained:,}' if isinstance(trained, int) else '?'} English sentences (seed "
            f"{plain(training.get('seed', '?'))}).")
    if fusion_layer is not None and missing:
        note += (f" The gate share of {missing} word(s) is not shown: the fusion model's explanation "
                 f"covers the first {inside_tab.TOKEN_LIMIT} sub-word tokens of a sentence.")
    return note, figure, word_table(grid, shares), sentence_dropdown(grid)


def fallback_values(message: str) -> tuple:
    return message, plots.message_figure(message), pd.DataFrame(columns=TABLE_COLUMNS), gr.skip()


def build() -> dict:
    parts = {}
    gr.Markdown(HELP, elem_classes=["help"])
    parts["sentence"] = gr.Dropdown(choices=[], label="Sentence", interactive=True)
    parts["note"] = gr.Markdown(PLACEHOLDER)
    parts["grid"] = gr.Plot(show_label=False, elem_id="emergence-plot")
    parts["words"] = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS), interactive=False,
                                  label="Where each word's entity appears")
    return parts


def outputs(parts: dict) -> list:
    return [parts["note"], parts["grid"], parts["words"], parts["sentence"]]
