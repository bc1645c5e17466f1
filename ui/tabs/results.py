"""Results: per-language F1 of baseline and fusion from the stored runs, with seeds and bootstrap
intervals, the difference per language, and the layer sweep. (Its two sections below, the layer
probes and the intermediate tasks, are ui/tabs/results_*.py.)"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.studies.bootstrap import DeltaInterval
from fusion.studies.results import (LANGUAGE_COLUMNS, SOURCE_LANGUAGE, RunGroup, best_sweep_layer, csv_safe,
                                    fusion_models, group_by_key, groups, language_table, summarise,
                                    sweep_table)
from fusion.text.languages import language_info
from serve.markdown import plain
from serve.paths import TEMP_DIR
from serve.runs import bootstrap_intervals, default_choice, read_results
from ui import plots
from ui.common import Parts, decimals, group_options, natural_key, safe

TABLE_COLUMNS = LANGUAGE_COLUMNS + ["Δ 95% low", "Δ 95% high"]
NOISE_NOTE = (
    "**How sure is a difference?** F1 moves with the training seed and with which sentences a test "
    "set happens to hold. ± is the standard deviation over seeds; the 95 % interval of Δ comes from "
    "a paired bootstrap over the test sentences (1,000 resamples) that also resamples the seeds. "
    "Read a Δ whose interval contains 0 as no measured difference; starred bars exclude 0.")
DELTA_HELP = (
    "**Δ F1 per target language.** Each bar is the fusion model's F1 minus the baseline's (means "
    "over seeds); whiskers are the 95 % bootstrap interval. Solid, starred bars: the interval "
    "excludes 0; pale bars: it does not. English, the training language, is reported above, not "
    "among the bars.")
SWEEP_HELP = (
    "**Layer sweep.** One fusion model per layer k (0 = embeddings), each trained the same short "
    "way. Green is the English dev F1 that training kept — the score k was chosen by, on the "
    "sentences named in the legend; orange is the mean dev F1 over the target languages, which is "
    "never used to choose. The dashed line marks the loaded fusion model's k.")


class ResultsView(NamedTuple):
    summary: str
    table: pd.DataFrame
    csv: str | None  # the table as a CSV file, for the download button
    delta: object  # plotly figures
    sweep: object


class Reloaded(NamedTuple):
    records: list[dict]
    warning: str
    group: gr.Dropdown
    fusion: gr.Dropdown


def group_choices(records: list[dict]) -> list[tuple[str, str]]:
    return group_options(groups(records))


def model_choices(records: list[dict], group: RunGroup | None) -> list[str]:
    """The group's fusion models in natural order (fusion-l2 before fusion-l10)."""
    return sorted(fusion_models(records, group), key=natural_key) if group else []


def shown_table(table: pd.DataFrame):
    """The per-language table as the page shows it: one decimal in every score column (the CSV
    keeps the numbers as they are)."""
    return decimals(table, whole=("sentences",))


def with_intervals(table: pd.DataFrame, intervals: dict[str, DeltaInterval]) -> pd.DataFrame:
    table = table.copy()
    table["Δ 95% low"] = [round(intervals[c].low, 1) if c in intervals else None for c in table["language"]]
    table["Δ 95% high"] = [round(intervals[c].high, 1) if c in intervals else None for c in table["language"]]
    return table[TABLE_COLUMNS]


