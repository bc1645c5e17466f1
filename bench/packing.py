"""Packed batches (fusion/model/packing.py) against plain padded ones, in one run: speed, and that the
tags do not change.

    python bench/packing.py [--data ../shared/data/wikiann] [--languages en,de,zh] [--sentences 1000]

1. Compare's case: the texts of bench/load.py, 8 at once (one batch of many people's requests),
   through both shipped taggers at one torch thread each, as the app serves: tokens computed
   (real + padding) and p50 time, packed and padded, measured round-robin.
2. Evaluation's case (with --data): the first N WikiANN test sentences per language, tagged
   packed and padded: seconds, and F1 and the share of words whose tag differs (target: F1
   equal to 0.01 points; packing only regroups the same tokens, so only float rounding differs).
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def compare_case(taggers: dict, repeats: int) -> None:
    from latency import timings
    from load import TEXTS

    from fusion.model.packing import pack_batch
    from fusion.tagging.batching import frame_token_ids
    from fusion.tagging.predict import segment, tag_words

    tokenizer = next(iter(taggers.values())).tokenizer
    texts = [TEXTS[i % len(TEXTS)] for i in range(8)]
    sentences = []  # each text's sentences as words, as predict cuts them
    for text in texts:
        words, cut = segment(text, tokenizer)
        sentences += [[w.text for w in words[s.first_word:s.first_word + s.n_words]] for s in cut]
    first, last = frame_token_ids(tokenizer)
    windows = [[first] + tokenizer(words, is_split_into_words=True, add_special_tokens=False)["input_ids"] + [last]
               for words in sentences]
    for pack in (False, True):
        batch = pack_batch(windows, tokenizer.pad_token_id or 0, pack)
        rows, width = batch.input_ids.shape
        print(f"{'packed' if pack else 'padded'}: {rows * width} tokens computed for {sum(map(len, windows))} "
              f"real ({rows} rows × {width})")

    def tag_all(pack: bool):
        return [tag_words(tagger, sentences, pack=pack) for tagger in taggers.values()]

    def tags(pack: bool):
        return [[[tag for tag, _ in words] for words in tagged] for tagged in tag_all(pack)]

    same = tags(False) == tags(True)
    rows = timings({"padded": lambda: tag_all(False), "packed": lambda: tag_all(True)}, repeats)
    print(f"8 texts ({len(sentences)} sentences) through both taggers: padded p50 {rows['padded'][0]:.0f} ms, "
          f"packed p50 {rows['packed'][0]:.0f} ms ({rows['packed'][0] / rows['padded'][0]:.2f} ×); "
          f"same tags: {same}")


def evaluation_case(taggers: dict, data: str, languages: list[str], n: int) -> None:
    from fusion.data.ner import load_split
    from fusion.evaluation.evaluate import score_tags
    from fusion.tagging.predict import tag_words

    for language in languages:
        dataset = load_split(data, language, "test", n)
        for name, tagger in taggers.items():
            figures = {}
            for pack in (False, True, False, True):  # twice each, alternating: drift hits both
                started = time.perf_counter()
                tags = [[t for t, _ in s] for s in tag_words(tagger, dataset["tokens"], pack=pack)]
                figures.setdefault(pack, []).append((time.perf_counter() - started, tags))
            seconds = {pack: min(t for t, _ in runs) for pack, runs in figures.items()}
            tags = {pack: runs[0][1] for pack, runs in figures.items()}
            f1 = {pack: 100 * score_tags(dataset["ner_tags"], tags[pack])["f1"] for pack in tags}
            words = sum(len(s) for s in tags[True])
            differ = sum(a != b for x, y in zip(tags[True], tags[False]) for a, b in zip(x, y))
            print(f"{language} {name}: {len(dataset)} sentences, padded {seconds[False]:.1f} s, packed "
                  f"{seconds[True]:.1f} s ({seconds[True] / seconds[False]:.2f} ×); F1 padded {f1[False]:.2f}, "
                  f"packed {f1[True]:.2f}; tags differing: {differ} of {words:,} words")


def main() -> None:
    import torch

    from fusion.model.checkpoint import load_tagger

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="PAN-X directory, for the evaluation case")
    parser.add_argument("--languages", default="en,de,zh")
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the app serves each tagger
    fusion_dir = sorted(glob.glob(str(REPO / "checkpoints" / "fusion-l*")), key=lambda p: (len(p), p))[0]
    taggers = {"baseline": load_tagger(REPO / "checkpoints" / "baseline"), "fusion": load_tagger(fusion_dir)}
    compare_case(taggers, args.repeats)
    if args.data:
        evaluation_case(taggers, args.data, args.languages.split(","), args.sentences)


if __name__ == "__main__":
    main()
