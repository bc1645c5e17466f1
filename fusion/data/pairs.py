"""Sentence-pair data: XNLI and PAWS-X in XTREME's per-language files, and what stands in for the
English training sets that exist only online.

Files (docs/METHOD.md, "Sentence-pair tasks"), under a data directory such as ../shared/data:

* ``xnli/dev-<lang>.tsv``: ``premise<TAB>hypothesis<TAB>label`` (15 languages, 2,490 pairs each);
  ``xnli/test-<lang>.tsv``: 5,010 pairs **without labels** (XTREME strips them). XNLI's test set is
  the same pairs translated, in the same order, so row *i* of every test file takes the label of
  row *i* of ``xnli/xglue-de/test.txt`` (German, labelled).
* ``pawsx/dev-<lang>.tsv``: ``sentence1<TAB>sentence2<TAB>label`` (csv-quoted fields; 7 languages,
  2,000 pairs each); test labels exist for German (``pawsx/xglue-de/test_2k.tsv``) and Chinese
  (``pawsx/hf-zh/test.tsv``) only: PAWS-X labels differ between languages, so no language borrows
  another's.

No English MultiNLI or PAWS-Wiki training set is available offline, so `english_pairs` builds the
small-data substitute: XNLI trains on the English **test** pairs and PAWS-X on the English **dev**
pairs, each minus a held-out part (about a fifth, chosen by a hash of the first sentence, so that
no premise is on both sides) that chooses the epoch and the fusion layer. The zero-shot targets
are then pairs no training or choice saw: XNLI's 15 dev sets, PAWS-X's German and Chinese test
sets. Online, ``data="hub"`` reads MultiNLI / PAWS-X train and validation from the Hugging Face
hub instead (the paper's setting).
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fusion.model.modeling import PAIR_TASKS

HUB = "hub"
# which split is trained on and which is scored zero-shot, offline (module docstring)
SOURCE_SPLIT = {"xnli": "test", "pawsx": "dev"}
TARGET_SPLIT = {"xnli": "dev", "pawsx": "test"}
HELD_OUT_BUCKETS = 5  # one bucket in five (by premise hash) chooses the epoch and the layer
XNLI_TEST_LABELS = ("xglue-de", "test.txt")  # German, labelled: row i labels row i of every language
PAWSX_TEST_LABELS = {"de": ("xglue-de", "test_2k.tsv"), "zh": ("hf-zh", "test.tsv")}
HUB_DATASETS = {"xnli": ("nyu-mll/multi_nli", None, "validation_matched"),
                "pawsx": ("google-research-datasets/paws-x", "en", "validation")}


@dataclass(frozen=True)
class Pair:
    first: str  # premise / sentence 1
    second: str  # hypothesis / sentence 2
    label: int  # index into PAIR_TASKS[task]


def _folder(data: str | Path, task: str) -> Path:
    if task not in PAIR_TASKS:
        raise ValueError(f"unknown pair task {task!r}; known: {', '.join(PAIR_TASKS)}")
    root = Path(data)
    folder = root if root.name == task else root / task  # the data directory, or its task folder
    if not folder.is_dir():
        raise ValueError(f"{folder}: no {task} data folder (expected {task}/ with "
                         f"dev-<lang>.tsv and test-<lang>.tsv)")
    return folder


def _rows(path: Path, quoted: bool, header: bool = False) -> list[list[str]]:
    if not path.is_file():
        raise ValueError(f"{path}: missing")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
        rows = [row for row in reader if row]
    return rows[1:] if header else rows


def _label_index(task: str, value: str, where: str) -> int:
    labels = PAIR_TASKS[task]
    if value not in labels:
        raise ValueError(f"{where}: label {value!r} is not one of {', '.join(labels)}")
    return labels.index(value)


def _test_labels(folder: Path, task: str, language: str) -> list[str]:
    if task == "xnli":
        return [row[2] for row in _rows(folder.joinpath(*XNLI_TEST_LABELS), quoted=False)]
    if language not in PAWSX_TEST_LABELS:
        raise ValueError(f"PAWS-X test labels exist for {', '.join(PAWSX_TEST_LABELS)} only, not {language}")
    sub, name = PAWSX_TEST_LABELS[language]
    return [row[3] for row in _rows(folder / sub / name, quoted=language == "zh", header=True)]


def read_pairs(data: str | Path, task: str, language: str, split: str, limit: int | None = None) -> list[Pair]:
    """Labelled pairs of one language and split ("dev" or "test"), in file order; the first `limit`."""
    folder = _folder(data, task)
    if split not in ("dev", "test"):
        raise ValueError(f"split must be dev or test, got {split!r}")
    path = folder / f"{split}-{language}.tsv"
    rows = _rows(path, quoted=task == "pawsx")
    labels = [row[2] if len(row) > 2 else None for row in rows] if split == "dev" else \
        _test_labels(folder, task, language)
    if len(labels) != len(rows):
        raise ValueError(f"{path}: {len(rows)} pairs but {len(labels)} labels for them")
    pairs = []
    for number, (row, label) in enumerate(zip(rows, labels), 1):
        if len(row) < 2 or label is None:
            raise ValueError(f"{path}, pair {number}: expected two sentences and a label")
        pairs.append(Pair(row[0].strip(), row[1].strip(), _label_index(task, label.strip(), f"{path}, pair {number}")))
    return pairs[:limit] if limit is not None else pairs


def pair_languages(data: str | Path, task: str, split: str) -> list[str]:
    """Languages with labelled pairs in `split` (PAWS-X test: de and zh)."""
    folder = _folder(data, task)
    found = sorted(p.stem.split("-", 1)[1] for p in folder.glob(f"{split}-*.tsv"))
    if task == "pawsx" and split == "test":
        found = [language for language in found if language in PAWSX_TEST_LABELS]
    return found


def held_out(pair: Pair) -> bool:
    """Whether a source pair belongs to the held-out part: by its first sentence, so every pair
    sharing a premise falls on the same side."""
    digest = hashlib.sha256(pair.first.encode("utf-8")).digest()
    return digest[0] % HELD_OUT_BUCKETS == 0


def english_pairs(data: str | Path, task: str, limit: int | None = None) -> tuple[list[Pair], list[Pair]]:
    """(training pairs, held-out pairs) of the source language: offline the substitute of the
    module docstring, or with data="hub" the English train and validation sets (online)."""
    if str(data) == HUB:
        return hub_pairs(task, "train", limit), hub_pairs(task, "validation")
    pairs = read_pairs(data, task, "en", SOURCE_SPLIT[task])
    train = [pair for pair in pairs if not held_out(pair)]
    return (train[:limit] if limit is not None else train), [pair for pair in pairs if held_out(pair)]


def hub_pairs(task: str, split: str, limit: int | None = None) -> list[Pair]:
    """MultiNLI (XNLI's English training set) or PAWS-X English from the Hugging Face hub; needs
    the network or a filled cache. Their integer labels are in PAIR_TASKS order already."""
    from datasets import load_dataset

    name, config, validation = HUB_DATASETS[task]
    dataset = load_dataset(name, config, split=validation if split == "validation" else split)
    first, second = ("premise", "hypothesis") if task == "xnli" else ("sentence1", "sentence2")
    pairs = [Pair(row[first], row[second], int(row["label"])) for row in dataset
             if 0 <= int(row["label"]) < len(PAIR_TASKS[task])]  # MultiNLI marks unlabelled pairs -1
    return pairs[:limit] if limit is not None else pairs
