"""What the layer probes show: per layer and language F1, English against the targets, and the
transfer ratio (target F1 / English F1) per layer, the direct test of "lower layers carry more
cross-lingual information"; and the same curves after tuning (the probes on a LoRA and a fully
tuned tagger's encoder, beside the frozen one). The Results tab's Layers section and
docs/RESULTS.md both call these.

Probe runs are the `layer-probe` study's records (fusion/probing/probe_runs.py), one per layer and seed,
all scored on the same sentences. A number over seeds is their mean ± standard deviation; the
ratio is taken per seed, then averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fusion.evaluation.runs import PROBE_STUDY
from fusion.studies.results import SOURCE_LANGUAGE, MeanSpread
from fusion.text.languages import language_info


def tuned_by(record: dict) -> str | None:
    """The tagger whose tuned encoder a probe read (e.g. "full baseline s13"); None: the frozen one."""
    tagger = (record["checkpoint"].get("training") or {}).get("tuned_by")
    if not isinstance(tagger, dict):
        return None
    return f"{tagger.get('tuning', '?')} {tagger.get('model', '?')} s{tagger.get('seed', '?')}"


def probe_records(records: list[dict], encoder: str | None = None) -> list[dict]:
    """The probe runs of one encoder: the frozen one (None) or the one `tuned_by` names."""
    return [r for r in records if r.get("study") == PROBE_STUDY
            and isinstance((r["checkpoint"].get("training") or {}).get("probe_layer"), int)
            and tuned_by(r) == encoder]


def probed_encoders(records: list[dict]) -> list[str | None]:
    """Every encoder with probe runs: the frozen one first, then the tuned ones by name."""
    found = {tuned_by(r) for r in records if r.get("study") == PROBE_STUDY}
    return sorted(found, key=lambda name: (name is not None, name or ""))


def _layer(record: dict) -> int:
    return record["checkpoint"]["training"]["probe_layer"]


@dataclass(frozen=True)
class LayerRow:
    """One probed layer: its F1 on English and on the targets, and their ratio (points, seeds)."""

    layer: int
    english: MeanSpread
    targets: MeanSpread  # unweighted mean over the target languages
    ratio: MeanSpread  # targets / English, per seed
    english_dev: MeanSpread  # the dev F1 that chose each probe's epoch
    languages: int  # target languages


def layer_rows(records: list[dict], source: str = SOURCE_LANGUAGE, encoder: str | None = None) -> list[LayerRow]:
    """A row per layer of one encoder's probes (the frozen encoder's by default)."""
    by_layer: dict[int, list[dict]] = {}
    for record in probe_records(records, encoder):
        by_layer.setdefault(_layer(record), []).append(record)
    rows = []
    for layer, runs in sorted(by_layer.items()):
        english, targets, ratios, dev = [], [], [], []
        for record in runs:
            scores = record["scores"]
            target = [s["f1"] for lang, s in scores.items() if lang != source]
            if source in scores:
                english.append(100 * scores[source]["f1"])
            if target:
                targets.append(100 * sum(target) / len(target))
            if source in scores and target and scores[source]["f1"] > 0:
                ratios.append(sum(target) / len(target) / scores[source]["f1"])
            if "dev_f1" in record["checkpoint"]["training"]:
                dev.append(100 * record["checkpoint"]["training"]["dev_f1"])
        languages = max(len([lang for lang in r["scores"] if lang != source]) for r in runs)
        rows.append(LayerRow(layer, MeanSpread.of(english), MeanSpread.of(targets),
                             MeanSpread.of(ratios), MeanSpread.of(dev), languages))
    return rows


LAYER_COLUMNS = ["layer", "English F1", "English ±", "target F1", "target ±", "transfer ratio",
                 "ratio ±", "English dev F1", "seeds"]


def _number(value: float, digits: int) -> float | None:
    """A table cell: rounded, None (shown as "–") where not measured."""
    return None if math.isnan(value) else round(value, digits)


def layer_table(rows: list[LayerRow]) -> pd.DataFrame:
    return pd.DataFrame([{
        "layer": row.layer, "English F1": _number(row.english.mean, 1),
        "English ±": _number(row.english.sd, 1),
        "target F1": _number(row.targets.mean, 1), "target ±": _number(row.targets.sd, 1),
        "transfer ratio": _number(row.ratio.mean, 3), "ratio ±": _number(row.ratio.sd, 3),
        "English dev F1": _number(row.english_dev.mean, 1), "seeds": row.targets.n}
        for row in rows], columns=LAYER_COLUMNS)


@dataclass(frozen=True)
class LayerGrid:
    """Mean probe F1 (points) of every layer on every language; languages grouped by family."""

    layers: list[int]
    languages: list[str]
    families: list[str]
    f1: np.ndarray  # layers × languages (NaN where not measured)


def layer_grid(records: list[dict], source: str = SOURCE_LANGUAGE) -> LayerGrid:
    values: dict[tuple[int, str], list[float]] = {}
    for record in probe_records(records):
        for lang, score in record["scores"].items():
            values.setdefault((_layer(record), lang), []).append(100 * score["f1"])
    layers = sorted({layer for layer, _ in values})
    languages = sorted({lang for _, lang in values},
                       key=lambda code: (code != source, language_info(code).family, code))
    f1 = np.full((len(layers), len(languages)), np.nan)
    for (layer, lang), scores in values.items():
        f1[layers.index(layer), languages.index(lang)] = float(np.mean(scores))
    return LayerGrid(layers, languages, [language_info(code).family for code in languages], f1)


@dataclass(frozen=True)
class LayerFindings:
    """The sentences docs/RESULTS.md and the app state, from the numbers (whichever way they point)."""

    best_english: int  # layer with the best English test F1
    best_targets: int  # layer with the best mean target F1
    best_ratio: int  # layer with the highest transfer ratio
    lower_ratio: float  # mean ratio of layers 0 .. L/2
    upper_ratio: float  # mean ratio of layers L/2 + 1 .. L
    ratio_correlation: float  # Spearman correlation of the ratio with depth (over layers ≥ 1)


def findings(rows: list[LayerRow]) -> LayerFindings | None:
    usable = [r for r in rows if not math.isnan(r.ratio.mean)]
    if len(usable) < 3:
        return None
    middle = max(r.layer for r in usable) // 2
    lower = [r.ratio.mean for r in usable if r.layer <= middle]
    upper = [r.ratio.mean for r in usable if r.layer > middle]
    # layer 0 (the embeddings) reads words alone; the trend is about the layers that mix context
    mixing = [r for r in usable if r.layer >= 1]
    ranks = pd.Series([r.ratio.mean for r in mixing]).rank()
    depth = pd.Series([r.layer for r in mixing]).rank()
    correlation = float(np.corrcoef(ranks, depth)[0, 1]) if len(mixing) > 2 else math.nan
    return LayerFindings(
        best_english=max(usable, key=lambda r: r.english.mean).layer,
        best_targets=max(usable, key=lambda r: r.targets.mean).layer,
        best_ratio=max(usable, key=lambda r: r.ratio.mean).layer,
        lower_ratio=float(np.mean(lower)) if lower else math.nan,
        upper_ratio=float(np.mean(upper)) if upper else math.nan,
        ratio_correlation=correlation)


def findings_text(rows: list[LayerRow]) -> str:
    """What the probe runs show, in two sentences of Markdown (the app and docs/RESULTS.md)."""
    found = findings(rows)
    if found is None:
        return "Too few probed layers to compare."
    middle = max(r.layer for r in rows) // 2
    direction = "more" if found.lower_ratio > found.upper_ratio else "less"
    return (f"The best layer for English is **{found.best_english}**, for the other languages "
            f"**{found.best_targets}**; the transfer ratio (target F1 / English F1) peaks at layer "
            f"**{found.best_ratio}**. Layers 0–{middle} keep on average {found.lower_ratio:.2f} of "
            f"their English F1 in the other languages, layers {middle + 1}–{max(r.layer for r in rows)} "
            f"{found.upper_ratio:.2f}: here the lower half transfers *{direction}* of what it knows "
            f"(rank correlation of the ratio with depth over layers ≥ 1: {found.ratio_correlation:+.2f}).")


# --------------------------------------------------------------------------------------------
# Layers after tuning: the frozen encoder's curve beside the tuned taggers' encoders' curves
# --------------------------------------------------------------------------------------------

FROZEN = "frozen"
TUNINGS = ("lora", "full")  # the tuned encoders that `scripts/full_tuning.sh DATA probes` probes
TUNING_LABELS = {FROZEN: "frozen encoder", "lora": "after LoRA tuning", "full": "after full fine-tuning"}
TUNED_TAGGERS = {"lora": "the shipped LoRA baseline (`checkpoints/baseline`, seed 13)",
                 "full": "the fully tuned baseline of seed 13"}
TUNING_PROBES_COMMAND = "scripts/full_tuning.sh DATA probes"


@dataclass(frozen=True)
class TuningCurve:
    """One encoder's probe curve: the frozen encoder, or a tuned tagger's encoder."""

    tuning: str  # FROZEN, or the tagger's tuning ("lora", "full")
    encoder: str | None  # `tuned_by` of its records ("lora baseline s13"); None: the frozen encoder
    rows: list[LayerRow]

    @property
    def label(self) -> str:
        """e.g. "after LoRA tuning (baseline s13)"; the frozen encoder's is "frozen encoder"."""
        name = TUNING_LABELS.get(self.tuning, f"after {self.tuning} tuning")
        return name if self.encoder is None else f"{name} ({self.encoder.split(' ', 1)[-1]})"


