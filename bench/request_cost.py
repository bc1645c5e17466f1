"""What one Compare request costs as its text grows, and the token budget that keeps it ≤ 2 s.

    python bench/request_cost.py [--budget 1024] [--runtime onnx|torch]

Times both shipped taggers at once, one thread each (`predict_each`, what Compare runs; on ONNX
Runtime as the app serves them, or `--runtime torch`) on English paragraphs of growing
length and on unpunctuated Chinese (one long sentence: overlapping 512-token windows), reports
milliseconds per token (a least-squares line through each series) against a ~30-token sentence
measured in the same run, and the time of the largest request the budget admits
(`fusion.tagging.budget.fit_to_budget` with the app's budget: ui/compare_tab.py TOKEN_BUDGET tokens, and
one encoder window per sentence).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

ENGLISH = ("Angela Merkel met Emmanuel Macron at the Élysée Palace in Paris on Tuesday. They "
           "discussed the future of the European Union and NATO with Olaf Scholz. ")
CHINESE = "北京是中国的首都也是政治文化中心"


def seconds(function, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    import numpy as np
    import torch
    from latency import SENTENCE

    from fusion.model.checkpoint import load_tagger
    from fusion.model.onnx_runtime import attach_runtime
    from fusion.tagging.batching import max_window_tokens
    from fusion.tagging.budget import fit_to_budget
    from fusion.tagging.predict import predict_each

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=1024, help="tokens per request")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runtime", choices=("onnx", "torch"), default="onnx")
    args = parser.parse_args()
    fusion_dir = sorted((REPO / "checkpoints").glob("fusion-l*"))[0]
    onnx = args.runtime == "onnx"
    taggers = [load_tagger(directory, merge=not onnx) for directory in (REPO / "checkpoints" / "baseline", fusion_dir)]
    for tagger in taggers:
        if onnx and (error := attach_runtime(tagger).error):
            sys.exit(error)
    tokenizer = taggers[0].tokenizer

    torch.set_num_threads(1)  # as the app serves: the two taggers at once, one thread each

    def both(text):
        return lambda: predict_each(dict(zip(("baseline", "fusion"), taggers)), [text])

    both(SENTENCE)()  # warm up
    short = seconds(both(SENTENCE), 10)
    print(f"~30-token sentence, both taggers: {1000 * short:.0f} ms")
    for name, unit in (("English paragraphs", ENGLISH), ("Chinese, no breaks", CHINESE)):
        points = []
        for copies in (2, 8, 16, 32):
            text = unit * copies
            tokens = fit_to_budget(text, tokenizer, 10**9).total_tokens
            points.append((tokens, seconds(both(text), args.repeats)))
            print(f"{name}: {len(text):5d} characters, {tokens:5d} tokens: {points[-1][1]:6.2f} s "
                  f"({points[-1][1] / short:5.1f} × the short sentence)")
        slope, intercept = np.polyfit([p[0] for p in points], [p[1] for p in points], 1)
        print(f"{name}: {1000 * slope:.2f} ms per token (+ {1000 * intercept:.0f} ms); the budget of "
              f"{args.budget} tokens predicts {slope * args.budget + intercept:.2f} s")
        text = unit * 200
        fitted = fit_to_budget(text, tokenizer, args.budget, max_window_tokens(taggers[0]))
        cost = seconds(both(text[:fitted.end]), args.repeats)
        print(f"{name}: the largest admitted request ({fitted.tokens} of {fitted.total_tokens} tokens, "
              f"{fitted.end} characters) takes {cost:.2f} s (target ≤ 2 s)")


if __name__ == "__main__":
    main()
