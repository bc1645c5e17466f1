"""Run records: the JSON that `fusion.evaluation.evaluate` (NER taggers and layer probes) and
`fusion.evaluation.pos` (POS taggers) and `fusion.evaluation.pairs` (XNLI, PAWS-X) write, their validation, and a folder of them as one pandas
DataFrame (a row per run × language).

Every study writes one format. A record says exactly what was evaluated: the task ("ner" when the
field is absent, or "pos"), the checkpoint (path, sha256, encoder, fusion layer, its training
settings and seed), the data (source, split, per-language cap, sentence counts and content
hashes), the scores, library versions, device, wall time and date, and its per-sentence sidecar
``NAME.predictions.json.gz`` as ``predictions: {file, sha256}``. The scores are per language, in
the shape of the task's metric (`TASK_METRICS`):

* ner: ``{"precision", "recall", "f1", "support", "per_type": {TYPE: {...}}}`` and ``average_f1``
  (the mean over languages), ``average_f1_targets``;
* pos, xnli, pawsx: ``{"accuracy", "support"}`` (support = words, or pairs, scored) and
  ``average_accuracy``, ``average_accuracy_targets``.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusion.evaluation.predictions import (MAX_SIDECAR_BYTES, SIDECAR_SUFFIX, PredictionsError,
                                           read_pos_counts, read_sidecar)
from fusion.evaluation.stored import (StoredFileError, checked_once, file_state, parse_json, read_bytes,
                                      remembered, stored_sha256)

SCHEMA_VERSION = 1
# what was tagged; a record without the field is "ner" (every record written before POS was added)
DEFAULT_TASK = "ner"
POS_TASK = "pos"
PAIR_TASKS = ("xnli", "pawsx")  # sentence-pair tasks: fusion.model.modeling.PAIR_TASKS, named here without torch
TASKS = (DEFAULT_TASK, POS_TASK, *PAIR_TASKS)
# scored by accuracy, with sidecars of per-item [correct, items] counts (words for POS, 1 per pair)
ACCURACY_TASKS = (POS_TASK, *PAIR_TASKS)
# per task: the fields of a language's score (each a fraction), and the record's average field
TASK_METRICS = {DEFAULT_TASK: ("precision", "recall", "f1"), **{task: ("accuracy",) for task in ACCURACY_TASKS}}
AVERAGE_FIELDS = {DEFAULT_TASK: "average_f1", **{task: "average_accuracy" for task in ACCURACY_TASKS}}

# what a run belongs to. Every study name lives here: other modules use these constants.
ZERO_SHOT_STUDY = "zero-shot"  # the shipped recipe's taggers; a record without "study" belongs here
SEED_STUDY = "seed-study"  # the small recipe (2,000 sentences × 1 epoch) over seeds
SWEEP_STUDY = "layer-sweep"  # one fusion tagger per layer, chosen on dev
INTERMEDIATE_STUDY = "intermediate-task"
FULL_STUDY = "intermediate-full"  # the best intermediate task on English dev at the shipped scale ...
FULL_DIRECT_STUDY = ZERO_SHOT_STUDY  # ... against the shipped recipe's direct taggers
PROBE_STUDY = "layer-probe"  # a linear probe on one layer of the frozen encoder (fusion/probing/probe_runs.py)
FULL_TUNING_STUDY = "full-tuning"  # every encoder weight trained instead of LoRA adapters (the paper's tuning)
POS_STUDY = "pos"  # UPOS taggers as a second target task (fusion/evaluation/pos.py); its records are task "pos"
PAIRS_STUDY = "pairs"  # XNLI / PAWS-X classifiers (fusion/evaluation/pairs.py); records of task xnli or pawsx
DEFAULT_STUDY = ZERO_SHOT_STUDY
STUDIES = (ZERO_SHOT_STUDY, SEED_STUDY, SWEEP_STUDY, INTERMEDIATE_STUDY, FULL_STUDY, PROBE_STUDY,
           FULL_TUNING_STUDY, POS_STUDY, PAIRS_STUDY)
MAX_RUN_BYTES = 1_000_000  # the largest stored record (39 languages) is 29 kB

# What a record may claim: far beyond every stored run, far below what would distort a view (a
# group's place among the others is its training size) or overflow a count.
MAX_SENTENCES = 10_000_000  # sentences trained on, or scored per language (WikiANN: ≤ 20,000)
MAX_EPOCHS = 1000
MAX_SUPPORT = 1_000_000_000  # entities (NER) or words (POS) scored in one language
MAX_LANGUAGES = 500  # WikiANN has 176
MAX_LAYER = 256  # fusion and probe layers (the stored encoder has 12)
MAX_SEED = 2**31 - 1  # a seed is a non-negative int32
MAX_TEXT = 1000  # characters of a name, path, encoder or data source
# a language key: an ISO 639 code, optionally a subtag ("en", "zh-Hans"); no key reaches a table,
# a CSV or a label unless it is one
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})?")
NAME_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")  # a model, tuning or task name ("fusion-l11")
ENTITY_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")  # PER, LOC, ORG...
SCORE_TOLERANCE = 1e-9  # a record's scores and averages against its sidecar's counts
# the version of check_predictions (with the sidecar readers it calls), part of the key of its
# verdicts stored across starts: bump it when the check changes, so no verdict of the old one is used
CHECK_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


class RunRecordError(StoredFileError):
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


def record_task(record: dict) -> str:
    """What a record's tagger tagged: its "task" field, "ner" when absent."""
    return record.get("task", DEFAULT_TASK)


