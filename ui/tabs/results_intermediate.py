"""Results → Intermediate tasks: which English task, trained before a target task (NER, POS, XNLI),
moves zero-shot transfer: a task × target heat map of Δ on the target average, and for NER a task ×
language one. The bootstraps behind them take seconds, so they run when the section is opened and
are kept server-wide per set of run records."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from fusion.evaluation.runs import FULL_DIRECT_STUDY, FULL_STUDY, INTERMEDIATE_STUDY
from fusion.studies.intermediate_results import (NOT_RUN, TARGET_METRICS, TARGET_NAMES, TargetCell,
                                                 TargetHeatmap, accuracy_target_runs, domain_table,
                                                 effects_table, heatmap, target_effects, target_heatmap,
                                                 target_table, task_effects)
from fusion.studies.pos_results import pooled_pos, pos_results, pos_table
from serve.markdown import plain
from serve.paths import pair_runs_dir, pos_runs_dir
from ui import plots
from ui.common import SPARE_COLOURS, Parts, decimals, natural_key, safe

HELP = (
    "**Intermediate tasks.** Before learning NER, the model first learns another English task: "
    "chunking or part-of-speech tags (syntax), sentiment (SST-2), inference (RTE), paraphrase "
    "(MRPC) or question answering (SQuAD). Then it learns English NER exactly like the direct "
    "model, and is tested on languages it never saw. Each cell is the change in F1 that the task "
    "made for one language (blue: better, red: worse; * = the 95 % interval excludes 0); "
    "languages are grouped by family. Hover a cell for its interval.")
TARGETS_HELP = (
    "**Does the domain of the task matter, and for which target?** Each row is an English task "
    "learned first; each column a target task learned after it and tested on the other languages: "
    "NER (names, F1), POS (word classes, accuracy), XNLI (does one sentence follow from another, "
    "accuracy). A cell is the change on the average of the target languages against the same "
    "model trained without the task, in points, with its 95 % interval (* = the interval excludes "
    "0; blue: better, orange-red: worse). Grey cells say *not run*: those runs have not been made yet.")
# Okabe–Ito blue, vermillion and grey from the page's one palette (none is an entity type's colour)
BETTER, WORSE, NOT_RUN_COLOUR = SPARE_COLOURS[0], SPARE_COLOURS[1], SPARE_COLOURS[3]
POS_HELP = (
    "**POS as a second target.** The same two kinds of tagger, trained on English part-of-speech "
    "tags (UD-POS, 17 tags) instead of names, and tested on the other languages by the share of "
    "words tagged right. The fusion layer was chosen on English dev accuracy only.")
EMPTY_TABLE = pd.DataFrame(columns=["task", "domain", "model", "seeds", "Δ target average"])
_cache: dict[tuple, tuple] = {}
_target_cache: dict[tuple, list] = {}
_lock = threading.Lock()


def _key(runs_dir, records: list[dict]) -> tuple:
    return (str(runs_dir),) + tuple(sorted((r["name"], r["checkpoint"].get("sha256", "")) for r in records
                                           if r.get("study") in (INTERMEDIATE_STUDY, FULL_STUDY)))


def effects(runs_dir, records: list[dict]) -> tuple[list, list]:
    """(small-scale effects, full-scale effects), computed once per set of records."""
    key = _key(runs_dir, records)
    with _lock:  # one computation at a time; later visitors read the result
        if key not in _cache:
            _cache.clear()  # only the current records matter
            _cache[key] = (task_effects(records, runs_dir),
                           task_effects(records, runs_dir, FULL_STUDY, FULL_DIRECT_STUDY))
        return _cache[key]


def accuracy_effects(runs_dir) -> list:
    """The POS and XNLI targets' effects (the runs beside `runs_dir`), computed once per set of runs."""
    runs = accuracy_target_runs(pos_runs_dir(runs_dir), pair_runs_dir(runs_dir))
    key = tuple((str(found.folder),) + tuple(sorted((r["name"], r["checkpoint"].get("sha256", ""))
                                                    for r in found.records)) for found in runs)
    with _lock:
        if key not in _target_cache:
            _target_cache.clear()
            _target_cache[key] = target_effects(runs)
        return _target_cache[key]


def _cell_text(cell: TargetCell) -> str:
    if cell.average is None:
        return NOT_RUN
    star = " *" if cell.average.excludes_zero else ""
    return f"<b>{cell.average.delta:+.1f}{star}</b><br>[{cell.average.low:+.1f}, {cell.average.high:+.1f}]"