@dataclass(frozen=True)
class TuningCurves:
    """The probe curves per encoder (frozen first, then LoRA, then full) and what is not measured."""

    curves: list[TuningCurve]  # only encoders with probe runs
    missing: list[str]  # FROZEN and / or TUNINGS without probe runs
    same_sentences: bool  # every curve scored on the same test sentences (their content hashes)


def tuning_curves(records: list[dict], source: str = SOURCE_LANGUAGE) -> TuningCurves:
    """The frozen encoder's probe curve and each tuned tagger encoder's, from the probe runs."""
    curves, hashes = [], set()
    for encoder in probed_encoders(records):
        chosen = probe_records(records, encoder)
        if not chosen:
            continue
        tagger = chosen[0]["checkpoint"]["training"].get("tuned_by") or {}
        curves.append(TuningCurve(FROZEN if encoder is None else str(tagger.get("tuning", "?")), encoder,
                                  layer_rows(records, source, encoder)))
        hashes |= {repr(sorted(r["data"]["sha256"].items())) for r in chosen}
    order = [FROZEN, *TUNINGS]
    curves.sort(key=lambda c: (order.index(c.tuning) if c.tuning in order else len(order), c.encoder or ""))
    found = {c.tuning for c in curves}
    return TuningCurves(curves, [t for t in order if t not in found], len(hashes) <= 1)