def _whole(value, where: str, what: str = "a whole number", most: int = MAX_SUPPORT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise RunRecordError(f"{where} must be {what} from 0 to {most:,}, got {_short(value)}")
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(mapping: dict, key: str, where: str, pattern: re.Pattern | None = None, what: str = "") -> str:
    """mapping[key]: a string of at most MAX_TEXT characters without control characters (matching
    `pattern` when given)."""
    value = _require(mapping, key, str, where)
    if pattern is not None and not pattern.fullmatch(value):
        raise RunRecordError(f"{where}.{key} must be {what}, got {_short(value)}")
    if len(value) > MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RunRecordError(f"{where}.{key} must be at most {MAX_TEXT} printable characters")
    return value


def _language_keys(mapping: dict, where: str) -> None:
    if len(mapping) > MAX_LANGUAGES:
        raise RunRecordError(f"{where} holds more than {MAX_LANGUAGES} languages")
    for key in mapping:
        if not LANGUAGE_CODE.fullmatch(key):
            raise RunRecordError(f"{where}: {_short(key)} is not a language code (e.g. de, zh-Hans)")


def _check_scores(record: dict, task: str, counts: dict, source: str) -> None:
    scores = _require(record, "scores", dict, source)
    if not scores:
        raise RunRecordError(f"{source}.scores is empty")
    _language_keys(scores, f"{source}.scores")
    for lang, score in scores.items():
        where = f"{source}.scores.{lang}"
        if not isinstance(score, dict):
            raise RunRecordError(f"{where} must be an object with {', '.join(TASK_METRICS[task])}")
        for key in TASK_METRICS[task]:
            _fraction(score.get(key), f"{where}.{key}")
        if "support" in score:
            _whole(score["support"], f"{where}.support")
        _whole(counts.get(lang), f"{source}.data.sentences.{lang}", "a sentence count", MAX_SENTENCES)
        if task != DEFAULT_TASK:  # per entity type: NER only
            continue
        per_type = score.get("per_type", {})
        if not isinstance(per_type, dict):
            raise RunRecordError(f"{where}.per_type must be an object")
        for label, values in per_type.items():
            if not ENTITY_TYPE.fullmatch(label):
                raise RunRecordError(f"{where}.per_type: {_short(label)} is not an entity type (e.g. PER)")
            if isinstance(values, dict) and "support" in values:
                _whole(values["support"], f"{where}.per_type.{label}.support")
            for key in TASK_METRICS[task]:
                _fraction(values.get(key) if isinstance(values, dict) else None,
                          f"{where}.per_type.{label}.{key}")
    average = AVERAGE_FIELDS[task]
    _fraction(record.get(average), f"{source}.{average}")
    if record.get(f"{average}_targets") is not None:
        _fraction(record[f"{average}_targets"], f"{source}.{average}_targets")


def _check_predictions(record: dict, source: str) -> None:
    """The per-sentence sidecar, when the record names one: a plain file name beside the record
    (never a path) ending in .predictions.json.gz, and the sha256 of its bytes."""
    if "predictions" not in record:
        return
    predictions = _require(record, "predictions", dict, source)
    name = _require(predictions, "file", str, f"{source}.predictions")
    if Path(name).name != name or "\\" in name or name.startswith(".") or not name.endswith(SIDECAR_SUFFIX):
        raise RunRecordError(f"{source}.predictions.file must be a file name ending in {SIDECAR_SUFFIX} "
                             f"beside the record, got {name!r}")
    if not _SHA256.fullmatch(_require(predictions, "sha256", str, f"{source}.predictions")):
        raise RunRecordError(f"{source}.predictions.sha256 must be 64 lowercase hex digits")


def validate_run(record, source: str = "run record") -> dict:
    """Return `record` if it has the shape of a run record of its task and claims only plausible
    things (counts, sizes, seeds, layers in range; language keys that are language codes), else
    raise RunRecordError naming the field."""
    if not isinstance(record, dict):
        raise RunRecordError(f"{source}: expected a JSON object, got {type(record).__name__}")
    version = record.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise RunRecordError(f"{source}: schema_version {_short(version)} is not {SCHEMA_VERSION}")
    _text(record, "name", source)
    if not record["name"]:
        raise RunRecordError(f"{source}.name is empty")
    task = record_task(record)
    if task not in TASKS:
        raise RunRecordError(f"{source}.task must be one of {', '.join(TASKS)}, got {_short(task)}")
    study = _require(record, "study", str, source)
    if study not in STUDIES:
        raise RunRecordError(f"{source}.study must be one of {', '.join(STUDIES)}, got {_short(study)}")
    if study == POS_STUDY and task != POS_TASK:
        raise RunRecordError(f"{source}: a {POS_STUDY} study record must have task pos, got {task!r}")
    if study == PAIRS_STUDY and task not in PAIR_TASKS:
        raise RunRecordError(f"{source}: a {PAIRS_STUDY} study record must have task xnli or pawsx, got {task!r}")
    checkpoint = _require(record, "checkpoint", dict, source)
    for key in ("path", "sha256", "encoder"):
        _text(checkpoint, key, f"{source}.checkpoint")
    _text(checkpoint, "model", f"{source}.checkpoint", NAME_TOKEN, "a model name (e.g. fusion-l11)")
    layer = checkpoint.get("fusion_layer", "missing")
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)):
        raise RunRecordError(f"{source}.checkpoint.fusion_layer must be an integer or null")
    if layer is not None:
        _whole(layer, f"{source}.checkpoint.fusion_layer", "a layer", MAX_LAYER)
    if checkpoint.get("probe_layer") is not None:
        _whole(checkpoint["probe_layer"], f"{source}.checkpoint.probe_layer", "a layer", MAX_LAYER)
    training = checkpoint.get("training", {})
    if not isinstance(training, dict):
        raise RunRecordError(f"{source}.checkpoint.training must be an object")
    _check_training(training, f"{source}.checkpoint.training")
    seed = record.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise RunRecordError(f"{source}.seed must be a whole number or null")
    if seed is not None:
        _whole(seed, f"{source}.seed", "a seed", MAX_SEED)
    if record.get("source_language") is not None:
        _text(record, "source_language", source, LANGUAGE_CODE, "a language code")
    data = _require(record, "data", dict, source)
    _text(data, "source", f"{source}.data")
    cap = data.get("max_sentences_per_language")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_SENTENCES):
        raise RunRecordError(f"{source}.data.max_sentences_per_language must be a positive whole number "
                             f"up to {MAX_SENTENCES:,} or null")
    split = _require(data, "split", str, f"{source}.data")
    if split not in ("train", "dev", "test"):
        raise RunRecordError(f"{source}.data.split must be train, dev or test, got {_short(split)}")
    counts = _require(data, "sentences", dict, f"{source}.data")
    _language_keys(counts, f"{source}.data.sentences")
    for lang, count in counts.items():
        _whole(count, f"{source}.data.sentences.{lang}", "a sentence count", MAX_SENTENCES)
    hashes = data.get("sha256", {})
    if not isinstance(hashes, dict) or not all(isinstance(v, str) and _SHA256.fullmatch(v) for v in hashes.values()):
        raise RunRecordError(f"{source}.data.sha256 must map languages to content hashes (64 hex digits)")
    _language_keys(hashes, f"{source}.data.sha256")
    _check_scores(record, task, counts, source)
    _check_predictions(record, source)
    return record


