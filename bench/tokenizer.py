"""The offline encoder's tokenizer as the app holds it (SentencePiece, fusion/model/piece_tokenizer.py)
against transformers' reading of the same tokenizer.json, in the same run: the memory one instance
adds to a fresh process, the time to read it, and the time to tokenize the shipped sample
sentences of 39 languages (assets/error_samples) as one batch and one sentence at a time.

    python bench/tokenizer.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LOADERS = {"sentencepiece (the app's)": "offline_tokenizer", "transformers (reference)": "offline_hf_tokenizer"}


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def one(loader: str, repeats: int) -> dict:
    """In this process: RSS and time of reading the tokenizer, then tokenizing the samples."""
    import sentencepiece  # noqa: F401  (both libraries imported before the RSS is read)
    import transformers  # noqa: F401

    import fusion.model.encoders as encoders
    from fusion.evaluation.error_analysis import read_sample

    sentences = [s["tokens"] for path in sorted((REPO / "assets" / "error_samples").glob("*.json"))
                 for s in read_sample(path)["sentences"]]
    before, started = rss_mb(), time.perf_counter()
    tokenizer = getattr(encoders, loader)()
    read, held = time.perf_counter() - started, rss_mb() - before
    batch, single = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        tokenizer(sentences, is_split_into_words=True, add_special_tokens=False)
        batch.append(time.perf_counter() - started)
        started = time.perf_counter()
        for words in sentences:
            tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        single.append(time.perf_counter() - started)
    return {"sentences": len(sentences), "read s": read, "RSS MB": held,
            "batch s": statistics.median(batch), "one by one s": statistics.median(single)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", choices=sorted(LOADERS.values()), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args.child, args.repeats)))
        return
    results = {}
    for name, loader in LOADERS.items():  # each in a fresh process: memory is not shared or freed between them
        out = subprocess.run([sys.executable, __file__, "--child", loader, "--repeats", str(args.repeats)],
                             check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
    ours, reference = results.values()
    for name, row in results.items():
        print(f"{name}: +{row['RSS MB']:.0f} MB, read in {row['read s']:.2f} s; {row['sentences']} sentences: "
              f"batch {1000 * row['batch s']:.0f} ms, one by one {1000 * row['one by one s']:.0f} ms")
    print("sentencepiece / transformers: " + ", ".join(
        f"{key} {ours[key] / reference[key]:.2f} ×" for key in ("RSS MB", "read s", "batch s", "one by one s")))


if __name__ == "__main__":
    main()
