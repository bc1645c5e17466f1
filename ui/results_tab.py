"""Results: per-language F1 of baseline and fusion from the stored runs, with seeds and bootstrap
intervals, the difference per language, and the layer sweep."""

from __future__ import annotations

import hashlib
import math
import tempfile
import threading
from pathlib import Path

import gradio as gr
import pandas as pd

from fusion import plots
from fusion.bootstrap import DeltaInterval, run_intervals
from fusion.languages import language_info
from fusion.predictions import PredictionsError
from fusion.results import (LANGUAGE_COLUMNS, SOURCE_LANGUAGE, RunGroup, best_sweep_layer,
                            fusion_models, group_by_key, group_records, groups, language_table,
                            summarise, sweep_table)
from fusion.runs import load_runs

from . import intermediate_section, layers_section
from .common import code, plain, relative

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


def read_results(runs_dir) -> tuple[list[dict], str]:
    """Valid run records and a Markdown warning naming each skipped file once (escaped)."""
    folder = Path(runs_dir)
    if not folder.is_dir():
        return [], f"⚠️ No run folder at {code(relative(folder))}."
    records, warnings = load_runs(folder)
    text = ""
    if warnings:
        unique = list(dict.fromkeys((w.file, w.message) for w in warnings))
        text = (f"⚠️ {len(unique)} run file(s) skipped:\n"
                + "\n".join(f"- {plain(name)}: {plain(message)}" for name, message in unique))
    if not records and not warnings:
        text = f"No run records in {code(relative(folder))} yet (`python -m fusion evaluate --output ...`)."
    return records, text


def group_choices(records: list[dict]) -> list[tuple[str, str]]:
    return [(group.label, group.key) for group in groups(records)]


_BOOTSTRAP_LOCK = threading.Lock()
_INTERVALS: dict[tuple, dict[str, DeltaInterval]] = {}  # (folder, its files' times, group, model)


def bootstrap_intervals(runs_dir, records: list[dict], group: RunGroup | None,
                        fusion_model: str | None, between=None) -> tuple[dict[str, DeltaInterval], str]:
    """language -> interval (and "average"), or {} and why there are none. Cached until a file
    in the runs folder changes; a second caller waits for the first one's result."""
    if group is None or fusion_model is None:
        return {}, ""
    folder = Path(runs_dir)
    key = (str(folder), tuple(sorted((p.name, p.lstat().st_mtime_ns) for p in folder.glob("*"))),
           group, fusion_model)
    try:
        with _BOOTSTRAP_LOCK:
            if key not in _INTERVALS:
                if len(_INTERVALS) > 16:  # a few groups × models; old folder states go
                    _INTERVALS.clear()
                _INTERVALS[key] = run_intervals(group_records(records, group), folder, fusion_model,
                                                SOURCE_LANGUAGE, between)
    except (PredictionsError, ValueError) as error:
        return {}, f"No bootstrap intervals: {plain(error)}"
    return _INTERVALS[key], ""


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
        title="Dev F1 by fusion layer k" + (f" (best English k = {best})" if best is not None else ""))


def write_csv(table: pd.DataFrame) -> str:
    """The per-language table as a CSV file in the temp folder (what the download button serves).
    Named by its content, so reloading the page rewrites one file instead of piling up new ones."""
    text = table.to_csv(index=False)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"lfe-per-language-{digest}.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def results_view(runs_dir, records: list[dict], group_key: str | None, fusion_model: str | None,
                 group_by: str, chosen_layer: int | None) -> tuple:
    """(summary, table, csv path, Δ figure, sweep figure) for the chosen group and fusion model."""
    group = group_by_key(records, group_key)
    if group is not None and fusion_model not in fusion_models(records, group):
        fusion_model = next(iter(fusion_models(records, group)), None)
    intervals, note = bootstrap_intervals(runs_dir, records, group, fusion_model)
    table = with_intervals(language_table(records, group, fusion_model), intervals)
    return (summary_markdown(records, group, fusion_model, intervals, note), table, write_csv(table),
            delta_figure(table, intervals, group_by), sweep_figure(records, chosen_layer))


def fallback_values(message: str) -> tuple:
    return (message, pd.DataFrame(columns=TABLE_COLUMNS), None, plots.message_figure(message),
            plots.message_figure(message))


def default_choice(records: list[dict], loaded_fusion: str | None) -> tuple[str | None, str | None]:
    """The most-trained, most-evaluated group, and the loaded fusion model if it has runs there."""
    found = groups(records)
    if not found:
        return None, None
    models = fusion_models(records, found[0])
    return found[0].key, loaded_fusion if loaded_fusion in models else next(iter(models), None)


def warm_up(runs_dir, records: list[dict], loaded_fusion: str | None, between=None) -> None:
    """Compute the default view's bootstrap in the background at start-up, so the first visitor
    of the Results tab does not wait for it (seconds for full test sets). `between()` is called
    before each language: the app lets Compare requests go first."""
    group_key, fusion_model = default_choice(records, loaded_fusion)
    threading.Thread(target=bootstrap_intervals, daemon=True,
                     args=(runs_dir, records, group_by_key(records, group_key), fusion_model, between)).start()


def reload_values(runs_dir, loaded_fusion: str | None, wanted_group: str | None = None,
                  wanted_fusion: str | None = None) -> tuple:
    """(records, warning, group dropdown, fusion dropdown) after (re)reading the runs folder;
    the group and fusion model a link asks for are chosen when the runs have them."""
    records, warning = read_results(runs_dir)
    group_key, fusion_model = default_choice(records, loaded_fusion)
    if group_by_key(records, wanted_group) is not None:
        group_key = wanted_group
        models = fusion_models(records, group_by_key(records, group_key))
        fusion_model = wanted_fusion if wanted_fusion in models else next(iter(models), None)
    group = group_by_key(records, group_key)
    return (records, warning, gr.Dropdown(choices=group_choices(records), value=group_key),
            gr.Dropdown(choices=fusion_models(records, group) if group else [], value=fusion_model))


def build(records: list[dict], loaded_fusion: str | None) -> dict:
    """Lay out the Results tab; returns its components."""
    parts = {}
    group_key, fusion_model = default_choice(records, loaded_fusion)
    parts["warning"] = gr.Markdown(elem_id="results-warning")
    with gr.Row():
        parts["group"] = gr.Dropdown(group_choices(records), value=group_key,
                                     label="Runs to compare (seeds of one recipe are averaged)")
        parts["fusion"] = gr.Dropdown(fusion_models(records, group_by_key(records, group_key))
                                      if group_key else [], value=fusion_model, label="Fusion model")
        parts["group_by"] = gr.Radio(["family", "script"], value="family", label="Group languages by")
        parts["reload"] = gr.Button("Reload runs", size="sm")
    parts["summary"] = gr.Markdown()
    parts["table"] = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS),
                                  label="F1 per language",
                                  interactive=False, elem_id="language-table")
    parts["csv"] = gr.DownloadButton("Download CSV", size="sm")
    gr.Markdown(DELTA_HELP, elem_classes=["help"])
    parts["delta"] = gr.Plot(label="Δ F1", show_label=False)
    gr.Markdown(SWEEP_HELP, elem_classes=["help"])
    parts["sweep"] = gr.Plot(label="Layer sweep", show_label=False)
    parts["layers"] = layers_section.build()
    parts["intermediate"] = intermediate_section.build(records)
    return parts


def outputs(parts: dict) -> list:
    return [parts["summary"], parts["table"], parts["csv"], parts["delta"], parts["sweep"]]