def _check_training(training: dict, where: str) -> None:
    """The training block: sizes, epochs and seed in range; names that are names."""
    for key, most in (("train_sentences", MAX_SENTENCES), ("epochs", MAX_EPOCHS),
                      ("dev_sentences", MAX_SENTENCES), ("seed", MAX_SEED), ("best_epoch", MAX_EPOCHS),
                      ("probe_layer", MAX_LAYER)):
        value = training.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most):
            raise RunRecordError(f"{where}.{key} must be a whole number from 0 to {most:,}, got {_short(value)}")
    for key in ("dev_f1", "dev_accuracy"):
        if key in training:
            _fraction(training[key], f"{where}.{key}")
    if training.get("language") is not None:
        _text(training, "language", where, LANGUAGE_CODE, "a language code")
    if training.get("tuning") is not None:
        _text(training, "tuning", where, NAME_TOKEN, "a tuning name (lora, full, frozen)")
    intermediate = training.get("intermediate")
    if intermediate is not None:
        if not isinstance(intermediate, dict):
            raise RunRecordError(f"{where}.intermediate must be an object or null")
        _text(intermediate, "task", f"{where}.intermediate", NAME_TOKEN, "a task name (e.g. sst2)")
    tuned_by = training.get("tuned_by")
    if tuned_by is not None:
        if not isinstance(tuned_by, dict):
            raise RunRecordError(f"{where}.tuned_by must be an object or null")
        for key in ("tuning", "model"):
            if tuned_by.get(key) is not None:
                _text(tuned_by, key, f"{where}.tuned_by", NAME_TOKEN, "a name")
        if tuned_by.get("seed") is not None:
            _whole(tuned_by["seed"], f"{where}.tuned_by.seed", "a seed", MAX_SEED)


