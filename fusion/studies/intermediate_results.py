"""The intermediate-task study: for each English task, target task and model, Δ per language
against the direct model (no intermediate task) trained with the same recipe and scored on the same
sentences.

Targets: NER (F1; the direct models are the seed study's, 2,000 English sentences × 1 epoch, first
200 test sentences per language), POS (UPOS accuracy; the POS study's runs, 2,000 sentences × 1
epoch, first 500 test sentences) and XNLI (accuracy; direct runs of the same small recipe made by
scripts/intermediate_targets.sh). A run started from a task is told from a direct one by its
checkpoint's ``training.intermediate``; its reference is every direct run of the same target task,
model, recipe and per-language cap. Δ is the mean over seeds of (task − direct), and its 95 %
interval is the paired bootstrap of fusion/studies/bootstrap.py (sentences or pairs resampled
jointly, seeds resampled per side). Runs without per-sentence predictions are left out, and a task
and target without runs is "not run": nothing is guessed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusion.evaluation.predictions import PredictionsError, read_pos_counts
from fusion.evaluation.runs import (DEFAULT_TASK, INTERMEDIATE_STUDY, PAIRS_STUDY, POS_STUDY, POS_TASK,
                                    SEED_STUDY, load_runs, record_task, sidecar_file, training_recipe)
from fusion.studies.bootstrap import DeltaInterval, load_counts, paired_bootstrap
from fusion.studies.results import SOURCE_LANGUAGE
from fusion.text.languages import language_info

DIRECT_STUDY = SEED_STUDY  # the direct NER models share the intermediate runs' NER recipe
XNLI_TASK = "xnli"
TARGETS = (DEFAULT_TASK, POS_TASK, XNLI_TASK)  # the heat map's columns
TARGET_NAMES = {DEFAULT_TASK: "NER", POS_TASK: "POS", XNLI_TASK: "XNLI"}
TARGET_METRICS = {DEFAULT_TASK: "F1", POS_TASK: "accuracy", XNLI_TASK: "accuracy"}
# per target: the study of its runs started from a task, and the study of its direct runs (POS and
# XNLI runs keep their own study whichever way they were trained; training.intermediate tells them apart)
TARGET_STUDIES = {DEFAULT_TASK: (INTERMEDIATE_STUDY, DIRECT_STUDY), POS_TASK: (POS_STUDY, POS_STUDY),
                  XNLI_TASK: (PAIRS_STUDY, PAIRS_STUDY)}
NOT_RUN = "not run"


@dataclass(frozen=True)
class TaskEffect:
    """One task, target and model: Δ against the direct model, per language and on average."""

    task: str
    domain: str
    model: str  # "baseline" or "fusion-l<k>"
    seeds: int  # intermediate-task runs (the direct model's seeds are resampled alongside)
    intervals: dict[str, DeltaInterval]  # language and "average" -> Δ with its interval
    dev_score: float | None  # the task's own dev score (mean over seeds), as the run recorded it
    target: str = DEFAULT_TASK  # what was trained after the task: ner, pos or xnli
    recipe: str = ""  # the target's training, as the direct runs were trained ("en 2000 sent × 1 ep")
    cap: int | None = None  # sentences (or pairs) scored per language, None: all
    split: str = "test"  # the split scored (XNLI: dev, its zero-shot split)


def _intermediate(record: dict) -> dict:
    return (record["checkpoint"].get("training") or {}).get("intermediate") or {}


def _same_sentences(records: list[dict]) -> dict[str, str]:
    """language -> sentence hash shared by every record (a language where they differ is dropped)."""
    hashes: dict[str, set[str]] = {}
    for record in records:
        for language, digest in record["data"]["sha256"].items():
            hashes.setdefault(language, set()).add(digest)
    return {language: next(iter(found)) for language, found in hashes.items()
            if len(found) == 1 and all(language in r["data"]["sha256"] for r in records)}


def _only(records: list[dict], languages) -> list[dict]:
    """The records as if they had scored only `languages` (load_counts reads data.sha256)."""
    return [{**r, "data": {**r["data"], "sha256": {k: v for k, v in r["data"]["sha256"].items()
                                                   if k in languages}}} for r in records]


def _cap(record: dict):
    return record["data"].get("max_sentences_per_language")


def _direct_recipe(record: dict) -> str:
    """The record's training recipe without its intermediate task: what its direct model shares."""
    training = {k: v for k, v in (record["checkpoint"].get("training") or {}).items() if k != "intermediate"}
    return training_recipe({**record, "checkpoint": {**record["checkpoint"], "training": training}})


