"""How soon could a start answer its first Compare from the cached graphs alone? (issue 28: first
Compare ≤ 8 s with a warm cache.) Each path runs in a fresh process, timed from its launch to
the two taggers' logits of one sentence:

- graph only: onnxruntime, the cached SentencePiece tokenizer (fusion/model/piece_tokenizer.py),
  the embedding table read from the cached fp32 weights, both cached graph sessions opened in two
  threads; no torch, no transformers;
- the same while Gradio is imported (what a graph-first app start would do before its launch);
- the app's path as it ships: the torch taggers (serve/slots.py `load_slots`) and `predict`;
- Gradio's import alone (the floor under any start).

It reads the cache folder a start of the app filled (fusion/model/disk_cache.py) and says so when
it is empty. What it does not measure: the page's build and Gradio's launch (bench/app_start.py).

    python bench/graph_first.py [--repeats 3] [--text "..."]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TEXT = "Maria Lopez flew from Toronto to Nairobi to meet engineers from Siemens and the World Bank."

GRAPH_ONLY = """
import sys, threading
import numpy as np, onnxruntime
from safetensors.numpy import safe_open
from fusion.model.piece_tokenizer import PieceTokenizer
model, scores, weights, text, *graphs = sys.argv[1:]
sessions = {}
def open_session(path):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 1, 3
    sessions[path] = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
opening = [threading.Thread(target=open_session, args=(path,)) for path in graphs]
for thread in opening:
    thread.start()
if WITH_GRADIO:
    import gradio
tokenizer = PieceTokenizer(open(model, "rb").read(), open(scores, "rb").read())
ids = tokenizer(text)["input_ids"]
with safe_open(weights, "np") as tensors:
    table = tensors.get_tensor("embeddings.word_embeddings.weight")
feeds = {"word_embeddings": table[np.array(ids)][None].astype(np.float32),
         "positions": np.arange(len(ids))[None], "segments": np.zeros((1, len(ids)), dtype=np.int64)}
for thread in opening:
    thread.join()
for path in graphs:
    sessions[path].run(["logits"], feeds)
"""

AS_SHIPPED = """
import sys
from fusion.tagging.predict import predict
from serve.slots import load_slots
baseline, fusion, text = sys.argv[1:]
for slot in load_slots(baseline, fusion, merge=False).values():
    predict(slot.tagger, text)
"""


def cached_files(text: str) -> dict[str, list[str]]:
    """The arguments of each path: the cache's files for the shipped checkpoints (SystemExit when
    a start of the app has not filled it yet)."""
    from fusion.model.disk_cache import DiskCache
    from fusion.model.encoders import (MAX_OFFLINE_BYTES, MAX_PIECE_MODEL_BYTES, offline_tokenizer_names,
                                       offline_weights_name)
    from fusion.model.onnx_cache import GraphCache, graph_key
    from serve.paths import BASELINE_DIR
    from serve.slots import find_fusion_checkpoint

    cache, checkpoints = DiskCache(), [BASELINE_DIR, find_fusion_checkpoint()]
    files = [cache.verified(name, MAX_PIECE_MODEL_BYTES) for name in offline_tokenizer_names()]
    files.append(cache.verified(offline_weights_name(), MAX_OFFLINE_BYTES))
    graphs = [GraphCache().path(graph_key(checkpoint)) for checkpoint in checkpoints]
    if any(path is None for path in files + graphs):
        raise SystemExit(f"the cache folder {cache.folder} lacks a file this bench reads: start "
                         "`python app.py` once (it fills the cache), then run this again")
    return {"graph only": [*map(str, files), text, *map(str, graphs)],
            "as shipped": [str(checkpoint) for checkpoint in checkpoints] + [text]}


def seconds(code: str, arguments: list[str]) -> float:
    """From launch to exit of a fresh `python -c code arguments` (its exit is the answer here)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *arguments], cwd=ROOT, check=True,
                   env={**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                        "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each path (the median is kept)")
    parser.add_argument("--text", default=TEXT)
    options = parser.parse_args()
    arguments = cached_files(options.text)
    paths = {
        "graph only (no torch, no transformers)": (GRAPH_ONLY.replace("WITH_GRADIO", "False"), arguments["graph only"]),
        "graph only, Gradio imported meanwhile": (GRAPH_ONLY.replace("WITH_GRADIO", "True"), arguments["graph only"]),
        "the torch taggers, as the app loads them": (AS_SHIPPED, arguments["as shipped"]),
        "Gradio's import alone": ("import gradio", []),
        "Python alone": ("pass", []),
    }
    times = {name: [] for name in paths}
    for _ in range(options.repeats):  # interleaved, so that a busy spell touches every path alike
        for name, (code, args) in paths.items():
            times[name].append(seconds(code, args))
    median = {name: statistics.median(values) for name, values in times.items()}
    floor = median["Gradio's import alone"]
    for name, value in median.items():
        runs = ", ".join(f"{v:.2f}" for v in times[name])
        print(f"{name:42s} {value:6.2f} s  ({runs})   {value / floor:5.2f} × Gradio's import")
    graph_first, torch_path = (median[name] for name in ("graph only, Gradio imported meanwhile",
                                                         "the torch taggers, as the app loads them"))
    print(f"graph-first with Gradio / the torch taggers' path: {graph_first / torch_path:.2f} ×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
