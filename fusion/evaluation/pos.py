"""POS tagging as a second target task (the paper reports fusion helping POS too): the same
taggers, trained on English UD-POS with the 17 UPOS tags, scored zero-shot by UPOS accuracy on
the XTREME UD-POS test sets (``udpos/<lang>/{train,dev,test}.tsv``, ``TOKEN<TAB>UPOS``).

A POS run record is a run record like any other (`fusion/evaluation/runs.py`): task "pos", study
"pos", ``scores: {lang: {"accuracy", "support"}}`` (support = words scored), ``average_accuracy``
and ``average_accuracy_targets``. Its sidecar ``NAME.predictions.json.gz`` (gzip JSON, format
"lfe-pos-counts") holds per language the gold sentences' content hash and each sentence's
[correct, words] counts, so that Δ accuracy between two taggers gets a paired bootstrap interval
over sentences; summing them reproduces the stored accuracy exactly. POS runs live in their own
folder (``assets/pos_runs``), beside the layer choices ``pos-dev-sSEED.json``.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusion.evaluation.predictions import (MAX_UNPACKED_BYTES, POS_FORMAT, POS_FORMAT_VERSION, PredictionsError,
                                           parse_pos_json, sidecar_path)
from fusion.evaluation.runs import POS_STUDY, SCHEMA_VERSION, validate_run
from fusion.evaluation.stored import gunzip

SOURCE_LANGUAGE = "en"
COUNTS_FORMAT = POS_FORMAT
COUNTS_FORMAT_VERSION = POS_FORMAT_VERSION


def sentence_counts(gold: list[list[str]], predicted: list[list[str]]) -> list[tuple[int, int]]:
    """(correct tags, words) per sentence."""
    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("gold and predicted tags must have the same sentences and lengths")
    return [(sum(g == p for g, p in zip(gs, ps)), len(gs)) for gs, ps in zip(gold, predicted)]


def accuracy(counts: list[tuple[int, int]]) -> float:
    """Word-level accuracy: correct tags over all words (0 when there are none)."""
    words = sum(n for _, n in counts)
    return sum(c for c, _ in counts) / words if words else 0.0


def scores_of(counts: dict[str, list[tuple[int, int]]]) -> dict[str, dict]:
    """language -> the record's score: {"accuracy", "support" (words scored)}."""
    return {language: {"accuracy": accuracy(rows), "support": int(sum(n for _, n in rows))}
            for language, rows in counts.items()}


def write_pos_sidecar(path: str | Path, counts: dict[str, list[tuple[int, int]]],
                      hashes: dict[str, str], predicted: dict[str, list[int]] | None = None) -> Path:
    """Per language, the gold sentences' hash and each sentence's [correct, words] -> gzip JSON
    (the same counts always give the same bytes). Sentence-pair runs (fusion/evaluation/pairs.py)
    score one item per pair, [correct, 1], and add each pair's `predicted` label index."""
    payload = {"format": COUNTS_FORMAT, "format_version": COUNTS_FORMAT_VERSION,
               "languages": {language: {"sha256": hashes[language],
                                        "counts": [[int(c), int(n)] for c, n in rows],
                                        **({"predicted": [int(p) for p in predicted[language]]}
                                           if predicted else {})}
                             for language, rows in counts.items()}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(payload, separators=(",", ":")).encode("utf-8"), mtime=0))
    return path


def parse_pos_sidecar(raw: bytes, name: str) -> dict[str, tuple[str, np.ndarray]]:
    """The compressed bytes of a POS sidecar -> language -> (content hash, sentences × [correct,
    words] int64), checked; any problem is one PredictionsError naming the file. Unpacked a chunk
    at a time up to MAX_UNPACKED_BYTES (fusion/evaluation/stored.py); a file is read by
    `fusion.evaluation.predictions.read_pos_counts`."""
    return parse_pos_json(gunzip(raw, MAX_UNPACKED_BYTES, name, PredictionsError), name)