def _cell_hover(grid: TargetHeatmap, row: int, column: int) -> str:
    task, target, cell = grid.tasks[row], grid.targets[column], grid.cells[row][column]
    where = f"{task} ({grid.domains[row]}) → {TARGET_NAMES[target]}"
    if cell.average is None:
        return f"{where}: not run"
    return (f"{where}, {cell.model}: Δ {TARGET_METRICS[target]} {cell.average.delta:+.2f} points, 95 % interval "
            f"[{cell.average.low:+.2f}, {cell.average.high:+.2f}], {cell.seeds} seed{'s' * (cell.seeds != 1)}")


def target_figure(grid: TargetHeatmap) -> go.Figure:
    """tasks (rows) × targets (columns) of Δ on the target average, each cell naming Δ and its
    interval so that a phone needs no hover; not-run cells grey and said. Text is the study's own
    names and numbers (task and model names are checked run-record tokens), never a visitor's."""
    size = range(len(grid.tasks)), range(len(grid.targets))
    measured = [[c.average.delta if c.average else None for c in row] for row in grid.cells]
    found = [abs(v) for row in measured for v in row if v is not None]
    limit = max(found, default=1.0) or 1.0
    hover = [[_cell_hover(grid, r, c) for c in size[1]] for r in size[0]]
    columns = [f"<b>{TARGET_NAMES[t]}</b><br>{model or grid.side}" for t, model in zip(grid.targets, grid.models)]
    shared = dict(x=list(size[1]), y=list(size[0]), customdata=hover, texttemplate="%{text}",
                  hovertemplate="%{customdata}<extra></extra>", xgap=2, ygap=2)
    figure = go.Figure([
        go.Heatmap(z=[[0 if v is None else None for v in row] for row in measured],
                   text=[[NOT_RUN if v is None else "" for v in row] for row in measured],
                   colorscale=[[0, NOT_RUN_COLOUR], [1, NOT_RUN_COLOUR]], showscale=False,
                   textfont=dict(size=12, color="#000000"), opacity=0.45, **shared),
        go.Heatmap(z=measured, text=[[_cell_text(c) if c.average else "" for c in row] for row in grid.cells],
                   colorscale=[[0, WORSE], [0.5, "#FFFFFF"], [1, BETTER]], zmid=0, zmin=-limit, zmax=limit,
                   colorbar=dict(title=dict(text="Δ points"), thickness=10, len=0.8), textfont=dict(size=12),
                   **shared)])
    figure.update_xaxes(tickmode="array", tickvals=list(size[1]), ticktext=columns, side="top", showgrid=False,
                        zeroline=False)
    figure.update_yaxes(tickmode="array", tickvals=list(size[0]), ticktext=grid.tasks, autorange="reversed",
                        showgrid=False, zeroline=False)
    figure.update_layout(title=dict(text=f"Δ target average · {grid.side}", x=0.01, xanchor="left", y=0.99,
                                    yanchor="top", font=dict(size=14)),
                         height=70 + 58 * len(grid.tasks) + 80, margin=dict(l=70, r=10, t=100, b=10),
                         template=plots.white_template(), font=dict(size=12))
    return figure


class IntermediateView(NamedTuple):
    heatmap: object  # the plotly figure
    tasks: pd.DataFrame
    domains: pd.DataFrame
    full: pd.DataFrame
    pos_note: str
    pos: pd.DataFrame
    targets: object  # the task × target figure
    target_table: pd.DataFrame


def taggers(records: list[dict]) -> list[str]:
    found = {r["checkpoint"]["model"] for r in records if r.get("study") == INTERMEDIATE_STUDY}
    return sorted(found, key=lambda model: (model != "baseline", natural_key(model)))


def pos_view(pos_dir) -> tuple[str, pd.DataFrame]:
    """(how the POS runs were made, accuracy per language) from the POS runs folder."""
    found = pos_results(pos_dir) if Path(pos_dir).is_dir() else []
    if not found:
        return "No POS runs (`scripts/pos_runs.sh`) in this folder.", EMPTY_TABLE
    first = found[0]
    tried = "; ".join(f"seed {r.seed}: " + ", ".join(f"{model}: {100 * value:.1f}"
                                                     for model, value in r.dev_accuracy.items()) for r in found)
    scope = (f"the first ≤ {first.sentences} test sentences" if first.sentences else "all test sentences")
    chosen = ", ".join(sorted({r.chosen for r in found}))
    seeds = ", ".join(str(r.seed) for r in found)
    pooled = len(found) > 1
    note = (f"Seed{'s' if pooled else ''} {seeds}; UPOS accuracy in percent on {scope} per language"
            f"{' (means over the seeds)' if pooled else ''}; Δ = {plain(chosen)} − baseline with its 95 % "
            f"interval ({'seeds and sentences' if pooled else 'sentences'} resampled). English dev "
            f"accuracy of the fusion layers tried: {plain(tried)}.")
    return note, pos_table(pooled_pos(found) if pooled else first.deltas)