def accuracy_counts(records: list[dict], folder: str | Path, model: str,
                    read=read_pos_counts) -> dict[str, list[np.ndarray]]:
    """`load_counts` for accuracy runs (POS, XNLI): language -> per-run sentences × 1 × 3 arrays
    [correct, items, items]. The bootstrap's F1 of such counts, 2·correct / (items + items), is
    exactly the accuracy, so one paired bootstrap serves every target. Each sidecar is read
    through the bounded reader and checked against the sha256 and sentence hashes its record holds."""
    found: dict[str, list[np.ndarray]] = {}
    for record in records:
        if record["checkpoint"]["model"] != model:
            continue
        path, sha256 = sidecar_file(record, folder, record.get("file", record.get("name")))
        stored = read(path, sha256, path.name)
        for language, hashed in record["data"]["sha256"].items():
            digest, counts = stored.get(language, (None, None))
            if digest != hashed:
                raise PredictionsError(f"{path.name}: {language} does not match the run's sentences")
            correct, items = counts[:, 0], counts[:, 1]
            found.setdefault(language, []).append(np.stack([correct, items, items], 1)[:, None, :])
    return found


def task_effects(records: list[dict], folder: str | Path, study: str = INTERMEDIATE_STUDY,
                 direct_study: str = DIRECT_STUDY, target: str = DEFAULT_TASK) -> list[TaskEffect]:
    """Every (task, model) of `target` with runs and a direct reference, tasks in the order they
    were defined.

    The reference is every `direct_study` run of the same target task and model, trained by the
    same recipe and scored on the same number of sentences per language (the seed study for the
    small NER runs; the shipped recipe's seeds for the full-scale one).
    """
    from fusion.data.tasks import INTERMEDIATE_TASKS

    with_predictions = [r for r in records if isinstance(r.get("predictions"), dict) and r["predictions"].get("file")
                        and record_task(r) == target]
    direct = [r for r in with_predictions if r.get("study") == direct_study and not _intermediate(r)]
    staged = [r for r in with_predictions if r.get("study") == study and _intermediate(r)]
    # the direct runs are every cell's reference: each accuracy sidecar is read once per call
    read_once = functools.cache(read_pos_counts)
    counts_of = load_counts if target == DEFAULT_TASK else functools.partial(accuracy_counts, read=read_once)

    effects = []
    for task in INTERMEDIATE_TASKS:
        for model in sorted({r["checkpoint"]["model"] for r in staged}, key=lambda m: (m != "baseline", m)):
            treated = [r for r in staged if _intermediate(r)["task"] == task
                       and r["checkpoint"]["model"] == model]
            if not treated:
                continue
            recipe = _direct_recipe(treated[0])
            reference = [r for r in direct if r["checkpoint"]["model"] == model
                         and _cap(r) == _cap(treated[0]) and _direct_recipe(r) == recipe]
            if not reference:
                continue
            shared = _same_sentences(treated + reference)
            intervals = paired_bootstrap(counts_of(_only(reference, shared), folder, model),
                                         counts_of(_only(treated, shared), folder, model),
                                         SOURCE_LANGUAGE)
            scores = [_intermediate(r).get("dev_score") for r in treated]
            scores = [s for s in scores if isinstance(s, (int, float))]
            effects.append(TaskEffect(task, _intermediate(treated[0]).get("domain", ""), model,
                                      len(treated), {i.language: i for i in intervals},
                                      sum(scores) / len(scores) if scores else None,
                                      target, recipe, _cap(treated[0]), treated[0]["data"].get("split", "test")))
    return effects


def effects_table(effects: list[TaskEffect]) -> pd.DataFrame:
    """One row per task and tagger: Δ on the target average (with interval) and on English."""
    rows = []
    for effect in effects:
        average, english = effect.intervals.get("average"), effect.intervals.get(SOURCE_LANGUAGE)
        better = sum(1 for k, i in effect.intervals.items()
                     if k not in ("average", SOURCE_LANGUAGE) and i.low > 0)
        worse = sum(1 for k, i in effect.intervals.items()
                    if k not in ("average", SOURCE_LANGUAGE) and i.high < 0)
        rows.append({
            "task": effect.task, "domain": effect.domain, "model": effect.model, "seeds": effect.seeds,
            "Δ target average": None if average is None else round(average.delta, 1),
            "95 % interval": None if average is None else f"[{average.low:+.1f}, {average.high:+.1f}]",
            "Δ English": None if english is None else round(english.delta, 1),
            "languages up / down": f"{better} / {worse}",
            "task dev score": None if effect.dev_score is None else round(100 * effect.dev_score, 1),
        })
    return pd.DataFrame(rows, columns=["task", "domain", "model", "seeds", "Δ target average",
                                       "95 % interval", "Δ English", "languages up / down",
                                       "task dev score"])


