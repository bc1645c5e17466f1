"""Results › Layers: what each layer of the frozen encoder knows about entities, in English and
in the other languages (the stored layer-probe runs), beside the fusion layer sweep; and the same
curves after tuning (the probes on a LoRA and a fully tuned tagger's encoder), which live here
rather than in the tuning section because they are probe curves, read like the frozen one above
them. Computed when the section is opened, once per set of run records, server-wide."""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.evaluation.runs import load_runs
from fusion.evaluation.stored import folder_state
from fusion.studies.probe_results import (LAYER_COLUMNS, TUNING_LABELS, TUNING_PROBES_COMMAND, TuningCurves,
                                          findings_text, layer_grid, layer_rows, layer_table,
                                          missing_tuning_text, tuning_curve_table, tuning_curves)
from fusion.studies.results import sweep_table
from serve.markdown import code, plain
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
TUNING_HELP = (
    "**After tuning.** The same probes, trained and scored the same way, on the encoder of a tagger "
    "after its training instead of the frozen one: the shipped LoRA baseline (its adapters folded into "
    "the encoder's weights) and a baseline whose every encoder weight but the word embeddings was "
    "trained (full fine-tuning, the paper's way), both of seed 13. Left: F1 on English, the language "
    "the taggers and probes learned from; right: the mean F1 over the other languages. Where tuning "
    "lifts a layer's English curve more than its target curve, what the layer learned transfers less. "
    "Bars: ± one standard deviation over the probes' seeds (one tagger per tuning). The table adds "
    "the transfer ratio (targets / English) per encoder.")
EMPTY = pd.DataFrame(columns=LAYER_COLUMNS)
EMPTY_TUNING = pd.DataFrame(columns=["layer"])
_cache: dict[tuple, tuple] = {}
_lock = threading.Lock()


class ProbesView(NamedTuple):
    summary: str
    heatmap: object  # plotly figures
    transfer: object
    tuning_note: str  # the layers after tuning: what is measured, what is missing
    tuning_english: object  # plotly figures: one curve per encoder
    tuning_targets: object
    tuning_table: pd.DataFrame
    table: pd.DataFrame


class AfterTuning(NamedTuple):
    """The after-tuning part of the view (ProbesView's tuning_* fields)."""

    tuning_note: str
    tuning_english: object
    tuning_targets: object
    tuning_table: pd.DataFrame


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
                               "(`scripts/probe_runs.sh`).")._replace(**after_tuning(probe_records)._asdict())
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
        *after_tuning(probe_records), layer_table(rows))
    with _lock:
        _cache.clear()  # only the current records matter
        _cache[key] = result
    return result


def after_tuning(probe_records: list[dict]) -> AfterTuning:
    """The probe curves of the frozen and the tuned encoders side by side, or why there are none."""
    found = tuning_curves(probe_records)
    missing = missing_tuning_text(found.missing)
    if not any(curve.encoder for curve in found.curves):
        empty = plots.message_figure(f"No probe runs on a tuned encoder yet: {TUNING_PROBES_COMMAND}")
        return AfterTuning(missing, empty, empty, EMPTY_TUNING)
    measured = "; ".join(f"{plain(curve.label)}: {curve.rows[0].targets.n} probe seed(s)"
                         for curve in found.curves)
    note = f"Measured: {measured}."
    if not found.same_sentences:
        note += " ⚠️ Not every encoder was scored on the same test sentences: compare with care."
    return AfterTuning(note + (f"\n\n{missing}" if missing else ""),
                       curves_figure(found, "english", "Probe F1 on English"),
                       curves_figure(found, "targets", "Probe F1, other languages"),
                       tuning_curve_table(found))


def curves_figure(found: TuningCurves, part: str, title: str):
    """One line per encoder over the layers: `part` ("english" or "targets") of its rows."""
    layers = sorted({row.layer for curve in found.curves for row in curve.rows})
    series, errors = {}, {}
    for curve in found.curves:
        rows = {row.layer: getattr(row, part) for row in curve.rows}
        name = html.escape(curve.label)  # the tagger's name comes from a file: never markup in a legend
        series[name] = [rows[layer].mean if layer in rows else float("nan") for layer in layers]
        errors[name] = [rows[layer].sd if layer in rows else float("nan") for layer in layers]
    absent = [TUNING_LABELS[t] for t in found.missing]
    subtitle = ("mean target F1" if part == "targets" else "F1") + " per layer, mean over probe seeds" + (
        f"; not measured yet: {', '.join(absent)}" if absent else "")
    figure = plots.layer_sweep(layers, series, errors, title=title, subtitle=subtitle)
    figure.update_xaxes(title="layer (0 = embeddings)")
    figure.update_traces(hovertemplate="layer %{x}: %{y:.1f} F1<extra>%{fullData.name}</extra>")
    return figure


def fallback_values(message: str) -> ProbesView:
    figure = plots.message_figure(message)
    return ProbesView(message, figure, figure, message, figure, figure, EMPTY_TUNING, EMPTY)


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
            gr.Markdown(TUNING_HELP, elem_classes=["help"])
            parts["tuning_note"] = gr.Markdown()
            with gr.Row():
                parts["tuning_english"] = gr.Plot(show_label=False)
                parts["tuning_targets"] = gr.Plot(show_label=False)
            parts["tuning_table"] = gr.Dataframe(EMPTY_TUNING, interactive=False,
                                                 label="Per layer and encoder (F1 in points, mean over seeds)")

    def on_open(self) -> dict:
        shown = view(self.services.probe_runs_dir, self.services.runs.records)
        # each column in one number format: F1 with one decimal, the ratio with three
        table = decimals(shown.table, whole=("layer", "seeds"), finer={"transfer ratio": 3, "ratio ±": 3})
        ratios = {column: 3 for column in shown.tuning_table.columns if column.endswith(": ratio")}
        tuning_table = decimals(shown.tuning_table, whole=("layer",), finer=ratios)
        return self.parts.updates(shown._replace(table=table, tuning_table=tuning_table))

    def wire(self, page) -> None:
        self.parts["accordion"].expand(
            safe(self.on_open, lambda message: self.parts.updates(fallback_values(message))), None,
            self.parts.pick(*ProbesView._fields), api_name="layer_probes")