def missing_tuning_text(missing: list[str]) -> str:
    """Which after-tuning probe runs are not there yet, and the command that makes them (Markdown);
    empty when none is missing."""
    tuned = [t for t in missing if t in TUNINGS]
    if not tuned:
        return ""
    which = " and of ".join(TUNED_TAGGERS[t] for t in tuned)
    return (f"**Not measured yet:** the probes on the encoder of {which}. `{TUNING_PROBES_COMMAND}` "
            "(DATA: the WikiANN folder) makes these runs, `probe-<tuning>-baseline-l<k>-s<seed>.json` "
            "beside the frozen encoder's; the fully tuned tagger is trained by the script's `seeds` phase.")


def tuning_curve_table(found: TuningCurves) -> pd.DataFrame:
    """A row per layer: each curve's English F1, mean target F1 and transfer ratio (means over seeds)."""
    by_layer = [{row.layer: row for row in curve.rows} for curve in found.curves]
    layers = sorted({layer for rows in by_layer for layer in rows})
    table = []
    for layer in layers:
        line = {"layer": layer}
        for curve, rows in zip(found.curves, by_layer):
            row = rows.get(layer)
            line[f"{curve.label}: English"] = _number(row.english.mean, 1) if row else None
            line[f"{curve.label}: targets"] = _number(row.targets.mean, 1) if row else None
            line[f"{curve.label}: ratio"] = _number(row.ratio.mean, 3) if row else None
        table.append(line)
    columns = ["layer"] + [f"{curve.label}: {part}" for curve in found.curves
                           for part in ("English", "targets", "ratio")]
    return pd.DataFrame(table, columns=columns)