def load_run(path: str | Path) -> dict:
    """Read one record through the bounded reader (fusion/evaluation/stored.py), validate it and,
    when it names a sidecar, check that the sidecar is there, has the sha256 the record holds and
    agrees with it (`check_predictions`): a record whose scores its own counts contradict is
    refused, so no view can show one number beside another. Raises RunRecordError or
    PredictionsError (both StoredFileError), messages naming the file, not the folder it sits in.
    The outcome is remembered per state of the record and its sidecar, and a pass across starts
    (`agrees`)."""
    path = Path(path)
    source = path.name
    text = read_bytes(path, MAX_RUN_BYTES, name=source, error=RunRecordError)
    record = validate_run(parse_json(text, source, RunRecordError), source=source)
    if "predictions" in record:
        sidecar, _ = sidecar_file(record, path.parent, source)
        states = (file_state(path, source, RunRecordError),
                  file_state(sidecar, sidecar.name, PredictionsError, "predictions file"))
        digest = hashlib.sha256(text).hexdigest()  # of the very bytes parsed above
        remembered("agrees", states, lambda: agrees(record, digest, path.parent, source))
    return record


def agrees(record: dict, record_sha256: str, folder: str | Path, source: str) -> None:
    """`check_predictions`, skipped when an earlier start stored that it passed on these very
    bytes (`checked_once`): the record's (`record_sha256`, of the bytes `record` was parsed from)
    and a sidecar whose bytes have the sha256 the record holds, hashed here (about 1 % of the
    check's time: bench/run_records.py). Other bytes are checked, and refused by the check."""
    sidecar, claimed = sidecar_file(record, folder, source)
    if claimed is None or stored_sha256(sidecar, MAX_SIDECAR_BYTES, name=sidecar.name, what="predictions file",
                                        error=PredictionsError) != claimed:
        check_predictions(record, folder, source)  # refuses
        return
    checked_once(f"check_predictions-{CHECK_VERSION}", (record_sha256, claimed),
                 lambda: check_predictions(record, folder, source))


