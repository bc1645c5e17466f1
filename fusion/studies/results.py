"""Comparisons of stored runs: which runs may be averaged together, per-language tables, averages
over the target languages, the layer sweep and the stored scores of one language.

The app's Results and Evaluate tabs and `scripts/results_table.py` (docs/RESULTS.md's tables)
call these functions, so the page and the docs cannot drift apart.

Runs are only ever averaged inside one *group*: the same study, training recipe, split and
number of sentences evaluated per language. Seeds of one model within a group are its repeats.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from fusion.evaluation.runs import (DEFAULT_STUDY, MAX_EPOCHS, MAX_SENTENCES, SWEEP_STUDY, runs_dataframe,
                                    training_recipe)
from fusion.text.languages import language_info

SOURCE_LANGUAGE = "en"
LANGUAGE_COLUMNS = ["language", "name", "family", "script", "sentences", "baseline F1", "baseline ±",
                    "fusion F1", "fusion ±", "Δ F1", "Δ ±", "seeds (b/f)"]


@dataclass(frozen=True, order=True)
class RunGroup:
    """Runs that are repeats of each other (seeds), and so may be averaged."""

    study: str  # zero-shot, seed-study, layer-sweep
    recipe: str  # how the checkpoints were trained, e.g. "en 20000 sent × 3 ep"
    split: str  # test or dev
    sentences_cap: int | None  # first N sentences per language; None = the whole split

    @property
    def label(self) -> str:
        scope = ("all" if self.sentences_cap is None else f"first ≤ {self.sentences_cap:,}")
        return f"{self.study}: {self.recipe}; {scope} {self.split} sentences per language"

    @property
    def key(self) -> str:
        """A plain string that names the group in a dropdown or a URL."""
        return f"{self.study}|{self.recipe}|{self.split}|{self.sentences_cap}"


def tuning_of(record: dict) -> str:
    """How the encoder was tuned: "lora" (the shipped recipe; records that predate the field),
    "full" or "frozen"."""
    return (record["checkpoint"].get("training") or {}).get("tuning", "lora")


def run_group(record: dict) -> RunGroup:
    cap = record["data"].get("max_sentences_per_language")
    return RunGroup(record.get("study", DEFAULT_STUDY), training_recipe(record), record["data"]["split"],
                    cap if isinstance(cap, int) else None)


def _plausible(value, most: int) -> int:
    """A whole number in 0..most, else 0: a record that did not validate weighs nothing."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most else 0


def _training_size(group: RunGroup, records: list[dict]) -> tuple:
    sizes = [(r["checkpoint"].get("training") or {}) for r in records if run_group(r) == group]
    trained = max(_plausible(s.get("train_sentences"), MAX_SENTENCES) * _plausible(s.get("epochs"), MAX_EPOCHS)
                  for s in sizes)
    return (trained, math.inf if group.sentences_cap is None else group.sentences_cap)


def paired_seeds(records: list[dict], group: RunGroup) -> int:
    """How many seeds of the group have both a baseline run and a run of one fusion model (the
    fusion model with the most such seeds)."""
    seeds: dict[str, set] = {}
    for record in group_records(records, group):
        seeds.setdefault(record["checkpoint"]["model"], set()).add(record.get("seed"))
    baseline = seeds.pop("baseline", set())
    return max((len(baseline & found) for found in seeds.values()), default=0)


def _rank(group: RunGroup, records: list[dict]) -> tuple:
    """Where a group stands in `groups`: first the shipped recipe's study (zero-shot) with the most
    seeds run by both baseline and a fusion model, then every group by training size and sentences
    evaluated. One odd file cannot come first: alone it pairs no seed, and a size beyond what
    `validate_run` admits counts as none."""
    paired = paired_seeds(records, group) if group.study == DEFAULT_STUDY else 0
    return (paired > 0, paired, *_training_size(group, records))


def groups(records: list[dict], study: str | None = None, split: str = "test") -> list[RunGroup]:
    """Groups of runs, the default view first (see `_rank`): the shipped recipe's runs, then the
    most-trained and most-evaluated."""
    found = {run_group(r) for r in records if r["data"]["split"] == split
             and (study is None or r.get("study", DEFAULT_STUDY) == study)}
    return sorted(found, key=lambda g: _rank(g, records), reverse=True)


def default_group(records: list[dict]) -> RunGroup | None:
    """The group a visitor sees first: `groups(records)[0]`, or None without test runs."""
    found = groups(records)
    return found[0] if found else None


def group_by_key(records: list[dict], key: str | None) -> RunGroup | None:
    return next((g for g in {run_group(r) for r in records} if g.key == key), None)


def group_records(records: list[dict], group: RunGroup) -> list[dict]:
    return [r for r in records if run_group(r) == group]


def fusion_models(records: list[dict], group: RunGroup) -> list[str]:
    """Fusion model names in a group, e.g. ["fusion-l11"]."""
    names = {r["checkpoint"]["model"] for r in group_records(records, group)}
    return sorted(names - {"baseline"}, key=lambda name: (len(name), name))


