"""Run records: the JSON that `fusion.evaluate` writes, their validation, and a folder of them as
one pandas DataFrame (a row per run × language).

A record says exactly what was evaluated: the checkpoint (path, sha256, encoder, fusion layer,
its training settings and seed), the data (source, split, per-language cap, sentence counts and
content hashes), the scores, library versions, device, wall time and date.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SCHEMA_VERSION = 1
# what a run belongs to; "intermediate-full" is the best intermediate task at the shipped scale;
# "layer-probe" is a linear probe on one layer of the frozen encoder (fusion/probe_runs.py)
STUDIES = ("zero-shot", "seed-study", "layer-sweep", "intermediate-task", "intermediate-full",
           "layer-probe")
MAX_RUN_BYTES = 5_000_000  # a 39-language record is ~30 kB


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
    study = _require(record, "study", str, source)
    if study not in STUDIES:
        raise RunRecordError(f"{source}.study must be one of {', '.join(STUDIES)}, got {study!r}")
    checkpoint = _require(record, "checkpoint", dict, source)
    for key in ("path", "sha256", "encoder", "model"):
        _require(checkpoint, key, str, f"{source}.checkpoint")
    layer = checkpoint.get("fusion_layer", "missing")
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)):
        raise RunRecordError(f"{source}.checkpoint.fusion_layer must be an integer or null")
    training = checkpoint.get("training", {})
    if not isinstance(training, dict):
        raise RunRecordError(f"{source}.checkpoint.training must be an object")
    for key in ("train_sentences", "epochs", "dev_sentences", "seed"):
        value = training.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise RunRecordError(f"{source}.checkpoint.training.{key} must be a whole number")
    if "dev_f1" in training:
        _fraction(training["dev_f1"], f"{source}.checkpoint.training.dev_f1")
    seed = record.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RunRecordError(f"{source}.seed must be a whole number or null")
    data = _require(record, "data", dict, source)
    _require(data, "source", str, f"{source}.data")
    cap = data.get("max_sentences_per_language")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise RunRecordError(f"{source}.data.max_sentences_per_language must be a positive whole number or null")
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
        per_type = score.get("per_type", {})
        if not isinstance(per_type, dict):
            raise RunRecordError(f"{where}.per_type must be an object")
        for label, values in per_type.items():
            for key in ("precision", "recall", "f1"):
                _fraction(values.get(key) if isinstance(values, dict) else None,
                          f"{where}.per_type.{label}.{key}")
    _fraction(record.get("average_f1"), f"{source}.average_f1")
    return record


def load_run(path: str | Path) -> dict:
    """Read and validate one record; messages name the file, not the folder it sits in."""
    path = Path(path)
    source = path.name
    try:
        if not path.is_file():  # follows links: a link to /dev/zero or a FIFO is not a file
            raise RunRecordError(f"{source}: not a regular file")
        if path.stat().st_size > MAX_RUN_BYTES:
            raise RunRecordError(f"{source}: larger than {MAX_RUN_BYTES:,} bytes")
        record = json.loads(path.read_text(encoding="utf-8"))
    except RunRecordError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RunRecordError(f"{source}: not a readable JSON file ({type(error).__name__})") from error
    return validate_run(record, source=source)


@dataclass(frozen=True)
class RunWarning:
    """A run file that was skipped, and why."""

    file: str  # the file's name inside the runs folder
    message: str


def load_runs(folder: str | Path) -> tuple[list[dict], list[RunWarning]]:
    """All valid records under `folder` (sorted by file name) and a warning per broken file."""
    records, warnings = [], []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = load_run(path)
        except RunRecordError as error:
            warnings.append(RunWarning(path.name, str(error).removeprefix(f"{path.name}: ")))
            continue
        record["file"] = path.name
        records.append(record)
    return records, warnings


def training_recipe(record: dict) -> str:
    """How the evaluated checkpoint was trained, e.g. "en 20000 sent × 3 ep", or "sst2 → en 2000
    sent × 1 ep" after an intermediate task: runs compared as seeds of one model must share it."""
    training = record["checkpoint"].get("training") or {}
    sentences = training.get("train_sentences", "?")
    recipe = f"{training.get('language', '?')} {sentences} sent × {training.get('epochs', '?')} ep"
    intermediate = training.get("intermediate")
    return f"{intermediate['task']} → {recipe}" if isinstance(intermediate, dict) else recipe


def runs_dataframe(records: list[dict]):
    """One row per (run, language): run, file, study, model, fusion_layer, seed, recipe, split, language,
    sentences, precision, recall, f1 (percent), checkpoint hash and data source."""
    rows = []
    for record in records:
        checkpoint, data = record["checkpoint"], record["data"]
        for lang, score in record["scores"].items():
            rows.append({
                "run": record["name"], "file": record.get("file", ""), "study": record.get("study"),
                "model": checkpoint["model"],
                "fusion_layer": checkpoint.get("fusion_layer"), "seed": record.get("seed"),
                "recipe": training_recipe(record),
                "train_sentences": (checkpoint.get("training") or {}).get("train_sentences"),
                "epochs": (checkpoint.get("training") or {}).get("epochs"), "split": data["split"], "language": lang,
                "sentences": data["sentences"].get(lang),
                "precision": 100 * score["precision"], "recall": 100 * score["recall"],
                "f1": 100 * score["f1"], "checkpoint_sha256": checkpoint["sha256"][:12],
                "data_source": data["source"], "encoder": checkpoint["encoder"],
            })
    columns = ["run", "file", "study", "model", "fusion_layer", "seed", "recipe", "train_sentences", "epochs",
               "split", "language", "sentences",
               "precision", "recall", "f1", "checkpoint_sha256", "data_source", "encoder"]
    return pd.DataFrame(rows, columns=columns)