def summary_markdown(records: list[dict], group: RunGroup | None, fusion_model: str | None,
                     intervals: dict[str, DeltaInterval], note: str = "") -> str:
    if group is None or fusion_model is None:
        return "No test-split runs of both models yet."
    summary = summarise(records, group, fusion_model)
    average = intervals.get("average")
    verdict = ""
    if average is not None:
        verdict = (f" Δ = {average.delta:+.2f}, 95 % interval [{average.low:+.2f}, {average.high:+.2f}]: "
                   + ("the interval excludes 0." if average.excludes_zero else
                      "the interval contains 0, so this gain is not established."))
    lines = [
        f"**Runs:** {plain(group.label)} · seeds: baseline {summary.baseline.n}, "
        f"{fusion_model} {summary.fusion.n}.",
        f"**Average F1 over {summary.targets} target languages:** baseline {summary.baseline.text()}, "
        f"{fusion_model} {summary.fusion.text()}; fusion is better on {summary.better} of "
        f"{summary.targets} languages.{verdict}",
        f"**{language_info(SOURCE_LANGUAGE).name} (the training language, not a target):** baseline "
        f"{_number(summary.source_baseline)}, fusion {_number(summary.source_fusion)}.",
        NOISE_NOTE + (f" {note}" if note else ""),
    ]
    return "\n\n".join(lines)


def _number(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def delta_figure(table: pd.DataFrame, intervals: dict[str, DeltaInterval], group_by: str = "family"):
    column = "script" if group_by == "script" else "family"
    targets = table[table["language"] != SOURCE_LANGUAGE]
    return plots.delta_bars(
        [f"{n} ({c})" for n, c in zip(targets["name"], targets["language"])],
        [None if d is None or pd.isna(d) else float(d) for d in targets["Δ F1"]],
        list(targets[column]),
        [(intervals[c].low, intervals[c].high) if c in intervals else None for c in targets["language"]],
        group_title=column)


def sweep_figure(records: list[dict], chosen_layer: int | None):
    table = sweep_table(records)
    if table.empty:
        return plots.layer_sweep([], {})
    sentences = table["selection sentences"].dropna()
    english = ("English dev F1 that chose k"
               + (f" (first {int(sentences.max()):,} dev sentences)" if len(sentences) else ""))
    best = best_sweep_layer(table)
    return plots.layer_sweep(
        table["layer"].tolist(),
        {"mean over target languages (dev)": table["targets"].tolist(), english: table["selection F1"].tolist()},
        {"mean over target languages (dev)": table["targets ±"].tolist()},
        chosen_layer=chosen_layer,
        subtitle=f"best English k = {best}" if best is not None else "")


def write_csv(table: pd.DataFrame) -> str:
    """The per-language table as a CSV file in the temp folder (what the download button serves).
    Named by its content, so reloading the page rewrites one file instead of piling up new ones."""
    text = csv_safe(table).to_csv(index=False)  # no cell runs as a spreadsheet formula
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    path = Path(TEMP_DIR) / f"lfe-per-language-{digest}.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def results_view(runs_dir, records: list[dict], group_key: str | None, fusion_model: str | None,
                 group_by: str, chosen_layer: int | None) -> ResultsView:
    """The summary, table, CSV and both figures for the chosen group and fusion model."""
    group = group_by_key(records, group_key)
    if group is not None and fusion_model not in fusion_models(records, group):
        fusion_model = next(iter(fusion_models(records, group)), None)
    intervals, note = bootstrap_intervals(runs_dir, records, group, fusion_model)
    table = with_intervals(language_table(records, group, fusion_model), intervals)
    return ResultsView(summary_markdown(records, group, fusion_model, intervals, note), table, write_csv(table),
                       delta_figure(table, intervals, group_by), sweep_figure(records, chosen_layer))


def fallback_values(message: str) -> ResultsView:
    return ResultsView(message, pd.DataFrame(columns=TABLE_COLUMNS), None, plots.message_figure(message),
                       plots.message_figure(message))


def reload_values(runs_dir, loaded_fusion: str | None, wanted_group: str | None = None,
                  wanted_fusion: str | None = None) -> Reloaded:
    """The records, the warning and both dropdowns after (re)reading the runs folder; the group
    and fusion model a link asks for are chosen when the runs have them."""
    records, warning = read_results(runs_dir)
    group_key, fusion_model = default_choice(records, loaded_fusion)
    if group_by_key(records, wanted_group) is not None:
        group_key = wanted_group
        models = fusion_models(records, group_by_key(records, group_key))
        fusion_model = wanted_fusion if wanted_fusion in models else next(iter(models), None)
    group = group_by_key(records, group_key)
    return Reloaded(records, warning, gr.Dropdown(choices=group_choices(records), value=group_key),
                    gr.Dropdown(choices=model_choices(records, group), value=fusion_model))


