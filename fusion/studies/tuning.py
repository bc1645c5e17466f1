"""LoRA against full fine-tuning: does the fusion model's gain over the baseline depend on how the
encoder was tuned? The paper fine-tunes every weight; the shipped taggers train LoRA adapters.

Both sides are the same recipe (English sentences × epochs), scored on the same sentences: the
zero-shot runs of the shipped LoRA recipe and the `full-tuning` study's runs. Per tuning: the target
average of each model (mean ± sd over seeds), Δ fusion − baseline with a paired bootstrap interval
over sentences and seeds, English, the target languages whose interval lies above / below 0, and the
best fusion layer of that tuning's layer sweep on English dev (when there is one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fusion.evaluation.runs import FULL_TUNING_STUDY, ZERO_SHOT_STUDY
from fusion.studies.bootstrap import DeltaInterval, run_intervals
from fusion.studies.results import (SOURCE_LANGUAGE, MeanSpread, RunGroup, best_sweep_layer, run_group, summarise,
                                    sweep_table, tuning_of)

LORA_STUDY = ZERO_SHOT_STUDY  # the shipped recipe's runs
FUSION_MODEL = "fusion-l11"  # the shipped fusion layer, the one the full-tuning study trains


@dataclass(frozen=True)
class TuningRow:
    """One tuning's headline numbers for one fusion model against the baseline."""

    tuning: str  # "lora" or "full"
    group: RunGroup
    seeds: int  # seeds with both models
    baseline: MeanSpread  # average target F1 over seeds
    fusion: MeanSpread
    delta: DeltaInterval  # the target average's Δ, 95 % interval over sentences and seeds
    english_baseline: float | None
    english_fusion: float | None
    up: int  # target languages whose Δ interval lies above 0
    down: int  # ... below 0
    best_layer: int | None  # the tuning's layer sweep, chosen on English dev


def _same_setting(record: dict, like: dict) -> bool:
    """Scored on the same split and sentence cap after the same amount of English training."""
    def setting(r):
        training = r["checkpoint"].get("training") or {}
        return (r["data"]["split"], r["data"].get("max_sentences_per_language"),
                training.get("language"), training.get("train_sentences"), training.get("epochs"),
                isinstance(training.get("intermediate"), dict))
    return setting(record) == setting(like)


def _row(tuning: str, runs: list[dict], folder, fusion_model: str, best_layer: int | None) -> TuningRow | None:
    models = {r["checkpoint"]["model"] for r in runs}
    if not {"baseline", fusion_model} <= models:
        return None
    group = run_group(runs[0])
    summary = summarise(runs, group, fusion_model)
    intervals = run_intervals(runs, folder, fusion_model)
    targets = [i for language, i in intervals.items() if language not in ("average", SOURCE_LANGUAGE)]
    return TuningRow(tuning, group, summary.delta.n, summary.baseline, summary.fusion, intervals["average"],
                     summary.source_baseline, summary.source_fusion, sum(i.low > 0 for i in targets),
                     sum(i.high < 0 for i in targets), best_layer)


def tuning_rows(records: list[dict], folder: str | Path, fusion_model: str) -> list[TuningRow]:
    """LoRA then full fine-tuning, each where both models have runs in the setting of the
    full-tuning study; [] until that study has runs. Sidecars are read from `folder`
    (PredictionsError when one is missing or does not match its record)."""
    full = [r for r in records if r.get("study") == FULL_TUNING_STUDY]
    if not full:
        return []
    lora = [r for r in records if r.get("study") == LORA_STUDY and tuning_of(r) == "lora"
            and _same_setting(r, full[0])]
    sweeps = {tuning: best_sweep_layer(sweep_table(records, tuning=tuning)) for tuning in ("lora", "full")}
    rows = [_row("lora", lora, folder, fusion_model, sweeps["lora"]),
            _row("full", [r for r in full if _same_setting(r, full[0])], folder, fusion_model, sweeps["full"])]
    return [row for row in rows if row is not None]


def tuning_table(rows: list[TuningRow]) -> pd.DataFrame:
    """What the Results tab and docs/RESULTS.md show: a row per tuning."""
    def number(value):
        return "–" if value is None else round(value, 1)

    return pd.DataFrame([{
        "tuning": {"lora": "LoRA adapters", "full": "full fine-tuning"}.get(row.tuning, row.tuning),
        "seeds": row.seeds, "baseline targets": row.baseline.text(), "fusion targets": row.fusion.text(),
        "Δ targets": round(row.delta.delta, 2), "95 % interval": f"[{row.delta.low:+.1f}, {row.delta.high:+.1f}]",
        "English baseline": number(row.english_baseline), "English fusion": number(row.english_fusion),
        "languages up / down": f"{row.up} / {row.down}",
        "best k (sweep)": "–" if row.best_layer is None else row.best_layer,
    } for row in rows])