def view(runs_dir, records: list[dict], model: str | None) -> IntermediateView:
    """The task × target heat map and table, and for NER the task × language heat map and the task,
    domain and full-scale tables, for one tagger; and the POS runs."""
    small, full = effects(runs_dir, records)
    every_target = small + accuracy_effects(runs_dir)
    side = "baseline" if (model or "baseline") == "baseline" else "fusion"
    targets = target_figure(target_heatmap(every_target, side))
    pos_note, pos = pos_view(pos_runs_dir(runs_dir))
    if not small:
        return fallback_values("No intermediate-task runs with a direct reference in this folder.")._replace(
            pos_note=pos_note, pos=pos, targets=targets, target_table=target_table(every_target))
    model = model or taggers(records)[0]
    cells = heatmap(small, model)
    figure = plots.delta_heatmap(cells.tasks, cells.languages, cells.families, cells.delta,
                                 cells.low, cells.high,
                                 title="Δ F1 per intermediate task", subtitle=f"{model} tagger")
    return IntermediateView(figure, effects_table(small), domain_table(small), effects_table(full), pos_note, pos,
                            targets, target_table(every_target))


def fallback_values(message: str) -> IntermediateView:
    return IntermediateView(plots.message_figure(message), EMPTY_TABLE, EMPTY_TABLE, EMPTY_TABLE, message,
                            EMPTY_TABLE, plots.message_figure(message), EMPTY_TABLE)


class IntermediateSection:
    """An accordion at the foot of the Results tab; drawn when it is opened or a tagger picked."""

    def __init__(self, page, tab: gr.Tab):
        self.services = page.services
        self.parts = parts = Parts()
        choices = taggers(self.services.runs.records)
        with gr.Accordion("Intermediate tasks: does an English task learned first help?",
                          open=False) as parts["accordion"]:
            gr.Markdown(HELP, elem_classes=["help"])
            parts["model"] = gr.Radio(choices, value=choices[0] if choices else None, label="Tagger")
            gr.Markdown(TARGETS_HELP, elem_classes=["help"])
            parts["targets"] = gr.Plot(label="Δ target average per task and target", show_label=False)
            parts["target_table"] = gr.Dataframe(EMPTY_TABLE, interactive=False,
                                                 label="Per task and target: Δ [95 % interval], both models")
            parts["heatmap"] = gr.Plot(label="Δ F1 per task and language", show_label=False)
            parts["tasks"] = gr.Dataframe(EMPTY_TABLE, interactive=False,
                                          label="Per task: Δ on the average of the target languages")
            parts["domains"] = gr.Dataframe(EMPTY_TABLE, interactive=False, label="Per domain")
            gr.Markdown("**At the shipped scale.** The task whose taggers scored best on *English dev* "
                        "(never a target language) was trained again with the shipped recipe "
                        "(20,000 sentences, 3 epochs) and compared with the direct shipped taggers.",
                        elem_classes=["help"])
            parts["full"] = gr.Dataframe(EMPTY_TABLE, interactive=False, label="Best task, shipped scale")
            gr.Markdown(POS_HELP, elem_classes=["help"])
            parts["pos_note"] = gr.Markdown()
            parts["pos"] = gr.Dataframe(EMPTY_TABLE, interactive=False, label="UPOS accuracy per language")

    def on_view(self, model) -> dict:
        shown = view(self.services.runs.folder, self.services.runs.records, model)
        tables = {name: decimals(getattr(shown, name), whole=("seeds",))  # one decimal in every column
                  for name in ("tasks", "domains", "full", "pos")}
        return self.parts.updates(shown._replace(**tables))

    def wire(self, page) -> None:
        gr.on([self.parts["accordion"].expand, self.parts["model"].input],
              safe(self.on_view, lambda message: self.parts.updates(fallback_values(message))),
              [self.parts["model"]], self.parts.pick(*IntermediateView._fields), api_name="intermediate_tasks")