def sidecar_file(record: dict, folder: str | Path, source: str | None = None) -> tuple[Path, str | None]:
    """(the sidecar `record` names, in `folder`; the sha256 the record holds for it, None if none)."""
    source = source or record.get("file", record.get("name", "run record"))
    predictions = record.get("predictions")
    if not isinstance(predictions, dict) or not isinstance(predictions.get("file"), str) \
            or not Path(predictions["file"]).name:
        raise PredictionsError(f"{source}: no per-sentence predictions stored")
    sha256 = predictions.get("sha256")
    return Path(folder) / Path(predictions["file"]).name, sha256 if isinstance(sha256, str) else None


def _ner_scores(summed: np.ndarray) -> dict:
    """precision, recall, f1 and support of [tp, predicted, gold] entity counts, as seqeval's
    strict micro scores (0 where undefined)."""
    tp, predicted, gold = (int(x) for x in summed)
    return {"precision": tp / predicted if predicted else 0.0, "recall": tp / gold if gold else 0.0,
            "f1": 2 * tp / (predicted + gold) if predicted + gold else 0.0, "support": gold}


def _pos_scores(counts: np.ndarray) -> dict:
    correct, words = (int(x) for x in counts.sum(0, dtype=np.int64)) if len(counts) else (0, 0)
    return {"accuracy": correct / words if words else 0.0, "support": words}


def _disagrees(stored: dict, computed: dict) -> str | None:
    """The first field of `stored` the `computed` scores contradict."""
    for key, value in computed.items():
        if key not in stored:
            continue
        if key == "support":
            if stored[key] != value:
                return key
        elif not abs(stored[key] - value) <= SCORE_TOLERANCE:
            return key
    return None


def check_predictions(record: dict, folder: str | Path, source: str | None = None) -> None:
    """The sidecar of a validated `record` agrees with it, else PredictionsError naming the
    file: present and bounded, its bytes the sha256 the record holds, the same languages, each
    language's sentences (content hash and count), counts that give every score the record
    states (F1, precision, recall, per entity type, or accuracy; within SCORE_TOLERANCE; support
    exactly), and the record's averages the means of its scores."""
    source = source or record.get("file", record.get("name", "run record"))
    path, sha256 = sidecar_file(record, folder, source)
    if sha256 is None:
        raise PredictionsError(f"{source}: records no sha256 for {path.name}")
    name, task = path.name, record_task(record)
    if task in ACCURACY_TASKS:
        stored = read_pos_counts(path, sha256, name)
        types = []
    else:
        sidecar = read_sidecar(path, sha256, name)
        stored = {lang: (item.sha256, item.counts) for lang, item in sidecar.languages.items()}
        types = sidecar.types
    scores = record["scores"]
    if set(stored) != set(scores):
        raise PredictionsError(f"{name}: its languages are not the ones {source} scores")
    hashes = record["data"].get("sha256", {})
    for lang, score in scores.items():
        digest, counts = stored[lang]
        if digest != hashes.get(lang) or len(counts) != record["data"]["sentences"][lang]:
            raise PredictionsError(f"{name}: {lang} does not hold the sentences {source} scored")
        if task in ACCURACY_TASKS:
            wrong = _disagrees(score, _pos_scores(counts))
        else:
            per_type = counts.sum(0, dtype=np.int64)  # types × [tp, predicted, gold]
            wrong = _disagrees(score, _ner_scores(per_type.sum(0)))
            for label, values in score.get("per_type", {}).items():
                if label not in types:
                    raise PredictionsError(f"{name}: {lang} has no counts of the type {label} {source} scores")
                kind = _disagrees(values, _ner_scores(per_type[types.index(label)]))
                if wrong is None and kind is not None:
                    wrong = f"{label} {kind}"
        if wrong is not None:
            raise PredictionsError(f"{name}: {lang} counts do not give the stored {wrong} of {source}")
    metric = TASK_METRICS[task][-1]  # f1 or accuracy
    average = AVERAGE_FIELDS[task]
    values = [score[metric] for score in scores.values()]
    source_language = record.get("source_language") or \
        (record["checkpoint"].get("training") or {}).get("language") or "en"
    targets = [score[metric] for lang, score in scores.items() if lang != source_language]
    if not abs(record[average] - sum(values) / len(values)) <= SCORE_TOLERANCE:
        raise PredictionsError(f"{source}: {average} is not the mean of its languages' {metric}")
    if record.get(f"{average}_targets") is not None and (
            not targets or not abs(record[f"{average}_targets"] - sum(targets) / len(targets)) <= SCORE_TOLERANCE):
        raise PredictionsError(f"{source}: {average}_targets is not the mean of its target languages' {metric}")


