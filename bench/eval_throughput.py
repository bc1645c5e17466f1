"""Zero-shot evaluation throughput against transformers.pipeline, same sentences, same weights.

    python bench/eval_throughput.py --data ../shared/data/wikiann [--language de] [--sentences 1000]

Ours: `fusion.evaluation.evaluate.evaluate_dataset` (windows batched by length, inference mode, scoring
included). Reference: `transformers.pipeline("token-classification")` built from the same merged
baseline weights, fed the same sentences (words joined by spaces), with its default batching.
Prints sentences per second of both and the ratio (target ≥ 3×, docs/METHOD.md, "Figures the product must reach").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    import torch
    from latency import pipeline_on_same_weights

    from fusion.data.ner import load_split
    from fusion.evaluation.evaluate import evaluate_dataset
    from fusion.model.checkpoint import load_tagger

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="PAN-X directory, e.g. ../shared/data/wikiann")
    parser.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "baseline"))
    parser.add_argument("--language", default="de")
    parser.add_argument("--sentences", type=int, default=1000)
    args = parser.parse_args()

    tagger = load_tagger(args.checkpoint)
    dataset = load_split(args.data, args.language, "test", args.sentences)
    texts = [" ".join(words) for words in dataset["tokens"]]
    pipe = pipeline_on_same_weights(tagger)
    pipe(texts[:4])  # warm-up
    evaluate_dataset(tagger, dataset.select(range(min(32, len(dataset)))))

    started = time.perf_counter()
    scores = evaluate_dataset(tagger, dataset)
    ours = len(dataset) / (time.perf_counter() - started)

    started = time.perf_counter()
    with torch.inference_mode():
        for text in texts:
            pipe(text)
    theirs = len(texts) / (time.perf_counter() - started)

    print(f"{args.language} test, first {len(dataset)} sentences, torch threads {torch.get_num_threads()}")
    print(f"ours (evaluate, F1 {100 * scores['f1']:.2f})  {ours:8.1f} sentences/s")
    print(f"transformers pipeline            {theirs:8.1f} sentences/s")
    print(f"ratio ours / pipeline            {ours / theirs:8.2f}   target ≥ 3  "
          f"{'meets' if ours / theirs >= 3 else 'MISSES'}")


if __name__ == "__main__":
    main()
