"""Results → LoRA or full fine-tuning: is fusion's gain over the baseline the same when every
encoder weight is trained (the paper's tuning) as with the shipped LoRA adapters? The bootstrap
runs when the section is opened, once per set of run records."""

from __future__ import annotations

import threading

import gradio as gr
import pandas as pd

from fusion.evaluation.runs import FULL_TUNING_STUDY, ZERO_SHOT_STUDY
from fusion.studies.tuning import FUSION_MODEL, tuning_rows, tuning_table
from ui.common import Parts, decimals, safe

HELP = (
    "**LoRA or full fine-tuning.** The shipped taggers learn small adapters (LoRA) on a frozen "
    "encoder; the paper trains every weight. Here both kinds were trained with the same English "
    "data and epochs and tested on the same sentences: the target-language average of each model, "
    "fusion's gain (Δ) with its 95 % interval, and the fusion layer each kind's layer sweep chose "
    "on English dev. What each kind of tuning changes inside the encoder, layer by layer, is at the "
    "foot of the Layers section above (the layer probes after tuning).")
EMPTY = pd.DataFrame(columns=["tuning", "seeds", "baseline targets", "fusion targets", "Δ targets",
                              "95 % interval"])
_cache: dict[tuple, tuple[str, pd.DataFrame]] = {}
_lock = threading.Lock()


def view(runs_dir, records: list[dict]) -> tuple[str, pd.DataFrame]:
    """(a note, the table): a row per tuning once the full-tuning study has runs."""
    key = (str(runs_dir),) + tuple(sorted((r["name"], r["checkpoint"].get("sha256", "")) for r in records
                                          if r.get("study") in (FULL_TUNING_STUDY, ZERO_SHOT_STUDY)))
    with _lock:
        if key not in _cache:
            _cache.clear()
            rows = tuning_rows(records, runs_dir, FUSION_MODEL)
            note = (f"{rows[0].group.recipe}; the first ≤ {rows[0].group.sentences_cap} test sentences per "
                    "language; languages up / down: intervals above / below 0." if rows else
                    "No full fine-tuning runs in this folder yet (`scripts/full_tuning.sh`).")
            _cache[key] = (note, tuning_table(rows) if rows else EMPTY)
        return _cache[key]


class TuningSection:
    """An accordion in the Results tab; computed when it is opened."""

    def __init__(self, page, tab: gr.Tab):
        self.services = page.services
        self.parts = parts = Parts()
        with gr.Accordion("LoRA or full fine-tuning: does the way the encoder is tuned change fusion's gain?",
                          open=False) as parts["accordion"]:
            gr.Markdown(HELP, elem_classes=["help"])
            parts["note"] = gr.Markdown()
            parts["table"] = gr.Dataframe(EMPTY, interactive=False, label="LoRA against full fine-tuning")

    def on_view(self) -> dict:
        note, table = view(self.services.runs.folder, self.services.runs.records)
        return {self.parts["note"]: note, self.parts["table"]: decimals(table, whole=("seeds",))}

    def wire(self, page) -> None:
        self.parts["accordion"].expand(
            safe(self.on_view, lambda message: {self.parts["note"]: message, self.parts["table"]: EMPTY}),
            None, [self.parts["note"], self.parts["table"]], api_name="tuning")