@dataclass(frozen=True)
class RunWarning:
    """A run file that was skipped, and why."""

    file: str  # the file's name inside the runs folder
    message: str


def load_runs(folder: str | Path, task: str | None = DEFAULT_TASK) -> tuple[list[dict], list[RunWarning]]:
    """All valid records of `task` (every task when None) under `folder`, sorted by file name, and
    a warning per broken file or record of another task: the NER tables never see a POS run."""
    records, warnings = [], []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = load_run(path)
        except StoredFileError as error:  # the record's fault or its sidecar's
            warnings.append(RunWarning(path.name, str(error).removeprefix(f"{path.name}: ")))
            continue
        if task is not None and record_task(record) != task:
            warnings.append(RunWarning(path.name, f"a {record_task(record)} run, not {task}"))
            continue
        record["file"] = path.name
        records.append(record)
    return records, warnings


def predictions_bytes(record: dict, folder: str | Path) -> bytes:
    """The bytes of the sidecar `record` names (beside it in `folder`), read through the bounded
    reader and checked against the record's sha256; any problem is one PredictionsError naming
    the file."""
    source = record.get("file", record.get("name", "run record"))
    path, sha256 = sidecar_file(record, folder, source)
    if sha256 is None:
        raise PredictionsError(f"{source}: records no sha256 for {path.name}")
    return read_bytes(path, MAX_SIDECAR_BYTES, sha256=sha256, what="predictions file", error=PredictionsError)


def training_recipe(record: dict) -> str:
    """How the evaluated checkpoint was trained, e.g. "en 20000 sent × 3 ep", or "sst2 → en 2000
    sent × 1 ep" after an intermediate task, "..., full tuning" when every encoder weight was
    trained: runs compared as seeds of one model must share it."""
    training = record["checkpoint"].get("training") or {}
    sentences = training.get("train_sentences", "?")
    recipe = f"{training.get('language', '?')} {sentences} sent × {training.get('epochs', '?')} ep"
    if training.get("tuning", "lora") != "lora":  # LoRA is the shipped recipe; others are named
        recipe += f", {training['tuning']} tuning"
    intermediate = training.get("intermediate")
    return f"{intermediate['task']} → {recipe}" if isinstance(intermediate, dict) else recipe


def runs_dataframe(records: list[dict]):
    """NER records (as `load_runs` gives them) -> one row per (run, language): run, file, study,
    model, fusion_layer, seed, recipe, split, language, sentences, precision, recall, f1 (percent),
    checkpoint hash and data source."""
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