@dataclass(frozen=True)
class MeanSpread:
    """A mean over runs (seeds), the standard deviation over them (NaN for one run) and n."""

    mean: float
    sd: float
    n: int

    @classmethod
    def of(cls, values) -> "MeanSpread":
        values = [float(v) for v in values]
        if not values:
            return cls(math.nan, math.nan, 0)
        series = pd.Series(values)
        return cls(float(series.mean()), float(series.std(ddof=1)) if len(values) > 1 else math.nan,
                   len(values))

    def text(self, digits: int = 1) -> str:
        if self.n == 0:
            return "–"
        if self.n == 1:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"


def _group_frame(records: list[dict], group: RunGroup) -> pd.DataFrame:
    return runs_dataframe(group_records(records, group))


def language_table(records: list[dict], group: RunGroup | None, fusion_model: str | None,
                   include_source: bool = True) -> pd.DataFrame:
    """Per language: each model's F1 (mean over seeds, ± their standard deviation), Δ = fusion −
    baseline (± the spread of the per-seed differences, pairing runs of the same seed where
    both exist), and the sentences evaluated."""
    if group is None:
        return pd.DataFrame(columns=LANGUAGE_COLUMNS)
    frame = _group_frame(records, group)
    per_model = {}
    for side, model in (("baseline", "baseline"), ("fusion", fusion_model)):
        rows = frame[frame["model"] == model]
        per_model[side] = rows.groupby("language").agg(
            f1=("f1", "mean"), spread=("f1", lambda v: MeanSpread.of(v).sd),
            runs=("run", "nunique"), sentences=("sentences", "max"))
    paired = _paired_deltas(frame, fusion_model)
    languages = sorted(set(per_model["baseline"].index) | set(per_model["fusion"].index))
    if not include_source:
        languages = [code for code in languages if code != SOURCE_LANGUAGE]

    def value(row, key):
        return None if row is None or pd.isna(row[key]) else round(float(row[key]), 1)

    rows = []
    for code in languages:
        info = language_info(code)
        base, fused = (per_model[side].loc[code] if code in per_model[side].index else None
                       for side in ("baseline", "fusion"))
        sentences = [int(x.sentences) for x in (base, fused) if x is not None]
        delta = paired.get(code, MeanSpread.of([]))
        rows.append({
            "language": code, "name": info.name, "family": info.family, "script": info.script,
            "sentences": max(sentences) if sentences else None,
            "baseline F1": value(base, "f1"), "baseline ±": value(base, "spread"),
            "fusion F1": value(fused, "f1"), "fusion ±": value(fused, "spread"),
            "Δ F1": None if base is None or fused is None else round(float(fused.f1 - base.f1), 1),
            "Δ ±": None if math.isnan(delta.sd) else round(delta.sd, 1),
            "seeds (b/f)": f"{0 if base is None else int(base.runs)}/{0 if fused is None else int(fused.runs)}",
        })
    return pd.DataFrame(rows, columns=LANGUAGE_COLUMNS)


def _paired_deltas(frame: pd.DataFrame, fusion_model: str | None) -> dict[str, MeanSpread]:
    """Per language: fusion − baseline F1 of each seed that both models have."""
    base = frame[frame["model"] == "baseline"].set_index(["language", "seed"])["f1"]
    fused = frame[frame["model"] == fusion_model].set_index(["language", "seed"])["f1"]
    both = pd.concat({"b": base, "f": fused}, axis=1).dropna()
    return {lang: MeanSpread.of(rows["f"] - rows["b"]) for lang, rows in both.groupby(level=0)}


def target_averages(records: list[dict], group: RunGroup | None, model: str | None,
                    source: str = SOURCE_LANGUAGE) -> MeanSpread:
    """Each run's unweighted mean F1 over the target languages; their mean ± sd over seeds."""
    if group is None:
        return MeanSpread.of([])
    frame = _group_frame(records, group)
    frame = frame[(frame["model"] == model) & (frame["language"] != source)]
    return MeanSpread.of(frame.groupby("run")["f1"].mean().tolist())


@dataclass(frozen=True)
class GroupSummary:
    """The headline numbers of one group: what the Results tab and docs/RESULTS.md say first."""

    group: RunGroup
    fusion_model: str
    targets: int  # target languages with both models
    baseline: MeanSpread  # average target F1
    fusion: MeanSpread
    delta: MeanSpread  # per-seed difference of the averages (paired by seed)
    better: int  # target languages where fusion's mean F1 is higher
    source_baseline: float | None
    source_fusion: float | None


