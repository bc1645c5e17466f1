"""Time the paired bootstrap: 39 languages × 1,000 sentences × 1,000 resamples, 3 seeds per model
(target ≤ 5 s on this 2-core CPU), against a reference measured in the same run: the same
bootstrap written as a plain loop over replicates (resample indices, sum counts, F1), on a
subset, scaled up. Prints both and their ratio.

    python bench/bootstrap.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion.studies.bootstrap import paired_bootstrap  # noqa: E402

LANGUAGES, SENTENCES, SEEDS, RESAMPLES = 39, 1000, 3, 1000


def hand_made_counts(rng: np.random.Generator, quality: float) -> np.ndarray:
    counts = np.zeros((SENTENCES, 3, 3), dtype=np.int32)
    counts[..., 2] = rng.integers(0, 3, (SENTENCES, 3))
    counts[..., 1] = rng.integers(0, 3, (SENTENCES, 3))
    counts[..., 0] = np.minimum(counts[..., 1], rng.binomial(counts[..., 2], quality))
    return counts


def loop_reference(baseline, fusion, resamples: int, rng: np.random.Generator) -> float:
    """The straightforward version: a Python loop over replicates; returns seconds."""
    started = time.perf_counter()
    for language in baseline:
        for _ in range(resamples):
            index = rng.integers(0, SENTENCES, SENTENCES)
            scores = []
            for runs in (baseline[language], fusion[language]):
                seed = runs[rng.integers(0, len(runs))]
                tp, predicted, gold = seed[index].sum((0, 1))
                scores.append(2 * tp / max(predicted + gold, 1))
    return time.perf_counter() - started


def main() -> None:
    rng = np.random.default_rng(0)
    codes = [f"l{i:02d}" for i in range(LANGUAGES)]
    baseline = {c: [hand_made_counts(rng, 0.6) for _ in range(SEEDS)] for c in codes}
    fusion = {c: [hand_made_counts(rng, 0.62) for _ in range(SEEDS)] for c in codes}

    started = time.perf_counter()
    intervals = paired_bootstrap(baseline, fusion, resamples=RESAMPLES)
    ours = time.perf_counter() - started

    subset = 50  # the loop is slow: time 50 replicates and scale to 1,000
    reference = loop_reference(baseline, fusion, subset, rng) * RESAMPLES / subset
    print(f"paired bootstrap, {LANGUAGES} languages × {SENTENCES} sentences × {RESAMPLES} resamples, "
          f"{SEEDS} seeds per model: {ours:.2f} s (target ≤ 5 s)")
    print(f"plain loop over replicates (same work, scaled from {subset}): {reference:.1f} s")
    print(f"ratio loop / vectorised: {reference / ours:.1f} ×; average Δ interval "
          f"[{intervals[-1].low:+.2f}, {intervals[-1].high:+.2f}]")


if __name__ == "__main__":
    main()
