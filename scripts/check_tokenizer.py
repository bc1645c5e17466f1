"""Check the offline encoder's SentencePiece tokenizer (fusion/model/piece_tokenizer.py) against
transformers' reading of the same tokenizer.json, on data: the sentences of every WikiANN and
UD-POS file under DATA as words (ids, pieces, word ids), the first 300 of each also as raw text
(ids; offsets apart: they may differ where NFKC composes characters), and every labelled XNLI and
PAWS-X pair as the project reads it (ids and sequence ids, whole and cut longest first to 256 and
64 tokens). Prints what it
compared and the first differences of each file; exits 1 when any ids differ.
Usage: python scripts/check_tokenizer.py DATA_ROOT [--max-per-file N]"""

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion.data.ner import read_conll_sentences  # noqa: E402
from fusion.data.pairs import pair_languages, read_pairs  # noqa: E402
from fusion.data.tasks import read_tokens  # noqa: E402
from fusion.model.encoders import offline_hf_tokenizer, offline_tokenizer  # noqa: E402

TEXTS_PER_FILE = 300
SHOWN = 5  # differences printed per file and kind


def words_of(path: Path, limit: int | None) -> list[list[str]]:
    """The token column of a WikiANN or UD-POS file, through the project's own readers."""
    if path.parent.parent.name == "wikiann":
        return [tokens for tokens, _ in read_conll_sentences(path, max_sentences=limit)]
    return [example.words for example in read_tokens(path, "\t", 2, limit)]


def differ(counts, kind: str, label: str, shown: str) -> None:
    counts[kind] += 1
    if counts[(kind, label)] < SHOWN:
        print(f"  {label} ({kind}): {shown}")
    counts[(kind, label)] += 1


def compare_words(sp, hf, sentences, label, counts) -> None:
    sentences = [s for s in sentences if s]
    for start in range(0, len(sentences), 256):
        batch = sentences[start:start + 256]
        a = hf(batch, is_split_into_words=True, add_special_tokens=False)
        b = sp(batch, is_split_into_words=True, add_special_tokens=False)
        for i, words in enumerate(batch):
            if (a["input_ids"][i], a.word_ids(i), a.tokens(i)) != (b["input_ids"][i], b.word_ids(i), b.tokens(i)):
                differ(counts, "words", label, f"{words[:12]} hf {a.tokens(i)[:16]} sp {b.tokens(i)[:16]}")
    counts["sentences"] += len(sentences)
    for words in sentences[:TEXTS_PER_FILE]:
        text = " ".join(words)
        a, b = hf(text, return_offsets_mapping=True), sp(text, return_offsets_mapping=True)
        if a["input_ids"] != b["input_ids"]:
            differ(counts, "text ids", label, f"{text[:80]!r} hf {a.tokens()[:12]} sp {b.tokens()[:12]}")
        elif a["offset_mapping"] != b["offset_mapping"]:
            spans = [(t, x, y) for t, x, y in zip(a.tokens(), a["offset_mapping"], b["offset_mapping"]) if x != y]
            differ(counts, "text offsets", label, f"{text[:60]!r}: {spans[:3]}")
        counts["texts"] += 1


def compare_pairs(sp, hf, pairs, label, counts) -> None:
    firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
    for options in ({}, {"truncation": "longest_first", "max_length": 256}, {"truncation": True, "max_length": 64}):
        a, b = hf(firsts, seconds, **options), sp(firsts, seconds, **options)
        for i in range(len(pairs)):
            if (a["input_ids"][i], a.sequence_ids(i)) != (b["input_ids"][i], b.sequence_ids(i)):
                differ(counts, "pairs", label, f"{options} {pairs[i]!r:.100} hf {a.tokens(i)[:12]} sp {b.tokens(i)[:12]}")
    counts["pairs compared"] += len(pairs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--max-per-file", type=int, default=None, help="at most N sentences or pairs per file")
    args = parser.parse_args()
    sp, hf = offline_tokenizer(), offline_hf_tokenizer()
    started, counts = time.time(), collections.Counter()
    for path in sorted((args.data / "wikiann").glob("*/*.tsv")) + sorted((args.data / "udpos").glob("*/*.tsv")):
        compare_words(sp, hf, words_of(path, args.max_per_file), f"{path.parent.parent.name}/{path.parent.name}/{path.name}", counts)
    for task in ("xnli", "pawsx"):  # the labelled pairs, as the project reads (and strips) them
        for split in ("dev", "test"):
            for language in pair_languages(args.data, task, split):
                pairs = [(p.first, p.second) for p in read_pairs(args.data, task, language, split, args.max_per_file)]
                compare_pairs(sp, hf, pairs, f"{task}/{split}-{language}", counts)
    print(f"{counts['sentences']:,} sentences as words: {counts['words']} differ; {counts['texts']:,} as text: "
          f"{counts['text ids']} ids and {counts['text offsets']} offsets differ; {counts['pairs compared']:,} pairs "
          f"(3 ways each): {counts['pairs']} differ; {time.time() - started:.0f} s")
    return 1 if counts["words"] or counts["text ids"] or counts["pairs"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
