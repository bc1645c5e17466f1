"""Results › Layers: what each layer of the frozen encoder knows about entities, in English and
in the other languages (the stored layer-probe runs), beside the fusion layer sweep. Computed
when the section is opened, once per set of run records, server-wide."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.evaluation.runs import load_runs
from fusion.evaluation.stored import folder_state
from fusion.studies.probe_results import LAYER_COLUMNS, findings_text, layer_grid, layer_rows, layer_table
from fusion.studies.results import sweep_table
from serve.markdown import code
from serve.paths import relative
from ui import plots
from ui.common import Parts, decimals, safe

HELP = (
    "**What does each layer know?** A *probe* is the simplest possible tagger: one linear layer "
    "that reads the features of a single layer of the encoder, which itself stays frozen (nothing "
    "in it is trained). One probe per layer, 0 (the word embeddings) to 12 (the last layer), each "
    "trained on the same 20,000 English sentences. If a probe tags well, the names are easy to "
    "read off that layer.")
HEATMAP_HELP = (
    "**Probe F1 per layer and language.** Each row is a layer (0 at the top), each column a "
    "language, grouped by family; brighter = better. Read down a column to see at which depth a "
    "language's names become readable; read across a row to see which languages a layer serves.")
TRANSFER_HELP = (
    "**English against the rest.** Green: the probe's F1 on English, the language it learned from; "
    "orange: its mean F1 over the other languages it never saw; dashed blue (right axis): orange "
    "divided by green, the *transfer ratio*. If lower layers carry more cross-lingual information, "
    "the ratio is higher at lower layers. Purple, when shown: the fusion tagger that fuses layer k "
    "with the last layer (the layer sweep, mean target F1 on dev sentences). Bars: ± one standard "
    "deviation over seeds.")
EMPTY = pd.DataFrame(columns=LAYER_COLUMNS)
_cache: dict[tuple, tuple] = {}
_lock = threading.Lock()


class ProbesView(NamedTuple):
    summary: str
    heatmap: object  # plotly figures
    transfer: object
    table: pd.DataFrame


def view(probe_runs_dir, records: list[dict]) -> ProbesView:
    """The summary, heat map, transfer chart and table from the probe runs and the main runs' sweep."""
    folder = Path(probe_runs_dir)
    # keyed by the files' names, sizes and times: a section opened again reads no run file
    key = (str(folder),) + (folder_state(folder, "*.json") if folder.is_dir() else ())
    with _lock:
        if key in _cache:
            return _cache[key]
    probe_records, warnings = load_runs(folder) if folder.is_dir() else ([], [])
    rows = layer_rows(probe_records)
    if not rows:
        return fallback_values(f"No layer-probe runs in {code(relative(folder))} "
                               "(`scripts/probe_runs.sh`).")
    grid = layer_grid(probe_records)
    sweep = sweep_table(records)
    note = findings_text(rows)
    if warnings:
        note += f"\n\n⚠️ {len(warnings)} probe run file(s) skipped."
    result = ProbesView(
        note, plots.probe_heatmap(grid.layers, grid.languages, grid.families, grid.f1),
        plots.layer_transfer([r.layer for r in rows], [r.english.mean for r in rows],
                             [r.targets.mean for r in rows], [r.ratio.mean for r in rows],
                             [r.english.sd for r in rows], [r.targets.sd for r in rows],
                             [r.ratio.sd for r in rows], sweep["layer"].tolist(), sweep["targets"].tolist()),
        layer_table(rows))
    with _lock:
        _cache.clear()  # only the current records matter
        _cache[key] = result
    return result


def fallback_values(message: str) -> ProbesView:
    return ProbesView(message, plots.message_figure(message), plots.message_figure(message), EMPTY)


class LayerProbesSection:
    """An accordion at the foot of the Results tab; drawn when it is opened."""

    def __init__(self, page, tab: gr.Tab):
        self.services = page.services
        self.parts = parts = Parts()
        with gr.Accordion("Layers: what each layer of the encoder knows, in English and elsewhere",
                          open=False) as parts["accordion"]:
            gr.Markdown(HELP, elem_classes=["help"])
            parts["summary"] = gr.Markdown()
            gr.Markdown(HEATMAP_HELP, elem_classes=["help"])
            parts["heatmap"] = gr.Plot(show_label=False)
            gr.Markdown(TRANSFER_HELP, elem_classes=["help"])
            parts["transfer"] = gr.Plot(show_label=False)
            parts["table"] = gr.Dataframe(EMPTY, interactive=False, label="Per layer (F1 in points, mean over seeds)")

    def on_open(self) -> dict:
        shown = view(self.services.probe_runs_dir, self.services.runs.records)
        # each column in one number format: F1 with one decimal, the ratio with three
        table = decimals(shown.table, whole=("layer", "seeds"), finer={"transfer ratio": 3, "ratio ±": 3})
        return self.parts.updates(shown._replace(table=table))

    def wire(self, page) -> None:
        self.parts["accordion"].expand(
            safe(self.on_open, lambda message: self.parts.updates(fallback_values(message))), None,
            self.parts.pick(*ProbesView._fields), api_name="layer_probes")