def _build(records: list[dict], loaded_fusion: str | None) -> Parts:
    parts = Parts()
    group_key, fusion_model = default_choice(records, loaded_fusion)
    parts["warning"] = gr.Markdown(elem_id="results-warning")
    with gr.Row():
        # wide, and the label's start tells the groups apart (`group_label`)
        parts["group"] = gr.Dropdown(group_choices(records), value=group_key, scale=3, min_width=300,
                                     label="Runs to compare (seeds of one recipe are averaged)")
        parts["fusion"] = gr.Dropdown(model_choices(records, group_by_key(records, group_key)),
                                      value=fusion_model, label="Fusion model")
        parts["group_by"] = gr.Radio(["family", "script"], value="family", label="Group languages by")
        parts["reload"] = gr.Button("Reload runs", size="sm")
    parts["summary"] = gr.Markdown()
    parts["table"] = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS), label="F1 per language",
                                  interactive=False, elem_id="language-table", wrap=True)
    parts["csv"] = gr.DownloadButton("Download CSV", size="sm")
    gr.Markdown(DELTA_HELP, elem_classes=["help"])
    parts["delta"] = gr.Plot(label="Δ F1", show_label=False)
    gr.Markdown(SWEEP_HELP, elem_classes=["help"])
    parts["sweep"] = gr.Plot(label="Layer sweep", show_label=False)
    return parts


class ResultsTab:
    def __init__(self, page, tab: gr.Tab):
        self.page, self.services = page, page.services
        self.parts = _build(self.services.runs.records, self.services.loaded_fusion)
        page.add_link_fields(group=self.parts["group"], fusion=self.parts["fusion"], by=self.parts["group_by"])
        page.add_link_step(self.reload_then)
        # one guarded function each, so that every event drawing the results shares one queue slot
        self.guarded_reload = safe(self.on_reload, lambda message: {self.parts["warning"]: message})
        self.guarded_results = safe(self.on_results, lambda message: self.parts.updates(fallback_values(message)))

    def on_reload(self, request: gr.Request = None) -> dict:
        """Re-read the runs folder (for everyone); the group a link asks for is chosen."""
        wanted = self.page.link_state(request)
        reloaded = reload_values(self.services.runs.folder, self.services.loaded_fusion, wanted.group,
                                 wanted.fusion)
        self.services.runs.records = reloaded.records
        return self.parts.updates({"warning": reloaded.warning, "group": reloaded.group,
                                   "fusion": reloaded.fusion, "group_by": wanted.by})

    def on_results(self, group_key, fusion_model, group_by) -> dict:
        services = self.services
        view = results_view(services.runs.folder, services.runs.records, group_key, fusion_model, group_by,
                            services.fusion_layer)
        return self.parts.updates(view._replace(table=shown_table(view.table)))

    def reload_then(self, event):
        """Reload the runs, then draw them (also when a link is opened: its group is shown)."""
        parts = self.parts
        return event.then(self.guarded_reload, None,
                          parts.pick("warning", "group", "fusion", "group_by"), api_visibility="private",
                          ).then(self.guarded_results, parts.pick("group", "fusion", "group_by"),
                                 parts.pick(*ResultsView._fields), api_visibility="private")

    def wire(self, page) -> None:
        parts, inputs = self.parts, self.parts.pick("group", "fusion", "group_by")
        parts["reload"].click(self.guarded_reload, None,
                              parts.pick("warning", "group", "fusion", "group_by"), api_name="reload_runs",
                              ).then(self.guarded_results, inputs, parts.pick(*ResultsView._fields),
                                     api_name="results")
        page.synced(gr.on([parts["group"].input, parts["fusion"].input, parts["group_by"].input],
                          self.guarded_results, inputs, parts.pick(*ResultsView._fields),
                          api_visibility="private"))