def summarise(records: list[dict], group: RunGroup, fusion_model: str,
              source: str = SOURCE_LANGUAGE) -> GroupSummary:
    table = language_table(records, group, fusion_model)
    targets = table[(table["language"] != source)].dropna(subset=["Δ F1"])
    english = table[table["language"] == source]
    frame = _group_frame(records, group)
    frame = frame[frame["language"] != source]
    per_run = frame.groupby(["model", "seed"])["f1"].mean()
    seeds = sorted(set(per_run.get("baseline", pd.Series(dtype=float)).index)
                   & set(per_run.get(fusion_model, pd.Series(dtype=float)).index))
    delta = MeanSpread.of([per_run[fusion_model][s] - per_run["baseline"][s] for s in seeds])

    def english_value(column):
        return None if english.empty or pd.isna(english.iloc[0][column]) else float(english.iloc[0][column])

    return GroupSummary(group, fusion_model, len(targets),
                        target_averages(records, group, "baseline", source),
                        target_averages(records, group, fusion_model, source), delta,
                        int((targets["Δ F1"] > 0).sum()), english_value("baseline F1"),
                        english_value("fusion F1"))


# --------------------------------------------------------------------------------------------
# The layer sweep
# --------------------------------------------------------------------------------------------

SWEEP_COLUMNS = ["layer", "selection F1", "selection sentences", "targets", "targets ±", "runs",
                 "languages"]


def sweep_table(records: list[dict], source: str = SOURCE_LANGUAGE, tuning: str = "lora") -> pd.DataFrame:
    """Per fusion layer k of the layer-sweep study: the English dev F1 that chose k (the score
    training kept, on its own dev sentences) and the mean dev F1 over the target languages.
    One tuning's sweep (LoRA, the shipped recipe's, by default; "full": full fine-tuning)."""
    sweep = [r for r in records if r.get("study") == SWEEP_STUDY
             and r["checkpoint"].get("fusion_layer") is not None and tuning_of(r) == tuning]
    if not sweep:
        return pd.DataFrame(columns=SWEEP_COLUMNS)
    rows = []
    for record in sweep:
        training = record["checkpoint"].get("training") or {}
        targets = [s["f1"] for lang, s in record["scores"].items() if lang != source]
        rows.append({"layer": record["checkpoint"]["fusion_layer"],
                     "selection": 100 * training["dev_f1"] if "dev_f1" in training else math.nan,
                     "selection sentences": training.get("dev_sentences"),
                     "targets": 100 * sum(targets) / len(targets) if targets else math.nan,
                     "languages": len(record["scores"])})
    frame = pd.DataFrame(rows)
    table = frame.groupby("layer").agg(
        selection=("selection", "mean"), sentences=("selection sentences", "max"),
        targets=("targets", "mean"), spread=("targets", lambda v: MeanSpread.of(v).sd),
        runs=("targets", "size"), languages=("languages", "max")).reset_index()
    table.columns = SWEEP_COLUMNS
    return table.sort_values("layer").round(2).reset_index(drop=True)


def best_sweep_layer(table: pd.DataFrame) -> int | None:
    """The k with the best English selection score (what the shipped choice rests on)."""
    if table.empty or table["selection F1"].isna().all():
        return None
    return int(table.loc[table["selection F1"].idxmax(), "layer"])


# --------------------------------------------------------------------------------------------
# Stored scores of one language (the Evaluate tab's reference rows)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredScore:
    group: RunGroup
    model: str
    runs: int
    sentences: int
    entity_type: str  # "overall" or PER, ORG, LOC...
    precision: float  # percent, mean over the runs
    recall: float
    f1: float


def stored_scores(records: list[dict], language: str) -> list[StoredScore]:
    """The test runs' scores for `language`, averaged per group and model (never across groups)."""
    results = []
    for group in groups(records, split="test"):
        by_model: dict[str, list[dict]] = {}
        for record in group_records(records, group):
            if language in record["scores"]:
                by_model.setdefault(record["checkpoint"]["model"], []).append(record)
        for model, runs in sorted(by_model.items()):
            sentences = max(r["data"]["sentences"].get(language, 0) for r in runs)
            scores = [r["scores"][language] for r in runs]
            kinds = ["overall"] + sorted({t for s in scores for t in s.get("per_type", {})})
            for kind in kinds:
                values = [s if kind == "overall" else s.get("per_type", {}).get(kind) for s in scores]
                values = [v for v in values if v is not None]
                results.append(StoredScore(group, model, len(runs), sentences, kind, *(
                    100 * sum(v[key] for v in values) / len(values)
                    for key in ("precision", "recall", "f1"))))
    return results


# --------------------------------------------------------------------------------------------
# CSV files: no cell a spreadsheet would run
# --------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value):
    """A cell as a CSV may hold it: text a spreadsheet would read as a formula (starting with =, +,
    -, @, a tab or a carriage return) gets a leading apostrophe; numbers, and text that is just a
    number ("-0.5"), stay as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every cell, column name and index label through `csv_cell`: what to
    write with `to_csv`."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column].dtype):
            safe[column] = safe[column].map(csv_cell)
    safe.columns = [csv_cell(c) for c in safe.columns]
    if safe.index.dtype == object:
        safe.index = [csv_cell(i) for i in safe.index]
    return safe
