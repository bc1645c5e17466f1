"""Per-sentence predictions stored next to a run record, so its scores can be recomputed,
resampled (bootstrap) and inspected without the model.

A sidecar is gzip-compressed JSON (never a pickle), written beside ``NAME.json`` as
``NAME.predictions.json.gz``. Per language it holds:

* ``sha256``: the content hash of the gold sentences (the same as the run record's), so a reader
  can check that the data directory it compares with holds exactly what was evaluated;
* ``tags``: one string per sentence, one character per word: the index of the predicted label in
  ``labels`` written as a base-36 digit ("0" = the first label, "O");
* ``counts``: per sentence and entity type, [true positives, predicted entities, gold entities]
  under the strict IOB2 scheme that seqeval's F1 uses, as base64 of little-endian int16 (fast to
  read). These small integers are all a paired bootstrap needs, and summing them reproduces the
  run's micro F1 exactly.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SIDECAR_SUFFIX = ".predictions.json.gz"
FORMAT = "lfe-predictions"
FORMAT_VERSION = 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_SIDECAR_BYTES = 16_000_000  # compressed; a 39-language run is ~0.3 MB
MAX_UNPACKED_BYTES = 200_000_000


class PredictionsError(ValueError):
    """A sidecar that cannot be read; the message names the file and the problem."""


def entity_spans(tags: list[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) of every entity under strict IOB2, as seqeval's strict mode counts them:
    an entity starts at B-X and continues over I-X; an I- with no B- before it is no entity."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        if start is not None and not (prefix == "I" and label == kind):
            spans.add((kind, start, i))
            start, kind = None, None
        if prefix == "B":
            start, kind = i, label
    return spans


def sentence_counts(gold: list[list[str]], predicted: list[list[str]],
                    types: list[str]) -> np.ndarray:
    """sentences × types × [true positives, predicted, gold] entity counts (int32)."""
    index = {kind: i for i, kind in enumerate(types)}
    counts = np.zeros((len(gold), len(types), 3), dtype=np.int32)
    for row, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        gold_spans, predicted_spans = entity_spans(gold_tags), entity_spans(predicted_tags)
        for column, spans in ((1, predicted_spans), (2, gold_spans)):
            for kind, _, _ in spans:
                if kind in index:
                    counts[row, index[kind], column] += 1
        for kind, _, _ in gold_spans & predicted_spans:
            if kind in index:
                counts[row, index[kind], 0] += 1
    return counts


def f1_from_counts(counts: np.ndarray) -> float:
    """Micro F1 (fraction) of sentences × types × 3 counts, all types pooled."""
    tp, predicted, gold = counts.reshape(-1, 3).sum(0)
    return float(2 * tp / (predicted + gold)) if predicted + gold else 0.0


@dataclass
class LanguagePredictions:
    sha256: str  # content hash of the gold sentences evaluated
    encoded_tags: list[str]  # per sentence, a base-36 digit per word (see the module docstring)
    counts: np.ndarray  # sentences × types × [tp, predicted, gold]

    @property
    def tags(self) -> list[list[int]]:
        """Per sentence, per word: the index of the predicted label (decoded when asked for)."""
        return [[_DIGITS.index(c) for c in sentence] for sentence in self.encoded_tags]

    def tag_strings(self, labels: list[str]) -> list[list[str]]:
        return [[labels[i] for i in sentence] for sentence in self.tags]


@dataclass
class Sidecar:
    labels: list[str]
    types: list[str]
    languages: dict[str, LanguagePredictions]


def build_language(labels: list[str], types: list[str], gold: list[list[str]],
                   predicted: list[list[str]], sha256: str) -> LanguagePredictions:
    if len(labels) > len(_DIGITS):
        raise PredictionsError(f"{len(labels)} labels do not fit one character each")
    digit = {label: _DIGITS[i] for i, label in enumerate(labels)}
    return LanguagePredictions(sha256, ["".join(digit[tag] for tag in sentence) for sentence in predicted],
                               sentence_counts(gold, predicted, types))


def sidecar_path(run_path: str | Path) -> Path:
    run_path = Path(run_path)
    return run_path.with_name(run_path.name.removesuffix(".json") + SIDECAR_SUFFIX)


def write_sidecar(path: str | Path, sidecar: Sidecar) -> Path:
    payload = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "labels": sidecar.labels,
        "types": sidecar.types,
        "languages": {lang: {"sha256": item.sha256, "tags": item.encoded_tags,
                             "counts": base64.b64encode(item.counts.astype("<i2").tobytes()).decode()}
                      for lang, item in sidecar.languages.items()},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same predictions always give the same bytes (clean diffs, stable hashes)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    return path


def read_sidecar(path: str | Path) -> Sidecar:
    """Read and check a sidecar; any problem is one PredictionsError naming the file."""
    path = Path(path)
    try:
        if not path.is_file():
            raise PredictionsError(f"{path.name}: no such predictions file")
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            raise PredictionsError(f"{path.name}: larger than {MAX_SIDECAR_BYTES:,} bytes")
        with gzip.open(path, "rb") as handle:
            text = handle.read(MAX_UNPACKED_BYTES + 1)
        if len(text) > MAX_UNPACKED_BYTES:
            raise PredictionsError(f"{path.name}: unpacks to more than {MAX_UNPACKED_BYTES:,} bytes")
        payload = json.loads(text)
        if payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
            raise PredictionsError(f"{path.name}: not a version-{FORMAT_VERSION} predictions file")
        labels, types = list(payload["labels"]), list(payload["types"])
        languages = {}
        for lang, item in payload["languages"].items():
            tags = [str(sentence) for sentence in item["tags"]]
            if set("".join(tags)) - set(_DIGITS[:len(labels)]):
                raise PredictionsError(f"{path.name}: {lang}: a tag outside the label list")
            raw = np.frombuffer(base64.b64decode(item["counts"], validate=True), dtype="<i2")
            counts = raw.astype(np.int32).reshape(len(tags), len(types), 3)
            if (counts < 0).any() or (counts[..., 0] > counts[..., 1:].min(-1)).any():
                raise PredictionsError(f"{path.name}: {lang}: impossible entity counts")
            languages[lang] = LanguagePredictions(str(item["sha256"]), tags, counts)
    except PredictionsError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise PredictionsError(f"{path.name}: unreadable predictions file "
                               f"({type(error).__name__}: {error})") from error
    return Sidecar(labels, types, languages)
