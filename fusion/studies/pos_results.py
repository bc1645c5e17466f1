"""The stored accuracy comparisons, POS first and the sentence-pair tasks (XNLI, PAWS-X) alike:
Δ accuracy of fusion over baseline per language, with paired bootstrap intervals over sentences
or pairs (and seeds), from run records of an accuracy task (the one run-record format) and their
per-item counts. No model is needed: this reads stored files only.

A folder holds, per seed, the run records ``TASK-MODEL-sSEED.json`` (+ their sidecars) and the
layer choice ``TASK-dev-sSEED.json``: which fusion layer the English dev (or held-out) accuracy
chose, and every tried layer's accuracy. A layer choice is not a run (no test data, no scores per
language, no sidecar: it compares checkpoints by a number their training stored), so it keeps its
own small shape, read and checked by `load_layer_choice`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fusion.evaluation.pos import SOURCE_LANGUAGE, accuracy
from fusion.evaluation.predictions import read_pos_counts
from fusion.evaluation.runs import MAX_SEED, POS_TASK, RunRecordError, load_run, record_task, sidecar_file
from fusion.evaluation.stored import read_json
from fusion.text.languages import language_info

# the layer choices in a folder of accuracy runs (TASK-dev-sSEED.json); every other *.json is a run
LAYER_CHOICE_GLOB = "*-dev-s*.json"
MAX_CHOICE_BYTES = 100_000


def load_pos_run(path: str | Path, task: str = POS_TASK) -> tuple[dict, dict[str, np.ndarray]]:
    """A POS run record and its per-sentence counts (language -> n × 2 array of [correct, words]),
    checked: a valid run record of task pos whose sidecar agrees with it (`load_run`: the sidecar's
    sha256 the recorded one, the same languages and sentences (content hash, sentence count), the
    counts giving the stored accuracy (to 1e-9; the stored runs match exactly), support and
    averages), all read through the bounded reader. Raises RunRecordError or PredictionsError
    (both StoredFileError, a ValueError)."""
    path = Path(path)
    record = load_run(path)
    if record_task(record) != task:
        raise RunRecordError(f"{path.name}: not a {task} run record (task {record_task(record)!r})")
    sidecar, sha256 = sidecar_file(record, path.parent, path.name)
    stored = read_pos_counts(sidecar, sha256, sidecar.name)  # what load_run checked, read again
    return record, {language: stored[language][1] for language in record["scores"]}


def load_layer_choice(path: str | Path) -> dict:
    """A layer choice ``{"seed", "chosen", "english_dev_accuracy": {model: accuracy}}``, read through
    the bounded reader and checked; the chosen model must be the one with the best dev accuracy
    listed."""
    path = Path(path)
    choice = read_json(path, MAX_CHOICE_BYTES, name=path.name, error=RunRecordError)
    scores = choice.get("english_dev_accuracy") if isinstance(choice, dict) else None
    seed = choice.get("seed") if isinstance(choice, dict) else None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED \
            or not isinstance(scores, dict) or not scores or len(scores) > 1000 \
            or not all(isinstance(k, str) and k.startswith("fusion-l") and k[8:].isdigit() and len(k) <= 12
                       for k in scores) \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       and 0 <= v <= 1 for v in scores.values()):
        raise RunRecordError(f"{path.name}: not a layer choice (seed, chosen, english_dev_accuracy "
                             "{fusion-lK: accuracy})")
    if choice.get("chosen") != best_on_dev(scores):
        raise RunRecordError(f"{path.name}: chosen {str(choice.get('chosen'))[:40]!r} is not the best on English dev")
    return choice


def best_on_dev(scores: dict[str, float]) -> str:
    """The fusion model with the best English dev accuracy (the lower layer on a tie)."""
    return max(scores, key=lambda model: (scores[model], -int(model.split("-l")[1])))


def save_layer_choice(path: str | Path, seed: int, scores: dict[str, float]) -> str:
    """Write the layer choice of `seed` from every fusion model's English dev accuracy; returns the
    chosen model."""
    chosen = best_on_dev(scores)
    Path(path).write_text(json.dumps({"chosen": chosen, "english_dev_accuracy": dict(sorted(scores.items())),
                                      "seed": int(seed)}, indent=1), encoding="utf-8")
    return chosen


@dataclass(frozen=True)
class PosDelta:
    language: str
    baseline: float  # accuracy in points
    fusion: float
    delta: float
    low: float  # 95 % paired bootstrap interval of delta
    high: float


def compare_pos(baseline: tuple[dict, dict], fusion: tuple[dict, dict], resamples: int = 1000,
                seed: int = 0) -> list[PosDelta]:
    """Per language and on the target average ("average"): fusion − baseline accuracy with a
    paired bootstrap over sentences (both taggers scored the same sentences, checked by hash)."""
    (b_record, b_counts), (f_record, f_counts) = baseline, fusion
    rng = np.random.default_rng(seed)
    rows, draws = [], {}
    for language in sorted(set(b_counts) & set(f_counts)):
        if b_record["data"]["sha256"][language] != f_record["data"]["sha256"][language]:
            continue  # not the same sentences: no paired comparison
        b, f = b_counts[language], f_counts[language]
        index = rng.integers(0, len(b), size=(resamples, len(b)))
        words = b[index, 1].sum(1)
        draws[language] = 100 * (f[index, 0].sum(1) - b[index, 0].sum(1)) / np.maximum(words, 1)
        rows.append((language, 100 * accuracy(b.tolist()), 100 * accuracy(f.tolist())))
    return _with_average([PosDelta(k, bv, fv, fv - bv, *np.percentile(draws[k], [2.5, 97.5]))
                          for k, bv, fv in rows], draws)


def compare_pos_seeds(pairs: list[tuple[tuple[dict, dict], tuple[dict, dict]]], resamples: int = 1000,
                      seed: int = 0) -> list[PosDelta]:
    """`compare_pos` pooled over seeds: each pair is one seed's (baseline, fusion) runs. Accuracies
    and Δ are means over the seeds; the interval resamples seeds and sentences together (seed
    noise included). Only languages every run scored on the same sentences are compared."""
    languages = None
    for (b_record, b_counts), (f_record, f_counts) in pairs:
        same = {k for k in set(b_counts) & set(f_counts)
                if b_record["data"]["sha256"][k] == f_record["data"]["sha256"][k]}
        languages = same if languages is None else languages & same
    hashes = [{k: run[0]["data"]["sha256"][k] for k in languages} for pair in pairs for run in pair]
    languages = sorted(k for k in languages or () if len({h[k] for h in hashes}) == 1)
    rng = np.random.default_rng(seed)
    n_seeds = len(pairs)
    seed_draws = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    rows, draws = [], {}
    for language in languages:
        b = np.stack([pair[0][1][language] for pair in pairs])  # seeds × sentences × (correct, words)
        f = np.stack([pair[1][1][language] for pair in pairs])
        index = rng.integers(0, b.shape[1], size=(resamples, b.shape[1]))
        words = b[0][index, 1].sum(1)  # the same sentences in every run
        gained = (f[:, :, 0] - b[:, :, 0])[:, index].sum(2)  # seeds × resamples
        draws[language] = 100 * np.take_along_axis(gained.T, seed_draws, 1).mean(1) / np.maximum(words, 1)
        rows.append((language, float(np.mean([100 * accuracy(x.tolist()) for x in b])),
                     float(np.mean([100 * accuracy(x.tolist()) for x in f]))))
    return _with_average([PosDelta(k, bv, fv, fv - bv, *np.percentile(draws[k], [2.5, 97.5]))
                          for k, bv, fv in rows], draws)


def _with_average(result: list[PosDelta], draws: dict[str, np.ndarray]) -> list[PosDelta]:
    """`result` and the target languages' average, its interval from the same draws."""
    targets = [r for r in result if r.language != SOURCE_LANGUAGE]
    if targets:
        average = np.mean([draws[r.language] for r in targets], axis=0)
        b_mean = float(np.mean([r.baseline for r in targets]))
        f_mean = float(np.mean([r.fusion for r in targets]))
        result.append(PosDelta("average", b_mean, f_mean, f_mean - b_mean,
                               *np.percentile(average, [2.5, 97.5])))
    return result


