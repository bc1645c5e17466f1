"""How sure is a difference in F1? A paired bootstrap over test sentences, combined with the
spread over training seeds.

For each language, every replicate draws the language's sentences with replacement (the same
draw for both models: the comparison is paired) and, for each model, draws its seeds with
replacement; each model's F1 is the mean over its drawn seeds of the micro F1 on the drawn
sentences, and Δ = fusion − baseline. The 95 % interval is the 2.5th–97.5th percentile of Δ over
the replicates. The average over target languages is bootstrapped the same way, replicate by
replicate. Everything is computed from the per-sentence entity counts stored beside each run
(fusion/evaluation/predictions.py), vectorised: a replicate is a weight per sentence, so a language costs one
matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusion.evaluation.predictions import PredictionsError, read_sidecar
from fusion.evaluation.runs import sidecar_file

RESAMPLES = 1000
SEED = 2022


@dataclass(frozen=True)
class DeltaInterval:
    language: str  # a language code, or "average" for the mean over target languages
    delta: float  # fusion − baseline F1 in points (means over seeds, all sentences)
    low: float  # 95 % bootstrap interval, points
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def resample_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """resamples × n: how often each sentence is drawn in each replicate."""
    kind = np.int32 if resamples * n < 2**31 else np.int64  # int32 draws are ~3× faster
    draws = rng.integers(0, n, size=(resamples, n), dtype=kind)
    draws += np.arange(resamples, dtype=kind)[:, None] * n  # replicate r counts in row r
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float32)


def _f1(summed: np.ndarray) -> np.ndarray:
    """(..., 3) pooled [tp, predicted, gold] -> F1 in points."""
    tp, predicted, gold = summed[..., 0], summed[..., 1], summed[..., 2]
    denominator = predicted + gold
    return np.where(denominator > 0, 200.0 * tp / np.maximum(denominator, 1), 0.0)


def replicate_f1(counts_by_seed: list[np.ndarray], weights: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """One F1 per replicate: seeds drawn with replacement, each scored on the drawn sentences.
    counts_by_seed: per seed, sentences × types × 3."""
    pooled = np.stack([c.sum(1) for c in counts_by_seed], 1).astype(np.float32)  # n × seeds × 3
    n, seeds, _ = pooled.shape
    f1 = _f1((weights @ pooled.reshape(n, -1)).reshape(-1, seeds, 3))  # replicates × seeds
    chosen = rng.integers(0, len(counts_by_seed), size=f1.shape)
    return np.take_along_axis(f1, chosen, 1).mean(1)


def paired_bootstrap(baseline: dict[str, list[np.ndarray]], fusion: dict[str, list[np.ndarray]],
                     source: str = "en", resamples: int = RESAMPLES,
                     seed: int = SEED, between=None) -> list[DeltaInterval]:
    """Per language (sorted) and for the average over the target languages (last, "average").
    `baseline` / `fusion`: language -> per-seed count arrays over the same sentences.
    `between()`, if given, is called before each language (a server lets other work go first)."""
    rng = np.random.default_rng(seed)
    intervals, replicates = [], {}
    for language in sorted(set(baseline) & set(fusion)):
        if between is not None:
            between()
        n = baseline[language][0].shape[0]
        if any(c.shape[0] != n for c in baseline[language] + fusion[language]):
            raise ValueError(f"{language}: the runs did not score the same sentences")
        weights = resample_weights(n, resamples, rng)
        deltas = replicate_f1(fusion[language], weights, rng) - replicate_f1(baseline[language],
                                                                              weights, rng)
        point = (np.mean([_f1(c.sum((0, 1))) for c in fusion[language]])
                 - np.mean([_f1(c.sum((0, 1))) for c in baseline[language]]))
        low, high = np.percentile(deltas, [2.5, 97.5])
        intervals.append(DeltaInterval(language, float(point), float(low), float(high)))
        if language != source:
            replicates[language] = (float(point), deltas)
    if replicates:
        points = np.mean([point for point, _ in replicates.values()])
        average = np.mean([deltas for _, deltas in replicates.values()], axis=0)
        low, high = np.percentile(average, [2.5, 97.5])
        intervals.append(DeltaInterval("average", float(points), float(low), float(high)))
    return intervals


def load_counts(records: list[dict], folder: str | Path, model: str) -> dict[str, list[np.ndarray]]:
    """language -> per-run count arrays of `model`'s runs, read from their sidecars through the
    bounded reader, each checked against the sha256 its record holds. A run without a readable
    sidecar, or whose sidecar does not match the record, raises PredictionsError."""
    found: dict[str, list[np.ndarray]] = {}
    for record in records:
        if record["checkpoint"]["model"] != model:
            continue
        path, sha256 = sidecar_file(record, folder, record.get("file", record.get("name")))
        name = path.name
        sidecar = read_sidecar(path, sha256, name)
        for language, hashed in record["data"]["sha256"].items():
            item = sidecar.languages.get(language)
            if item is None or item.sha256 != hashed:
                raise PredictionsError(f"{name}: {language} does not match the run's sentences")
            found.setdefault(language, []).append(item.counts)
    return found


def run_intervals(records: list[dict], folder: str | Path, fusion_model: str,
                  source: str = "en", between=None) -> dict[str, DeltaInterval]:
    """language (and "average") -> interval of Δ for the baseline and `fusion_model` runs among
    `records` (one group), from their sidecars under `folder`."""
    intervals = paired_bootstrap(load_counts(records, folder, "baseline"),
                                 load_counts(records, folder, fusion_model), source, between=between)
    return {interval.language: interval for interval in intervals}
