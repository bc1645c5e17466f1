"""Classifying one sentence pair with both models against one Compare of a sentence of the same
length, on the same runtime (issue 29: pair ≤ 1.2 × Compare), measured round-robin in one run.

    python bench/pair_speed.py [--repeats 30] [--runtime onnx|torch]

The NER taggers are the shipped ones; the pair classifiers are the shipped XNLI ones when
checkpoints/pairs holds them, else untrained ones on the same encoder (speed does not depend on
what a head learnt). Both sides run their two models at once, one thread each, as the app serves.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PAIR = ("The new rights are nice enough, but the old ones were better for families.",
        "Families preferred the old rights to the new ones.")


def pair_slots(runtime: str):
    from fusion.model.pairs import PairClassifier, PairConfig
    from serve.pairs import pair_checkpoints
    from serve.slots import TaggerSlot, load_slot

    shipped = pair_checkpoints()["xnli"]
    slots = {}
    for side, layer in (("baseline", None), ("fusion", 11)):
        if shipped[side] is not None:
            slots[side] = load_slot(side, shipped[side], merge=False)
        else:
            slots[side] = TaggerSlot(side, "untrained", tagger=PairClassifier(PairConfig(fusion_layer=layer)).eval())
    return slots


def main() -> None:
    import torch

    from fusion.model.onnx_runtime import attach_runtime
    from fusion.tagging.pairs import encode_pairs
    from serve.compare import compare_text
    from serve.pairs import PairService
    from serve.slots import find_fusion_checkpoint, load_slots

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--runtime", default="onnx", choices=("onnx", "torch"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    ner = load_slots(REPO / "checkpoints" / "baseline", find_fusion_checkpoint(), merge=args.runtime == "torch")
    pairs = pair_slots(args.runtime)
    if args.runtime == "onnx":
        for slot in [*ner.values(), *pairs.values()]:
            attached = attach_runtime(slot.tagger)
            if attached.error:
                sys.exit(f"{slot.side}: {attached.error}")
    service = PairService({"xnli": {}})
    service.use("xnli", pairs)
    (ids,), _ = encode_pairs(pairs["baseline"].tagger, [PAIR])
    # a Compare text of the pair's length: its words as one sentence, cut to the same token count
    words = (PAIR[0] + " " + PAIR[1]).replace(".", "").split()
    tokenizer = ner["baseline"].tagger.tokenizer
    while len(tokenizer(" ".join(words))["input_ids"]) > len(ids):
        words.pop()
    text = " ".join(words) + "."
    compare_s, pair_s = [], []
    for _ in range(3):  # warm
        compare_text(ner, text), service.classify("xnli", *PAIR)
    for _ in range(args.repeats):
        started = time.perf_counter()
        compare_text(ner, text)
        compare_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        service.classify("xnli", *PAIR)
        pair_s.append(time.perf_counter() - started)
    c, p = statistics.median(compare_s), statistics.median(pair_s)
    print(f"runtime {args.runtime}; pair {len(ids)} tokens, Compare text {len(tokenizer(text)['input_ids'])} tokens; "
          f"Compare p50 {1000 * c:.1f} ms, pair p50 {1000 * p:.1f} ms; pair / Compare {p / c:.2f} × (target ≤ 1.2 ×)")


if __name__ == "__main__":
    main()