@dataclass
class PosEvaluateOptions:
    """Options of `python -m fusion evaluate-pos` (each field is a flag)."""

    checkpoint: str = field(metadata={"help": "a POS tagger (python -m fusion train --task pos)"})
    data: str = field(metadata={"help": "UD-POS directory, e.g. ../shared/data/udpos"})
    languages: str = field(default="all", metadata={"help": '"all" or codes, e.g. "en,de,zh"'})
    split: str = field(default="test", metadata={"help": "test, or dev"})
    max_sentences: int | None = field(default=None, metadata={
        "help": "first N sentences per language (all when None)"})
    output: str | None = field(default=None, metadata={"help": "run record path (JSON)"})
    name: str | None = field(default=None, metadata={"help": "display name of the run"})
    batch_size: int = field(default=64, metadata={"help": "sentences per forward pass"})


def evaluate_pos(options: PosEvaluateOptions, tagger=None) -> dict:
    """UPOS accuracy of a POS tagger per language -> a POS run record (and, with `output`, the
    record and its sidecar of per-sentence counts written)."""
    # models and data only when scoring: the studies read this module's counts without torch
    from fusion.data.upos import available_pos_languages, read_upos
    from fusion.evaluation.evaluate import dataset_hash, predict_dataset
    from fusion.model.checkpoint import load_tagger

    started = time.time()
    if tagger is None:
        import torch

        tagger = load_tagger(options.checkpoint)
        tagger.to("cuda" if torch.cuda.is_available() else "cpu")
    if tagger.config.task != "pos":
        raise ValueError(f"{options.checkpoint} is a {tagger.config.task} tagger, not a POS tagger")
    languages = (available_pos_languages(options.data, options.split) if options.languages == "all"
                 else [code.strip() for code in options.languages.split(",") if code.strip()])
    sentences, hashes, per_sentence = {}, {}, {}
    for language in languages:
        dataset = read_upos(options.data, language, options.split, options.max_sentences)
        per_sentence[language] = sentence_counts(dataset["ner_tags"],
                                                 predict_dataset(tagger, dataset, options.batch_size))
        sentences[language] = len(dataset)
        hashes[language] = dataset_hash(dataset["tokens"], dataset["ner_tags"])
    data = {"source": str(options.data), "split": options.split,
            "max_sentences_per_language": options.max_sentences, "sentences": sentences, "sha256": hashes}
    return accuracy_record(tagger, options.checkpoint, options.name, POS_STUDY, data, per_sentence,
                           started, options.output)


def accuracy_record(model, checkpoint, name: str | None, study: str, data: dict, counts: dict[str, list],
                    started: float, output: str | None = None, predicted: dict[str, list[int]] | None = None) -> dict:
    """The run record of an accuracy task (POS, XNLI, PAWS-X) from each item's [correct, n] counts:
    scores, the averages over all and over target languages, what was evaluated; with `output`,
    the record and its sidecar written. `data` is the record's data block (hashes under "sha256")."""
    from fusion.evaluation.evaluate import library_versions
    from fusion.model.checkpoint import checkpoint_hash

    training = model.checkpoint_info.get("training", {})
    source_language = training.get("language", SOURCE_LANGUAGE)
    scores = scores_of(counts)
    targets = [language for language in scores if language != source_language]
    record = {
        "schema_version": SCHEMA_VERSION, "name": name or Path(checkpoint).name,
        "study": study, "task": model.config.task,
        "checkpoint": {"path": str(checkpoint), "sha256": checkpoint_hash(checkpoint),
                       "encoder": model.config.encoder, "fusion_layer": model.config.fusion_layer,
                       "model": model.config.model, "training": training},
        "data": data, "seed": training.get("seed"), "scores": scores,
        "average_accuracy": sum(s["accuracy"] for s in scores.values()) / len(scores) if scores else 0.0,
        "average_accuracy_targets": (sum(scores[t]["accuracy"] for t in targets) / len(targets)
                                     if targets else None),
        "source_language": source_language,
        "versions": library_versions(),
        "device": str(next(model.parameters()).device),
        "wall_seconds": round(time.time() - started, 2),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if output:
        sidecar = write_pos_sidecar(sidecar_path(output), counts, data["sha256"], predicted)
        record["predictions"] = {"file": sidecar.name, "sha256": hashlib.sha256(sidecar.read_bytes()).hexdigest()}
    validate_run(record)
    if output:
        Path(output).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return record