def pos_table(deltas: list[PosDelta]) -> pd.DataFrame:
    """One row per language (by family) and the target average: accuracies, Δ and its interval."""
    def order(d: PosDelta):
        return (d.language == "average", d.language != SOURCE_LANGUAGE, language_info(d.language).family
                if d.language != "average" else "", d.language)
    return pd.DataFrame([{"language": d.language, "baseline": round(d.baseline, 1),
                          "fusion": round(d.fusion, 1), "Δ": round(d.delta, 2),
                          "95 % interval": f"[{d.low:+.1f}, {d.high:+.1f}]"}
                         for d in sorted(deltas, key=order)])


def choose_fusion_layer(directories: list[str | Path]) -> tuple[str, dict[str, float]]:
    """Among trained POS fusion taggers, the one with the best **English dev** accuracy (never a
    target language). Returns its model name and every model's dev accuracy."""
    scores = {}
    for directory in directories:
        saved = json.loads((Path(directory) / "tagger_config.json").read_text(encoding="utf-8"))
        layer = saved["config"]["fusion_layer"]
        if layer is not None and "dev_accuracy" in saved.get("training", {}):
            scores[f"fusion-l{layer}"] = saved["training"]["dev_accuracy"]
    if not scores:
        raise ValueError("no trained POS fusion tagger with an English dev accuracy")
    return best_on_dev(scores), scores


