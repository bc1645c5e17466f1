"""English intermediate-task datasets (English task -> English NER -> zero-shot NER), read from
a data root such as ``../shared/data`` (see its PROVENANCE.md, sections 2 and 4).

Tasks, and where their train / dev splits come from:

* ``chunking`` (token): CoNLL-2000, ``intermediate/chunking/train.txt`` = train, ``test.txt`` = dev;
  lines ``TOKEN POS CHUNK``, the chunk tag (IOB2) is the tag.
* ``pos`` (token): XTREME UD-POS English, ``udpos/en/{train,dev}.tsv``, ``TOKEN<TAB>UPOS``.
* ``sst2`` (sentence): GLUE SST-2, ``intermediate/sentiment/{train,dev}.tsv``; the space every
  sentence ends with is stripped; labels ``negative`` / ``positive``.
* ``rte`` (pair): GLUE RTE, ``intermediate/nli/{train,dev}.tsv``; ``entailment`` / ``not_entailment``.
* ``mrpc`` (pair): GLUE's split rebuilt from the MSR file: rows whose ``(#1 ID, #2 ID)`` is in
  ``dev_ids.tsv`` are dev (408), the rest train (3,668); ``paraphrase`` / ``not_paraphrase``.
* ``squad`` (span): only SQuAD v1.1's *dev* file is available, so it is split here BY ARTICLE:
  article i (in file order) is dev when i % 6 == 5, else train. Splitting by question would let
  the held-out part share paragraphs and topics with training and overstate how well it does.
  One example per question, with its first answer.

Tab-separated files are split on tabs, never parsed with csv quoting: RTE and MRPC texts hold
bare ``"`` characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from fusion.data.ner import DataFormatError

TASK_KINDS = ("token", "sentence", "pair", "span")
TASK_SPLITS = ("train", "dev")
DATA_ROOT_EXAMPLE = "../shared/data"
SQUAD_DEV_EVERY = 6  # article i is dev when i % 6 == 5: 8 of 48 articles, 1,731 of 10,570 questions

_CHUNK_TAG = re.compile(r"^(O|[BI]-[A-Z]+)$")


@dataclass(frozen=True)
class TokenExample:
    """One sentence of a tagging task (chunking, POS): a tag per word."""

    words: list[str]
    tags: list[str]


@dataclass(frozen=True)
class ClassificationExample:
    """One sentence (SST-2, `pair` None) or sentence pair (RTE, MRPC) with its class label."""

    text: str
    pair: str | None
    label: str


@dataclass(frozen=True)
class SpanExample:
    """A SQuAD question; the answer is ``context[answer_start:answer_end]`` (end exclusive)."""

    question: str
    context: str
    answer_start: int
    answer_end: int


@dataclass(frozen=True)
class IntermediateTask:
    """What a task is and which files (relative to the data root) it reads, for the record."""

    name: str
    domain: str
    kind: str
    files: tuple[str, ...]
    description: str


INTERMEDIATE_TASKS: dict[str, IntermediateTask] = {task.name: task for task in (
    IntermediateTask("chunking", "syntax", "token",
                     ("intermediate/chunking/train.txt", "intermediate/chunking/test.txt"),
                     "CoNLL-2000 chunking (WSJ), IOB2 chunk tags"),
    IntermediateTask("pos", "syntax", "token",
                     ("udpos/en/train.tsv", "udpos/en/dev.tsv"),
                     "Universal Dependencies v2.5 English (XTREME UD-POS), 17 UPOS tags"),
    IntermediateTask("sst2", "sentiment", "sentence",
                     ("intermediate/sentiment/train.tsv", "intermediate/sentiment/dev.tsv"),
                     "GLUE SST-2 movie-review sentiment, negative / positive"),
    IntermediateTask("rte", "inference", "pair",
                     ("intermediate/nli/train.tsv", "intermediate/nli/dev.tsv"),
                     "GLUE RTE textual entailment, entailment / not_entailment"),
    IntermediateTask("mrpc", "paraphrase", "pair",
                     ("intermediate/paraphrase/msr_paraphrase_train.txt",
                      "intermediate/paraphrase/dev_ids.tsv"),
                     "GLUE MRPC (MSR paraphrase corpus, GLUE's dev ids), paraphrase / not_paraphrase"),
    IntermediateTask("squad", "question answering", "span",
                     ("intermediate/qa/dev-v1.1.json",),
                     "SQuAD v1.1 dev, split by article (i % 6 == 5 -> dev), first answer per question"),
)}


def get_task(task: str) -> IntermediateTask:
    """The task called `task`; ValueError naming the known ones otherwise."""
    if task not in INTERMEDIATE_TASKS:
        raise ValueError(f"unknown intermediate task {task!r}; known: {', '.join(INTERMEDIATE_TASKS)}")
    return INTERMEDIATE_TASKS[task]


def task_labels(task: str, examples) -> list[str]:
    """Sorted set of token tags or class labels seen in `examples` (span tasks have none)."""
    kind = get_task(task).kind
    if kind == "span":
        raise ValueError(f"{task!r} is a span task: its examples have no labels")
    if kind == "token":
        return sorted({tag for example in examples for tag in example.tags})
    return sorted({example.label for example in examples})


def load_task(data_root: str | Path, task: str, split: str, max_examples: int | None = None) -> list:
    """The first `max_examples` examples of `split` ("train" or "dev") in file order."""
    get_task(task)
    if split not in TASK_SPLITS:
        raise ValueError(f"split must be one of {TASK_SPLITS}, got {split!r}")
    if max_examples is not None and max_examples < 0:
        raise ValueError(f"max_examples must be >= 0 or None, got {max_examples}")
    root = Path(data_root)
    if task == "chunking":
        name = "train.txt" if split == "train" else "test.txt"
        return read_tokens(_file(root, f"intermediate/chunking/{name}"), " ", 3, max_examples)
    if task == "pos":
        return read_tokens(_file(root, f"udpos/en/{split}.tsv"), "\t", 2, max_examples)
    if task == "sst2":
        return _read_sst2(_file(root, f"intermediate/sentiment/{split}.tsv"), max_examples)
    if task == "rte":
        return _read_rte(_file(root, f"intermediate/nli/{split}.tsv"), max_examples)
    if task == "mrpc":
        return _read_mrpc(_file(root, "intermediate/paraphrase/msr_paraphrase_train.txt"),
                          _file(root, "intermediate/paraphrase/dev_ids.tsv"), split, max_examples)
    return _read_squad(_file(root, "intermediate/qa/dev-v1.1.json"), split, max_examples)


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------

def _file(root: Path, relative: str) -> Path:
    path = root / relative
    if not path.is_file():
        raise DataFormatError(
            f"{path}: no such file; the data root should be the shared data folder that holds "
            f"intermediate/ and udpos/, e.g. {DATA_ROOT_EXAMPLE} (got {root})")
    return path


def _lines(path: Path, encoding: str = "utf-8"):
    """(line number, line without its line end); a decoding error becomes a DataFormatError."""
    try:
        with path.open(encoding=encoding, newline="") as handle:
            for line_number, line in enumerate(handle, start=1):
                yield line_number, line.rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise DataFormatError(
            f"{path}: not valid {encoding} ({error.reason} at byte {error.start})") from error


def _full(examples: list, max_examples: int | None) -> bool:
    return max_examples is not None and len(examples) >= max_examples


def read_tokens(path: Path, separator: str, n_columns: int,
                 max_examples: int | None) -> list[TokenExample]:
    """Blank-line-separated sentences, token first and tag last on each line."""
    shape = "TOKEN POS CHUNK" if n_columns == 3 else "TOKEN<TAB>TAG"
    examples: list[TokenExample] = []
    words: list[str] = []
    tags: list[str] = []
    for line_number, line in _lines(path):
        if _full(examples, max_examples):
            break
        if not line.strip():
            if words:
                examples.append(TokenExample(words, tags))
                words, tags = [], []
            continue
        columns = line.split(separator)
        if len(columns) != n_columns or not all(columns):
            raise DataFormatError(f"{path}:{line_number}: expected '{shape}', got {line[:80]!r}")
        if n_columns == 3 and not _CHUNK_TAG.match(columns[-1]):
            raise DataFormatError(
                f"{path}:{line_number}: chunk tag {columns[-1]!r} is not O or B-/I-<TYPE>")
        words.append(columns[0])
        tags.append(columns[-1])
    if words and not _full(examples, max_examples):
        examples.append(TokenExample(words, tags))
    return examples


def _table(path: Path, header: list[str], encoding: str = "utf-8"):
    """(line number, fields) of each data row of a tab-separated file with `header`."""
    rows = _lines(path, encoding)
    first = next(rows, None)
    if first is None or first[1].split("\t") != header:
        expected = "\t".join(header)
        got = "an empty file" if first is None else repr(first[1][:80])
        raise DataFormatError(f"{path}:1: expected the header {expected!r}, got {got}")
    for line_number, line in rows:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataFormatError(
                f"{path}:{line_number}: expected {len(header)} tab-separated fields "
                f"({', '.join(header)}), got {len(fields)}")
        yield line_number, fields


def _label(path: Path, line_number: int, value: str, names: dict[str, str]) -> str:
    if value not in names:
        raise DataFormatError(f"{path}:{line_number}: label {value!r} is not one of {sorted(names)}")
    return names[value]


def _read_sst2(path: Path, max_examples: int | None) -> list[ClassificationExample]:
    names = {"0": "negative", "1": "positive"}
    examples: list[ClassificationExample] = []
    for line_number, (sentence, label) in _table(path, ["sentence", "label"]):
        if _full(examples, max_examples):
            break
        # every GLUE SST-2 sentence ends with a space before the tab
        label = _label(path, line_number, label, names)
        examples.append(ClassificationExample(sentence.strip(), None, label))
    return examples


def _read_rte(path: Path, max_examples: int | None) -> list[ClassificationExample]:
    names = {"entailment": "entailment", "not_entailment": "not_entailment"}
    examples: list[ClassificationExample] = []
    header = ["index", "sentence1", "sentence2", "label"]
    for line_number, (_, first, second, label) in _table(path, header):
        if _full(examples, max_examples):
            break
        examples.append(ClassificationExample(first, second, _label(path, line_number, label, names)))
    return examples


def _read_mrpc(path: Path, ids_path: Path, split: str,
               max_examples: int | None) -> list[ClassificationExample]:
    """GLUE's MRPC split: the pairs listed in dev_ids.tsv are dev, the others train."""
    dev_ids = set()
    for line_number, line in _lines(ids_path):
        if not line.strip():
            continue
        ids = line.split("\t")
        if len(ids) != 2 or not all(ids):
            raise DataFormatError(
                f"{ids_path}:{line_number}: expected '#1 ID<TAB>#2 ID', got {line[:80]!r}")
        dev_ids.add(tuple(ids))
    names = {"1": "paraphrase", "0": "not_paraphrase"}
    header = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
    examples: list[ClassificationExample] = []
    seen_dev = set()
    for line_number, (quality, id1, id2, first, second) in _table(path, header, encoding="utf-8-sig"):
        label = _label(path, line_number, quality, names)
        if (id1, id2) in dev_ids:
            seen_dev.add((id1, id2))
        if ((id1, id2) in dev_ids) == (split == "dev") and not _full(examples, max_examples):
            examples.append(ClassificationExample(first, second, label))
    missing = dev_ids - seen_dev
    if missing:
        raise DataFormatError(
            f"{ids_path}: {len(missing)} dev id pairs are not in {path}, e.g. {sorted(missing)[0]}")
    return examples


def _read_squad(path: Path, split: str, max_examples: int | None) -> list[SpanExample]:
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (ValueError, KeyError, TypeError) as error:
        raise DataFormatError(
            f"{path}: not SQuAD JSON with a 'data' list of articles ({error})") from error
    examples: list[SpanExample] = []
    for index, article in enumerate(articles):
        in_dev = index % SQUAD_DEV_EVERY == SQUAD_DEV_EVERY - 1
        if in_dev != (split == "dev"):
            continue
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                if _full(examples, max_examples):
                    return examples
                where = f"{path}: article {index} ({article.get('title')!r}), question {qa.get('id')}"
                if not qa["answers"]:
                    raise DataFormatError(f"{where}: no answer")
                answer = qa["answers"][0]
                start, text = answer["answer_start"], answer["text"]
                end = start + len(text)
                if context[start:end] != text:
                    raise DataFormatError(
                        f"{where}: answer {text!r} is not at offset {start} of the context "
                        f"(found {context[start:end]!r})")
                examples.append(SpanExample(qa["question"], context, start, end))
    return examples
