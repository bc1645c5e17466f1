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
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusion.evaluation.stored import StoredFileError, parse_json, read_json
from fusion.tagging.spans import entity_spans

SIDECAR_SUFFIX = ".predictions.json.gz"
FORMAT = "lfe-predictions"
FORMAT_VERSION = 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# the largest stored sidecar (39 languages, whole test sets) is 0.93 MB packed, 9.1 MB unpacked
MAX_SIDECAR_BYTES = 4_000_000  # packed
MAX_UNPACKED_BYTES = 32_000_000
POS_FORMAT = "lfe-pos-counts"  # a POS run's sidecar (fusion/evaluation/pos.py writes it)
POS_FORMAT_VERSION = 1


class PredictionsError(StoredFileError):
    """A sidecar that cannot be read; the message names the file and the problem."""


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


def _payload(path: str | Path, sha256: str | None, name: str | None) -> tuple[dict, str]:
    path = Path(path)
    label = name or path.name
    payload = read_json(path, MAX_SIDECAR_BYTES, gzipped=True, unpacked_limit=MAX_UNPACKED_BYTES,
                        sha256=sha256, name=label, what="predictions file", error=PredictionsError)
    if not isinstance(payload, dict):
        raise PredictionsError(f"{label}: not a predictions file (a JSON {type(payload).__name__})")
    return payload, label


def read_sidecar(path: str | Path, sha256: str | None = None, name: str | None = None) -> Sidecar:
    """Read and check a sidecar through the bounded reader (fusion/evaluation/stored.py): with
    `sha256` (the one its record holds) its bytes must have it. Any problem is one PredictionsError
    naming the file."""
    payload, label = _payload(path, sha256, name)
    try:
        if payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
            raise PredictionsError(f"{label}: not a version-{FORMAT_VERSION} predictions file")
        labels, types, items = payload["labels"], payload["types"], payload["languages"]
        if not _strings(labels) or not _strings(types) or not isinstance(items, dict):
            raise PredictionsError(f"{label}: labels and types must be lists of text, languages an object")
        if len(labels) > len(_DIGITS):
            raise PredictionsError(f"{label}: {len(labels)} labels do not fit one character each")
        allowed = _DIGITS[:len(labels)].encode("ascii")
        languages = {}
        for lang, item in items.items():
            tags = item["tags"]
            if not isinstance(tags, list) or not isinstance(item["sha256"], str):
                raise PredictionsError(f"{label}: {lang}: tags must be a list of text")
            # join() takes text only; ASCII digits of the label list only
            if "".join(tags).encode("ascii").translate(None, allowed):
                raise PredictionsError(f"{label}: {lang}: a tag outside the label list")
            raw = np.frombuffer(base64.b64decode(item["counts"], validate=True), dtype="<i2")
            counts = raw.reshape(len(tags), len(types), 3).astype(np.int32)
            if (raw < 0).any() or (counts[..., 0] > np.minimum(counts[..., 1], counts[..., 2])).any():
                raise PredictionsError(f"{label}: {lang}: impossible entity counts")
            languages[lang] = LanguagePredictions(item["sha256"], tags, counts)
    except PredictionsError:
        raise
    except (UnicodeEncodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PredictionsError(f"{label}: unreadable predictions file ({type(error).__name__})") from None
    return Sidecar(list(labels), list(types), languages)


def _strings(values) -> bool:
    return isinstance(values, list) and all(type(value) is str for value in values)


def pos_counts(payload, label: str) -> dict[str, tuple[str, np.ndarray]]:
    """A POS sidecar's JSON -> language -> (content hash, sentences × [correct, words] int64),
    checked; any problem is one PredictionsError naming the file."""
    try:
        if not isinstance(payload, dict) or payload.get("format") != POS_FORMAT \
                or payload.get("format_version") != POS_FORMAT_VERSION:
            raise PredictionsError(f"{label}: not a version-{POS_FORMAT_VERSION} {POS_FORMAT} file")
        languages = {}
        for language, item in payload["languages"].items():
            rows = item["counts"]
            # typed in C (map, set): a sidecar holds a pair per sentence, tens of thousands
            if not isinstance(rows, list) or not isinstance(item["sha256"], str) \
                    or not set(map(type, rows)) <= {list} or not set(map(len, rows)) <= {2} \
                    or not set(map(type, itertools.chain.from_iterable(rows))) <= {int}:
                raise PredictionsError(f"{label}: {language}: counts must be [correct, words] whole numbers")
            array = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
            if (array < 0).any() or (array[:, 0] > array[:, 1]).any():
                raise PredictionsError(f"{label}: {language}: impossible counts (correct > words)")
            languages[str(language)] = (item["sha256"], array)
    except PredictionsError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as error:
        raise PredictionsError(f"{label}: unreadable POS counts file ({type(error).__name__})") from None
    return languages


def read_pos_counts(path: str | Path, sha256: str | None = None,
                    name: str | None = None) -> dict[str, tuple[str, np.ndarray]]:
    """A POS run's sidecar through the bounded reader (checked against `sha256` when given)."""
    payload, label = _payload(path, sha256, name)
    return pos_counts(payload, label)


def parse_pos_json(text: bytes, label: str) -> dict[str, tuple[str, np.ndarray]]:
    """Unpacked POS sidecar bytes already in memory -> `pos_counts` (bounded JSON parse)."""
    return pos_counts(parse_json(text, label, PredictionsError), label)
