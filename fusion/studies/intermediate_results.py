"""The intermediate-task study: for each English task and tagger, Δ F1 per language against the
direct model (no intermediate task) trained with the same recipe and scored on the same sentences.

The direct models are the seed study's (2,000 English NER sentences × 1 epoch; first 200 test
sentences per language); every intermediate-task run uses that recipe after its task. Δ is the
mean over seeds of (task − direct), and its 95 % interval is the paired bootstrap of
fusion/studies/bootstrap.py (sentences resampled jointly, seeds resampled per side). Runs without
per-sentence predictions are left out, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fusion.evaluation.runs import INTERMEDIATE_STUDY, SEED_STUDY
from fusion.studies.bootstrap import DeltaInterval, load_counts, paired_bootstrap
from fusion.studies.results import SOURCE_LANGUAGE
from fusion.text.languages import language_info

DIRECT_STUDY = SEED_STUDY  # the direct models share the intermediate runs' NER recipe


@dataclass(frozen=True)
class TaskEffect:
    """One task and tagger: Δ F1 against the direct model, per language and on average."""

    task: str
    domain: str
    model: str  # "baseline" or "fusion-l<k>"
    seeds: int  # intermediate-task runs (the direct model's seeds are resampled alongside)
    intervals: dict[str, DeltaInterval]  # language and "average" -> Δ with its interval
    dev_score: float | None  # the task's own dev score (mean over seeds), as the run recorded it


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


def task_effects(records: list[dict], folder: str | Path, study: str = INTERMEDIATE_STUDY,
                 direct_study: str = DIRECT_STUDY) -> list[TaskEffect]:
    """Every (task, tagger) with runs and a direct reference, tasks in the order they were defined.

    The reference is every `direct_study` run of the same tagger scored on the same number of
    sentences per language (the seed study for the small runs; the shipped recipe's seeds for the
    full-scale one).
    """
    from fusion.data.tasks import INTERMEDIATE_TASKS

    with_predictions = [r for r in records if isinstance(r.get("predictions"), dict) and r["predictions"].get("file")]
    direct = [r for r in with_predictions if r.get("study") == direct_study]
    staged = [r for r in with_predictions if r.get("study") == study and _intermediate(r)]
    effects = []
    for task in INTERMEDIATE_TASKS:
        for model in sorted({r["checkpoint"]["model"] for r in staged}, key=lambda m: (m != "baseline", m)):
            treated = [r for r in staged if _intermediate(r)["task"] == task
                       and r["checkpoint"]["model"] == model]
            if not treated:
                continue
            reference = [r for r in direct if r["checkpoint"]["model"] == model
                         and _cap(r) == _cap(treated[0])]
            if not reference:
                continue
            shared = _same_sentences(treated + reference)
            intervals = paired_bootstrap(load_counts(_only(reference, shared), folder, model),
                                         load_counts(_only(treated, shared), folder, model),
                                         SOURCE_LANGUAGE)
            scores = [_intermediate(r).get("dev_score") for r in treated]
            scores = [s for s in scores if isinstance(s, (int, float))]
            effects.append(TaskEffect(task, _intermediate(treated[0]).get("domain", ""), model,
                                      len(treated), {i.language: i for i in intervals},
                                      sum(scores) / len(scores) if scores else None))
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
