"""Results → Intermediate tasks: which English task, trained before NER, moves zero-shot F1 in
which language. The bootstrap behind it takes seconds, so it runs when the section is opened and
is kept server-wide per set of run records."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import gradio as gr
import pandas as pd

from fusion.evaluation.runs import FULL_DIRECT_STUDY, FULL_STUDY, INTERMEDIATE_STUDY
from fusion.studies.intermediate_results import domain_table, effects_table, heatmap, task_effects
from fusion.studies.pos_results import pooled_pos, pos_results, pos_table
from serve.markdown import plain
from serve.paths import pos_runs_dir
from ui import plots
from ui.common import Parts, decimals, natural_key, safe

HELP = (
    "**Intermediate tasks.** Before learning NER, the model first learns another English task: "
    "chunking or part-of-speech tags (syntax), sentiment (SST-2), inference (RTE), paraphrase "
    "(MRPC) or question answering (SQuAD). Then it learns English NER exactly like the direct "
    "model, and is tested on languages it never saw. Each cell is the change in F1 that the task "
    "made for one language (blue: better, red: worse; * = the 95 % interval excludes 0); "
    "languages are grouped by family. Hover a cell for its interval.")
POS_HELP = (
    "**POS as a second target.** The same two kinds of tagger, trained on English part-of-speech "
    "tags (UD-POS, 17 tags) instead of names, and tested on the other languages by the share of "
    "words tagged right. The fusion layer was chosen on English dev accuracy only.")
EMPTY_TABLE = pd.DataFrame(columns=["task", "domain", "model", "seeds", "Δ target average"])
_cache: dict[tuple, tuple] = {}
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


class IntermediateView(NamedTuple):
    heatmap: object  # the plotly figure
    tasks: pd.DataFrame
    domains: pd.DataFrame
    full: pd.DataFrame
    pos_note: str
    pos: pd.DataFrame


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
    """The heat map and task, domain and full-scale tables for one tagger, and the POS runs."""
    small, full = effects(runs_dir, records)
    pos_note, pos = pos_view(pos_runs_dir(runs_dir))
    if not small:
        return fallback_values("No intermediate-task runs with a direct reference in this folder.")._replace(
            pos_note=pos_note, pos=pos)
    model = model or taggers(records)[0]
    cells = heatmap(small, model)
    figure = plots.delta_heatmap(cells.tasks, cells.languages, cells.families, cells.delta,
                                 cells.low, cells.high,
                                 title="Δ F1 per intermediate task", subtitle=f"{model} tagger")
    return IntermediateView(figure, effects_table(small), domain_table(small), effects_table(full), pos_note, pos)


def fallback_values(message: str) -> IntermediateView:
    return IntermediateView(plots.message_figure(message), EMPTY_TABLE, EMPTY_TABLE, EMPTY_TABLE, message,
                            EMPTY_TABLE)


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
