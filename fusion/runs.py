"""Run records: the JSON that `fusion.evaluate` writes, their validation, and a folder of them as
one pandas DataFrame (a row per run × language).

A record says exactly what was evaluated: the checkpoint (path, sha256, encoder, fusion layer,
its training settings and seed), the data (source, split, per-language cap, sentence counts and
content hashes), the scores, library versions, device, wall time and date.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from .languages import language_info

SCHEMA_VERSION = 1


class RunRecordError(ValueError):
    """A run record of the wrong shape; the message names the file and the field."""


def _fraction(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not 0.0 <= value <= 1.0:
        raise RunRecordError(f"{where} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _require(mapping, key: str, kind, where: str):
    if not isinstance(mapping, dict) or key not in mapping:
        raise RunRecordError(f"{where}: missing field '{key}'")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise RunRecordError(f"{where}.{key} must be {names}, got {type(value).__name__}")
    return value


def validate_run(record, source: str = "run record") -> dict:
    """Return `record` if it has the shape of a run record, else raise RunRecordError."""
    if not isinstance(record, dict):
        raise RunRecordError(f"{source}: expected a JSON object, got {type(record).__name__}")
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RunRecordError(f"{source}: schema_version {version!r} is not {SCHEMA_VERSION}")
    _require(record, "name", str, source)
    checkpoint = _require(record, "checkpoint", dict, source)
    for key in ("path", "sha256", "encoder", "model"):
        _require(checkpoint, key, str, f"{source}.checkpoint")
    layer = checkpoint.get("fusion_layer", "missing")
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)):
        raise RunRecordError(f"{source}.checkpoint.fusion_layer must be an integer or null")
    data = _require(record, "data", dict, source)
    _require(data, "source", str, f"{source}.data")
    split = _require(data, "split", str, f"{source}.data")
    if split not in ("train", "dev", "test"):
        raise RunRecordError(f"{source}.data.split must be train, dev or test, got {split!r}")
    counts = _require(data, "sentences", dict, f"{source}.data")
    scores = _require(record, "scores", dict, source)
    if not scores:
        raise RunRecordError(f"{source}.scores is empty")
    for lang, score in scores.items():
        where = f"{source}.scores.{lang}"
        if not isinstance(score, dict):
            raise RunRecordError(f"{where} must be an object")
        for key in ("precision", "recall", "f1"):
            _fraction(score.get(key), f"{where}.{key}")
        count = counts.get(lang)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise RunRecordError(f"{source}.data.sentences.{lang} must be a sentence count")
        for label, values in score.get("per_type", {}).items():
            for key in ("precision", "recall", "f1"):
                _fraction(values.get(key) if isinstance(values, dict) else None,
                          f"{where}.per_type.{label}.{key}")
    _fraction(record.get("average_f1"), f"{source}.average_f1")
    return record


def load_run(path: str | Path) -> dict:
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunRecordError(f"{path}: not a readable JSON file ({error})") from error
    return validate_run(record, source=str(path))


def load_runs(folder: str | Path) -> tuple[list[dict], list[str]]:
    """All valid records under `folder` (sorted by file name) and a warning per broken file."""
    records, warnings = [], []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = load_run(path)
        except RunRecordError as error:
            warnings.append(str(error))
            continue
        record["file"] = path.name
        records.append(record)
    return records, warnings


def training_recipe(record: dict) -> str:
    """How the evaluated checkpoint was trained, e.g. "en 20000 sent × 3 ep": runs compared as
    seeds of one model must share it."""
    training = record["checkpoint"].get("training") or {}
    sentences = training.get("train_sentences", "?")
    return f"{training.get('language', '?')} {sentences} sent × {training.get('epochs', '?')} ep"


def runs_dataframe(records: list[dict]):
    """One row per (run, language): run, file, model, fusion_layer, seed, recipe, split, language,
    sentences, precision, recall, f1 (percent), checkpoint hash and data source."""
    rows = []
    for record in records:
        checkpoint, data = record["checkpoint"], record["data"]
        for lang, score in record["scores"].items():
            rows.append({
                "run": record["name"], "file": record.get("file", ""), "model": checkpoint["model"],
                "fusion_layer": checkpoint.get("fusion_layer"), "seed": record.get("seed"),
                "recipe": training_recipe(record),
                "train_sentences": (checkpoint.get("training") or {}).get("train_sentences"),
                "epochs": (checkpoint.get("training") or {}).get("epochs"), "split": data["split"], "language": lang,
                "sentences": data["sentences"].get(lang),
                "precision": 100 * score["precision"], "recall": 100 * score["recall"],
                "f1": 100 * score["f1"], "checkpoint_sha256": checkpoint["sha256"][:12],
                "data_source": data["source"], "encoder": checkpoint["encoder"],
            })
    columns = ["run", "file", "model", "fusion_layer", "seed", "recipe", "train_sentences", "epochs",
               "split", "language", "sentences",
               "precision", "recall", "f1", "checkpoint_sha256", "data_source", "encoder"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------------
# Comparisons the Results tab and the README tables show
# --------------------------------------------------------------------------------------------

SWEEP_NAME = re.compile(r"^sweep-l(\d+)$")
LANGUAGE_COLUMNS = ["language", "name", "family", "script", "sentences", "baseline F1", "baseline ±",
                    "fusion F1", "fusion ±", "Δ F1", "runs (b/f)"]


def main_runs(records: list[dict]) -> pd.DataFrame:
    """Test-split runs, one row each: run, model, seed, languages."""
    frame = runs_dataframe(records)
    frame = frame[frame["split"] == "test"]
    return (frame.groupby(["run", "model"], dropna=False, sort=True)
            .agg(seed=("seed", "first"), recipe=("recipe", "first"),
                 languages=("language", "nunique")).reset_index())


def default_runs(records: list[dict]) -> list[str]:
    """The test runs of the most-trained recipe: seeds of one model are only comparable when
    trained alike, so smaller studies are there to tick, not mixed in by default."""
    runs = runs_dataframe(records)
    runs = runs[runs["split"] == "test"]
    if runs.empty:
        return []
    size = runs["train_sentences"].fillna(0) * runs["epochs"].fillna(0)
    best = runs.loc[size.idxmax(), "recipe"]
    return sorted(runs.loc[runs["recipe"] == best, "run"].unique())


def fusion_choices(records: list[dict]) -> list[str]:
    runs = main_runs(records)
    return sorted({m for m in runs["model"] if m != "baseline"},
                  key=lambda m: (len(m), m))


def spread(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def language_table(records: list[dict], selected_runs, fusion_model: str | None) -> pd.DataFrame:
    """Per language: baseline and fusion F1 (mean over the selected runs, ± = standard deviation
    over runs/seeds when there are several), their difference and sentences evaluated."""
    frame = runs_dataframe(records)
    frame = frame[(frame["split"] == "test") & frame["run"].isin(list(selected_runs or []))]
    per_model = {}
    for role, model in (("baseline", "baseline"), ("fusion", fusion_model)):
        rows = frame[frame["model"] == model]
        per_model[role] = rows.groupby("language").agg(
            f1=("f1", "mean"), spread=("f1", spread), runs=("run", "nunique"),
            sentences=("sentences", "max"))
    languages = sorted(set(per_model["baseline"].index) | set(per_model["fusion"].index))

    def value(row, key):  # a rounded number, or None where the model has no score
        return None if row is None or math.isnan(row[key]) else round(float(row[key]), 1)

    rows = []
    for code in languages:
        info = language_info(code)
        base, fused = (per_model[role].loc[code] if code in per_model[role].index else None
                       for role in ("baseline", "fusion"))
        sentences = [int(x.sentences) for x in (base, fused) if x is not None]
        rows.append({
            "language": code, "name": info.name, "family": info.family, "script": info.script,
            "sentences": max(sentences) if sentences else None,
            "baseline F1": value(base, "f1"), "baseline ±": value(base, "spread"),
            "fusion F1": value(fused, "f1"), "fusion ±": value(fused, "spread"),
            "Δ F1": None if base is None or fused is None else round(float(fused.f1 - base.f1), 1),
            "runs (b/f)": f"{0 if base is None else int(base.runs)}/{0 if fused is None else int(fused.runs)}",
        })
    return pd.DataFrame(rows, columns=LANGUAGE_COLUMNS)


def run_averages(records: list[dict], selected_runs, model: str | None, source: str) -> list[float]:
    """Per selected test run of `model`: its mean F1 (points) over the target languages."""
    frame = runs_dataframe(records)
    frame = frame[(frame["split"] == "test") & frame["run"].isin(list(selected_runs or []))
                  & (frame["model"] == model) & (frame["language"] != source)]
    return frame.groupby("run")["f1"].mean().tolist()


def sweep_table(records: list[dict], source: str = "en") -> pd.DataFrame:
    """Per fusion layer k (dev-split runs named sweep-l<k>): mean F1 over the target languages
    and on English, averaged over runs (± standard deviation where several)."""
    frame = runs_dataframe(records)
    frame = frame[(frame["split"] == "dev") & frame["run"].str.match(SWEEP_NAME.pattern)
                  & frame["fusion_layer"].notna()]
    columns = ["layer", "targets", "targets ±", "English", "English ±", "runs", "languages"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    per_run = frame.groupby(["run", "fusion_layer"]).apply(
        lambda rows: pd.Series({
            "targets": rows.loc[rows["language"] != source, "f1"].mean(),
            "English": rows.loc[rows["language"] == source, "f1"].mean(),
            "languages": rows["language"].nunique()}), include_groups=False).reset_index()
    table = per_run.groupby("fusion_layer").agg(
        targets=("targets", "mean"), targets_sd=("targets", spread), English=("English", "mean"),
        English_sd=("English", spread), runs=("run", "nunique"), languages=("languages", "max"))
    table = table.reset_index().rename(columns={"fusion_layer": "layer", "targets_sd": "targets ±",
                                                "English_sd": "English ±"})
    table[["layer", "languages"]] = table[["layer", "languages"]].astype(int)
    return table[columns].sort_values("layer").round(2).reset_index(drop=True)