@dataclass(frozen=True)
class PosResults:
    """The stored POS comparison: the chosen fusion layer, how it was chosen, Δ per language."""

    seed: int
    chosen: str  # e.g. "fusion-l8"
    dev_accuracy: dict[str, float]  # model -> English dev accuracy of every fusion tagger tried
    deltas: list[PosDelta]
    sentences: int | None  # the per-language cap of the test runs
    runs: tuple = field(default=(), repr=False, compare=False)  # (baseline, fusion) as load_pos_run reads them


def pooled_pos(found: list[PosResults]) -> list[PosDelta]:
    """Δ over every seed of `found` (`compare_pos_seeds`); each seed's fusion tagger is the one
    its own English dev accuracy chose."""
    return compare_pos_seeds([result.runs for result in found])


def pos_results(folder: str | Path, task: str = POS_TASK) -> list[PosResults]:
    """Every seed in `folder` with a layer choice (TASK-dev-sSEED.json) and both runs
    (TASK-baseline-sSEED.json and the chosen fusion model's); `task` is pos or a sentence-pair task
    (xnli, pawsx), all scored by accuracy. A broken choice, record or sidecar raises (ValueError
    naming the file): the stored comparison is never quietly computed from part of the runs."""
    folder = Path(folder)
    found = []
    for choice_path in sorted(folder.glob(f"{task}-dev-s*.json")):
        choice = load_layer_choice(choice_path)
        seed, chosen = choice["seed"], choice["chosen"]
        paths = [folder / f"{task}-{model}-s{seed}.json" for model in ("baseline", chosen)]
        if not all(path.is_file() for path in paths):
            continue
        baseline, fusion = (load_pos_run(path, task) for path in paths)
        found.append(PosResults(seed, chosen, choice["english_dev_accuracy"],
                                compare_pos(baseline, fusion),
                                baseline[0]["data"]["max_sentences_per_language"], (baseline, fusion)))
    return found
