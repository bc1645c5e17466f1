"""NER data as `datasets.Dataset` objects with two columns, ``tokens`` and ``ner_tags`` (strings).

Sources:
* a directory in PAN-X layout, ``<lang>/{train,dev,test}.tsv`` (as ``../shared/data/wikiann``),
  or XTREME's flat ``{train,dev,test}-<lang>.tsv``;
* one CoNLL-style file: token in the first column, tag in the last, blank lines between
  sentences, ``-DOCSTART-`` skipped, IOB1 turned into IOB2;
* the hub dataset ``wikiann`` (one config per language), when online.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from fusion.model.modeling import PANX_LABELS

SPLITS = ("train", "dev", "test")
HUB_WIKIANN = "wikiann"
_HUB_SPLIT_NAMES = {"train": "train", "dev": "validation", "test": "test"}
_TAG_PATTERN = re.compile(r"^(O|[BI]-[^\s\x00-\x1f\x7f]+)$")  # no control characters in a type


class DataFormatError(ValueError):
    """A data file that cannot be read; the message names the file and line."""


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------

def iob1_to_iob2(tags: list[str]) -> list[str]:
    """An I- tag that starts an entity (after O or another type) becomes B-; IOB2 is unchanged."""
    fixed = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-"):
            previous = fixed[i - 1] if i else "O"
            if previous == "O" or previous[2:] != tag[2:]:
                tag = "B-" + tag[2:]
        fixed.append(tag)
    return fixed


def read_conll_sentences(path: str | Path, encoding: str = "utf-8",
                         max_sentences: int | None = None) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence, exactly as the file has them (no tag mapping); with
    `max_sentences`, the first N, and the rest of the file is not read."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    try:
        with path.open(encoding=encoding, newline="") as handle:
            return parse_conll_lines(handle, str(path), max_sentences)
    except UnicodeDecodeError as error:
        raise DataFormatError(
            f"{path}: not valid {encoding} ({error.reason} at byte {error.start}); "
            "pass the file's encoding, e.g. encoding='latin-1'") from error


def parse_conll_lines(lines, source: str, max_sentences: int | None = None) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence from CoNLL-style lines; errors name `source` and the line. With
    `max_sentences`, stops once it has the first N (a 1,000-sentence evaluation of a 20,000-sentence
    file reads a twentieth of it)."""
    sentences: list[tuple[list[str], list[str]]] = []
    if max_sentences is not None and max_sentences <= 0:
        return sentences
    tokens: list[str] = []
    tags: list[str] = []
    for line_number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            if tokens:
                sentences.append((tokens, tags))
                tokens, tags = [], []
                if len(sentences) == max_sentences:
                    return sentences
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        if columns[0] == "-DOCSTART-":
            continue
        if len(columns) < 2 or not columns[0] or not columns[-1].strip():
            raise DataFormatError(
                f"{source}:{line_number}: expected a token, then a tab (or spaces), then its tag "
                f"(token first, tag last); got {line[:80]!r}")
        tag = columns[-1].strip()
        if not _TAG_PATTERN.match(tag):
            raise DataFormatError(
                f"{source}:{line_number}: tag {tag!r} is not O or B-/I-<TYPE> (IOB)")
        tokens.append(columns[0])
        tags.append(tag)
    if tokens:
        sentences.append((tokens, tags))
    return sentences


def normalise_tags(sentences, labels=PANX_LABELS, source: str = "") -> tuple[list, int]:
    """IOB1 -> IOB2, then tags outside `labels` (MISC, DATE...) -> O. Returns (sentences, n_mapped)."""
    allowed = set(labels)
    mapped = 0
    result = []
    for tokens, tags in sentences:
        tags = iob1_to_iob2(tags)
        mapped += sum(tag not in allowed for tag in tags)
        clean = [tag if tag in allowed else "O" for tag in tags]
        result.append((tokens, iob1_to_iob2(clean)))  # an I- after a tag mapped to O starts anew
    if mapped:
        print(f"{source or 'data'}: {mapped} tags outside {sorted(allowed)} were read as O",
              file=sys.stderr)
    return result, mapped


def to_dataset(sentences):
    from datasets import Dataset

    return Dataset.from_dict({"tokens": [s[0] for s in sentences], "ner_tags": [s[1] for s in sentences]})


def read_conll(path: str | Path, encoding: str = "utf-8", labels=PANX_LABELS,
               max_sentences: int | None = None):
    """One CoNLL-style file -> Dataset(tokens, ner_tags). `max_sentences` keeps the first N."""
    return conll_dataset(read_conll_sentences(path, encoding, max_sentences), str(path), labels, max_sentences)


def conll_dataset(sentences, source: str, labels=PANX_LABELS, max_sentences: int | None = None):
    """Parsed sentences -> Dataset(tokens, ner_tags), tags mapped to `labels`."""
    if max_sentences is not None:
        sentences = sentences[:max_sentences]
    sentences, _ = normalise_tags(sentences, labels, source=source)
    return to_dataset(sentences)


def panx_file(root: str | Path, lang: str, split: str) -> Path:
    """Where `split` of `lang` lives under `root` (nested or flat XTREME layout)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    for candidate in (root / lang / f"{split}.tsv", root / f"{split}-{lang}.tsv"):
        if candidate.is_file():
            return candidate
    raise DataFormatError(
        f"no {split} file for language '{lang}' under {root}: expected {root / lang / (split + '.tsv')} "
        f"or {root / (split + '-' + lang + '.tsv')}")


def available_languages(root: str | Path, split: str = "test") -> list[str]:
    """Languages under `root` that have `split`, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DataFormatError(f"{root}: not a directory")
    nested = {p.parent.name for p in root.glob(f"*/{split}.tsv")}
    flat = {p.stem.split("-", 1)[1] for p in root.glob(f"{split}-*.tsv")}
    return sorted(nested | flat)


def load_hub_wikiann(lang: str, split: str, max_sentences: int | None = None):
    """The hub's `wikiann` config for `lang` (needs the network or a filled cache)."""
    from datasets import load_dataset

    hub_split = _HUB_SPLIT_NAMES[split]
    if max_sentences is not None:
        hub_split = f"{hub_split}[:{max_sentences}]"
    dataset = load_dataset(HUB_WIKIANN, lang, split=hub_split)
    names = dataset.features["ner_tags"].feature.names
    # a fresh Dataset: mapping in place would keep the ClassLabel type and re-encode the strings
    return to_dataset([(list(tokens), [names[t] for t in tags])
                       for tokens, tags in zip(dataset["tokens"], dataset["ner_tags"])])


def load_split(source: str | Path, lang: str, split: str, max_sentences: int | None = None,
               labels=PANX_LABELS):
    """`source` is a PAN-X directory, or "wikiann" for the hub. Keeps the first `max_sentences`."""
    if str(source) == HUB_WIKIANN and not Path(source).exists():
        return load_hub_wikiann(lang, split, max_sentences)
    return read_conll(panx_file(source, lang, split), labels=labels, max_sentences=max_sentences)

