"""Results → the paper's four tasks: NER, POS, XNLI and PAWS-X side by side, each from its own
stored runs, and whether the paper's two claims hold on this encoder (fusion/studies/four_tasks.py).
Computed when the section is opened, once per set of run files."""

from __future__ import annotations

import threading

import gradio as gr
import pandas as pd

from fusion.evaluation.runs import load_runs
from fusion.evaluation.stored import folder_state
from fusion.studies.four_tasks import claims, four_task_rows, four_task_table, layer_sweeps
from serve.markdown import plain
from serve.paths import pair_runs_dir, pos_runs_dir
from ui.common import Parts, safe

HELP = ("**Four tasks, one question each: does fusion beat the baseline, and at which layer?** The "
        "paper reports a 1–3 point gain of its best fusion model on each of NER, POS, XNLI and PAWS-X, "
        "with a different best layer per task. Each row here: the target-language average of both "
        "models, the gain (Δ) with its 95 % interval, and the layer English chose.")
EMPTY = pd.DataFrame(columns=["task", "metric", "seeds", "baseline", "fusion", "Δ", "95 % interval"])
EMPTY_SWEEPS = pd.DataFrame(columns=["k"])
_cache: dict[tuple, tuple[str, pd.DataFrame, pd.DataFrame]] = {}
_lock = threading.Lock()


def view(runs_dir) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(the claims in words, the table, each task's layer sweep), recomputed only when a run file
    changed."""
    folders = (runs_dir, pos_runs_dir(runs_dir), pair_runs_dir(runs_dir))
    key = tuple(folder_state(folder) for folder in folders)
    with _lock:
        if key not in _cache:
            _cache.clear()
            records = load_runs(runs_dir)[0]  # read once for both
            rows = four_task_rows(*folders, records)
            note = "\n\n".join(plain(claim) for claim in claims(rows)) or "No stored runs in this folder."
            _cache[key] = (note, four_task_table(rows) if rows else EMPTY, layer_sweeps(records, *folders[1:]))
        return _cache[key]


class FourTasksSection:
    """An accordion in the Results tab; computed when it is opened."""

    def __init__(self, page, tab: gr.Tab):
        self.services = page.services
        self.parts = parts = Parts()
        with gr.Accordion("The paper's four tasks: does fusion help on each, and at the same layer?",
                          open=False) as parts["accordion"]:
            gr.Markdown(HELP, elem_classes=["help"])
            parts["table"] = gr.Dataframe(EMPTY, interactive=False, label="Fusion against the baseline, per task")
            parts["note"] = gr.Markdown()
            parts["sweeps"] = gr.Dataframe(EMPTY_SWEEPS, interactive=False,
                                           label="What each task's layer was chosen on: English score of each "
                                                 "fusion layer k in its layer sweep, and below that task's best")

    def on_view(self) -> dict:
        note, table, sweeps = view(self.services.runs.folder)
        return {self.parts["note"]: note, self.parts["table"]: table, self.parts["sweeps"]: sweeps}

    def wire(self, page) -> None:
        parts = self.parts
        parts["accordion"].expand(
            safe(self.on_view, lambda message: {parts["note"]: plain(message), parts["table"]: EMPTY,
                                                parts["sweeps"]: EMPTY_SWEEPS}),
            None, [parts["note"], parts["table"], parts["sweeps"]], api_name="four_tasks")
