"""XTREME UD-POS files: ``<root>/<lang>/{train,dev,test}.tsv``, ``TOKEN<TAB>UPOS``, read as the
NER readers read PAN-X, with the 17 UPOS tags."""

from __future__ import annotations

from pathlib import Path

from fusion.data.ner import DataFormatError, to_dataset
from fusion.data.tasks import read_tokens

UPOS_TAGS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
             "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"]


def read_upos(root: str | Path, language: str, split: str, max_sentences: int | None = None):
    """The first `max_sentences` sentences of ``root/<language>/<split>.tsv`` as
    Dataset(tokens, ner_tags): the tag column keeps the NER readers' name, so training and
    prediction read both tasks alike; here it holds UPOS tags."""
    path = Path(root) / language / f"{split}.tsv"
    if not path.is_file():
        raise DataFormatError(f"no UD-POS {split} file for '{language}': expected {path}")
    examples = read_tokens(path, "\t", 2, max_sentences)
    for number, example in enumerate(examples, start=1):
        unknown = sorted(set(example.tags) - set(UPOS_TAGS))
        if unknown:
            raise DataFormatError(f"{path}: sentence {number} has tags {unknown}, not UPOS "
                                  f"({', '.join(UPOS_TAGS)})")
    return to_dataset([(e.words, e.tags) for e in examples])


def available_pos_languages(root: str | Path, split: str = "test") -> list[str]:
    return sorted(p.parent.name for p in Path(root).glob(f"*/{split}.tsv"))