def delta_matrix(effects: list[TaskEffect], model: str) -> pd.DataFrame:
    """task × language Δ F1 for one tagger, languages ordered by family then code."""
    chosen = [e for e in effects if e.model == model]
    languages = sorted({k for e in chosen for k in e.intervals if k != "average"},
                       key=lambda code: (language_info(code).family, code))
    return pd.DataFrame([[e.intervals[k].delta if k in e.intervals else None for k in languages]
                         for e in chosen], index=[e.task for e in chosen], columns=languages)


def best_task_on_dev(trainings: list[dict]) -> tuple[str, dict[str, float]]:
    """The task whose NER taggers score best on **English dev**, never on a target language.

    `trainings` are checkpoints' training records (``tagger_config.json``'s "training", or a run
    record's ``checkpoint.training``); those started from a task are averaged per task over
    taggers and seeds. Returns the task and every task's mean dev F1. Ties go to the earlier task.
    """
    from fusion.data.tasks import INTERMEDIATE_TASKS

    scores: dict[str, list[float]] = {}
    for training in trainings:
        task = (training.get("intermediate") or {}).get("task")
        if task in INTERMEDIATE_TASKS and isinstance(training.get("dev_f1"), (int, float)):
            scores.setdefault(task, []).append(training["dev_f1"])
    if not scores:
        raise ValueError("no tagger started from an intermediate task has an English dev F1")
    means = {task: sum(s) / len(s) for task, s in scores.items()}
    order = list(INTERMEDIATE_TASKS)
    return max(means, key=lambda task: (means[task], -order.index(task))), means


@dataclass(frozen=True)
class Heatmap:
    """task × language Δ F1 with interval bounds (None: not measured), languages grouped by family."""

    tasks: list[str]
    languages: list[str]
    families: list[str]
    delta: list[list[float | None]]
    low: list[list[float | None]]
    high: list[list[float | None]]


def heatmap(effects: list[TaskEffect], model: str) -> Heatmap:
    """One tagger's effects as a heat map's cells, in delta_matrix's order (English left out)."""
    matrix = delta_matrix(effects, model).drop(columns=[SOURCE_LANGUAGE], errors="ignore")
    chosen = {e.task: e for e in effects if e.model == model}
    languages = list(matrix.columns)

    def cells(value) -> list[list[float | None]]:
        return [[value(chosen[task].intervals[k]) if k in chosen[task].intervals else None
                 for k in languages] for task in matrix.index]

    return Heatmap(list(matrix.index), languages, [language_info(k).family for k in languages],
                   cells(lambda i: i.delta), cells(lambda i: i.low), cells(lambda i: i.high))


def domain_table(effects: list[TaskEffect]) -> pd.DataFrame:
    """Mean Δ on the target average per domain and tagger (a domain's tasks weigh equally)."""
    table = effects_table(effects)
    if table.empty:
        return pd.DataFrame(columns=["domain", "model", "tasks", "mean Δ target average"])
    grouped = table.groupby(["domain", "model"], sort=False)
    return pd.DataFrame({"tasks": grouped["task"].apply(", ".join),
                         "mean Δ target average": grouped["Δ target average"].mean().round(1)}
                        ).reset_index()


# --------------------------------------------------------------------------------------------
# Intermediate task × target task: Δ on the target average, one cell per task and target
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetRuns:
    """One target task's stored runs and the folder of their sidecars."""

    target: str
    records: list[dict]
    folder: Path


def accuracy_target_runs(pos_dir: str | Path, pair_dir: str | Path) -> list[TargetRuns]:
    """The POS and XNLI runs, read (validated, sidecars checked) from their folders; a missing
    folder holds none. (The NER runs are the ones every NER view has loaded already.)"""
    def read(folder: Path, task: str) -> list[dict]:
        return load_runs(folder, task)[0] if folder.is_dir() else []

    return [TargetRuns(POS_TASK, read(Path(pos_dir), POS_TASK), Path(pos_dir)),
            TargetRuns(XNLI_TASK, read(Path(pair_dir), XNLI_TASK), Path(pair_dir))]


