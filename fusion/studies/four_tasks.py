"""The paper's four tasks side by side (NER, POS, XNLI, PAWS-X), and whether its two claims hold on
this encoder: (1) the best aggregation model beats the baseline by 1 to 3 points on each task;
(2) the best fusion layer differs from task to task.

Each row is read from the stored runs of its own study: NER from the shipped recipe's zero-shot
runs (the first group a visitor sees, `default_group`; its fusion model is the shipped one and the
best k comes from the layer sweep on English dev), POS and the sentence-pair tasks from their
folders of accuracy runs (`pos_results`: per seed, the baseline and the fusion layer chosen on
English dev or held-out English pairs). Δ is fusion − baseline on the target-language average with
a paired bootstrap interval over sentences (or pairs) and seeds; "up / down" count the target
languages whose own interval lies above / below 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fusion.evaluation.runs import load_runs
from fusion.studies.bootstrap import run_intervals
from fusion.studies.pos_results import SOURCE_LANGUAGE, load_layer_choice, pooled_pos, pos_results
from fusion.studies.results import (best_sweep_layer, default_group, fusion_models, group_records, summarise,
                                    sweep_table)

TASK_NAMES = {"ner": "NER (WikiANN)", "pos": "POS (UD)", "xnli": "XNLI", "pawsx": "PAWS-X"}
PAPER_GAIN = (1.0, 3.0)  # points: the paper's gain of the best aggregation model on each task


@dataclass(frozen=True)
class TaskRow:
    task: str
    metric: str  # "F1" or "accuracy"
    seeds: int
    languages: int  # target languages compared
    baseline: float  # target average, points
    fusion: float
    delta: float
    low: float  # 95 % interval of delta
    high: float
    fusion_model: str  # the fusion model compared (e.g. "fusion-l11")
    best_k: str  # the layer English chose ("11", or "8, 11" when seeds chose differently)
    up: int
    down: int


def ner_row(runs_dir: Path, records: list[dict] | None = None) -> TaskRow | None:
    """`records`: the NER run records of `runs_dir` when the caller has read them already."""
    records = load_runs(runs_dir)[0] if records is None else records
    group = default_group(records)
    if group is None:
        return None
    chosen = group_records(records, group)
    models = fusion_models(records, group)
    if not models:
        return None
    fusion_model = models[-1]  # the deepest fused layer in the group: the shipped fusion-l11
    summary = summarise(chosen, group, fusion_model)
    intervals = run_intervals(chosen, runs_dir, fusion_model)
    targets = [i for language, i in intervals.items() if language not in ("average", SOURCE_LANGUAGE)]
    average = intervals["average"]
    best = best_sweep_layer(sweep_table(records))
    return TaskRow("ner", "F1", summary.delta.n, len(targets), summary.baseline.mean, summary.fusion.mean,
                   average.delta, average.low, average.high, fusion_model, "–" if best is None else str(best),
                   sum(i.low > 0 for i in targets), sum(i.high < 0 for i in targets))


def accuracy_row(folder: Path, task: str) -> TaskRow | None:
    found = pos_results(folder, task) if folder.is_dir() else []
    if not found:
        return None
    deltas = pooled_pos(found)
    average = next((d for d in deltas if d.language == "average"), None)
    if average is None:
        return None
    targets = [d for d in deltas if d.language not in ("average", SOURCE_LANGUAGE)]
    chosen = sorted({result.chosen for result in found}, key=lambda m: int(m.split("-l")[1]))
    return TaskRow(task, "accuracy", len(found), len(targets), average.baseline, average.fusion, average.delta,
                   average.low, average.high, " / ".join(chosen), ", ".join(m.split("-l")[1] for m in chosen),
                   sum(d.low > 0 for d in targets), sum(d.high < 0 for d in targets))


def four_task_rows(runs_dir, pos_dir, pair_dir, records: list[dict] | None = None) -> list[TaskRow]:
    """The rows that have stored runs, in the paper's order (`records`: the NER records of
    `runs_dir`, when already read). A broken record or sidecar raises (ValueError naming the file),
    as every stored comparison does."""
    rows = [ner_row(Path(runs_dir), records), accuracy_row(Path(pos_dir), "pos"),
            accuracy_row(Path(pair_dir), "xnli"), accuracy_row(Path(pair_dir), "pawsx")]
    return [row for row in rows if row is not None]


def layer_sweeps(records: list[dict], pos_dir, pair_dir) -> pd.DataFrame:
    """What each task's fusion layer was chosen on: the English selection score (points) of every
    layer k of its layer sweep (one run each; NER: dev F1; POS: dev accuracy; XNLI, PAWS-X: held-out English
    pairs' accuracy), and points below that task's best; "–" where k was not trained. Claim 2
    rests on this, not on the argmax alone: a flat curve makes a different best k mean little.
    `records`: the NER run records (their layer-sweep study)."""
    ner = sweep_table(records)
    scores = {"ner": {int(k): v for k, v in zip(ner["layer"], ner["selection F1"])}}
    for task, folder in (("pos", pos_dir), ("xnli", pair_dir), ("pawsx", pair_dir)):
        choice = Path(folder) / f"{task}-dev-s13.json"
        if choice.is_file():
            found = load_layer_choice(choice)["english_dev_accuracy"]
            scores[task] = {int(model.split("-l")[1]): 100 * value for model, value in found.items()}
    scores = {task: by_k for task, by_k in scores.items() if by_k}
    rows = []
    for k in sorted({k for by_k in scores.values() for k in by_k}):
        row = {"k": k}
        for task, by_k in scores.items():
            best = max(by_k.values())
            row[TASK_NAMES[task]] = (f"{by_k[k]:.1f} ({by_k[k] - best:+.1f})" if k in by_k else "–")
        rows.append(row)
    return pd.DataFrame(rows, columns=["k", *(TASK_NAMES[task] for task in scores)])


def four_task_table(rows: list[TaskRow]) -> pd.DataFrame:
    return pd.DataFrame([{
        "task": TASK_NAMES[row.task], "metric": row.metric, "seeds": row.seeds, "targets": row.languages,
        "baseline": f"{row.baseline:.1f}", "fusion": f"{row.fusion:.1f}", "fusion model": row.fusion_model,
        "Δ": f"{row.delta:+.2f}", "95 % interval": f"[{row.low:+.1f}, {row.high:+.1f}]",
        "best k on English": row.best_k, "languages up / down": f"{row.up} / {row.down}",
    } for row in rows])


def gain_verdict(row: TaskRow) -> str:
    low, high = PAPER_GAIN
    if row.low > 0 and low <= row.delta <= high:
        return "a gain in the paper's range"
    if row.low > 0:
        return "a gain, " + ("smaller" if row.delta < low else "larger") + " than the paper's 1–3 points"
    if row.high < 0:
        return "a loss"
    return "no gain established (the interval includes 0)"


def claims(rows: list[TaskRow]) -> list[str]:
    """The paper's two claims, each said once against the rows measured."""
    if not rows:
        return []
    gains = "; ".join(f"{TASK_NAMES[row.task]}: {gain_verdict(row)} (Δ {row.delta:+.2f} [{row.low:+.1f}, "
                      f"{row.high:+.1f}])" for row in rows)
    holds = all(row.low > 0 and PAPER_GAIN[0] <= row.delta <= PAPER_GAIN[1] for row in rows)
    first = f"Claim 1, a 1–3 point gain on each task: {'holds' if holds else 'does not hold'} here. {gains}."
    layers = {row.task: row.best_k for row in rows if row.best_k != "–"}
    if len(layers) < 2:
        second = "Claim 2, the best layer differs by task: not testable yet (fewer than two tasks with a layer choice)."
    else:
        differs = len(set(layers.values())) > 1
        second = (f"Claim 2, the best layer differs by task: {'holds' if differs else 'does not hold'} here, "
                  "on the layer each task's English sweep scored best ("
                  + ", ".join(f"{TASK_NAMES[t]} k = {k}" for t, k in layers.items())
                  + "); how close the other layers came is in each task's sweep.")
    missing = [TASK_NAMES[task] for task in TASK_NAMES if task not in {row.task for row in rows}]
    return [first, second] + ([f"Not measured yet: {', '.join(missing)}; both claims are judged on the "
                               "tasks above only."] if missing else [])