def target_effects(runs: list[TargetRuns]) -> list[TaskEffect]:
    """The task effects of each target's runs (`task_effects` with the target's own studies); NER's
    small-scale effects are `task_effects(records, runs_dir)`, the same with TargetRuns("ner", ...)."""
    return [effect for found in runs
            for effect in task_effects(found.records, found.folder, *TARGET_STUDIES[found.target], found.target)]


@dataclass(frozen=True)
class TargetCell:
    """One task and target for one side: Δ on the target average with its interval, or not run."""

    model: str | None  # the model compared (None: not run)
    seeds: int
    average: DeltaInterval | None  # None: no runs of the task and target, or no direct reference

    @property
    def text(self) -> str:
        if self.average is None:
            return NOT_RUN
        return (f"{self.average.delta:+.1f}{' *' if self.average.excludes_zero else ''} "
                f"[{self.average.low:+.1f}, {self.average.high:+.1f}]")


@dataclass(frozen=True)
class TargetHeatmap:
    """task × target cells for one side ("baseline" or "fusion"), every task and target present."""

    side: str
    tasks: list[str]  # rows, in the order the tasks were defined
    domains: list[str]  # each row's domain
    targets: list[str]  # columns: ner, pos, xnli
    models: list[str | None]  # per target: the model compared on this side (None: not run)
    cells: list[list[TargetCell]]  # tasks × targets


def _side_model(effects: list[TaskEffect], target: str, side: str) -> str | None:
    """The model of `side` that `target`'s runs compare: the baseline, or the fusion model (the
    deepest fused layer when several were run, as the four-task table takes the shipped one)."""
    models = {e.model for e in effects if e.target == target and (e.model == "baseline") == (side == "baseline")}
    return max(models, key=lambda model: (len(model), model)) if models else None  # fusion-l11 after fusion-l8


def target_heatmap(effects: list[TaskEffect], side: str) -> TargetHeatmap:
    """The heat map's cells for `side` from every target's effects; a task and target without an
    effect is NOT_RUN."""
    from fusion.data.tasks import INTERMEDIATE_TASKS

    if side not in ("baseline", "fusion"):
        raise ValueError(f"side must be baseline or fusion, got {side!r}")
    models = [_side_model(effects, target, side) for target in TARGETS]
    found = {(e.task, e.target, e.model): e for e in effects}
    cells = []
    for task in INTERMEDIATE_TASKS:
        row = []
        for target, model in zip(TARGETS, models):
            effect = found.get((task, target, model))
            average = effect.intervals.get("average") if effect else None
            row.append(TargetCell(model if average else None, effect.seeds if average else 0, average))
        cells.append(row)
    return TargetHeatmap(side, list(INTERMEDIATE_TASKS), [t.domain for t in INTERMEDIATE_TASKS.values()],
                         list(TARGETS), models, cells)


def target_table(effects: list[TaskEffect]) -> pd.DataFrame:
    """One row per task: its domain and, per target and side, "Δ [low, high]" (* = the interval
    excludes 0) or "not run". Columns are named by target and model ("NER · fusion-l11")."""
    maps = [target_heatmap(effects, side) for side in ("baseline", "fusion")]
    columns = {}
    for index, target in enumerate(TARGETS):
        for grid in maps:
            name = f"{TARGET_NAMES[target]} · {grid.models[index] or grid.side}"
            columns[name] = [row[index].text for row in grid.cells]
    return pd.DataFrame({"task": maps[0].tasks, "domain": maps[0].domains, **columns})


def target_scope(effects: list[TaskEffect]) -> dict[str, str]:
    """target -> how its runs were made ("en 2000 sent × 1 ep, first ≤ 500 test sentences"), or
    NOT_RUN: read from the runs, never assumed."""
    scope = {}
    for target in TARGETS:
        found = sorted({(e.recipe, e.cap or 0, e.split) for e in effects if e.target == target})
        items = "pairs" if target == XNLI_TASK else "sentences"
        scope[target] = "; ".join(f"{recipe}, {f'first ≤ {cap:,}' if cap else 'all'} {split} {items} per language"
                                  for recipe, cap, split in found) or NOT_RUN
    return scope
