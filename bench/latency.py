"""Predict latency of the shipped taggers against transformers.pipeline on the same weights.

    python bench/latency.py [--baseline DIR] [--fusion DIR] [--repeats 50]

Prints p50 / p95 (ms) for a ~30-token sentence: the baseline, the fusion tagger, both with
attentions + gates (what the app's Compare + Inside views need), the Layers tab's grid (every
layer's probe from one pass of the frozen encoder, when `--probes` holds a probe set), and
`transformers.pipeline("token-classification")` built from the baseline's merged weights (and
both with attentions + gates again as Inside runs them when the app serves on ONNX Runtime: from
each tagger's graph, fusion/model/onnx_runtime.py; bench/inside_speed.py compares that with
Compare and with torch); then
the ratios that docs/METHOD.md, "Figures the product must reach" sets targets for, and the RSS of a fresh process holding both
taggers. All figures come from this one run (the machine is noisy: compare ratios, not runs).
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SENTENCE = ("Angela Merkel met Emmanuel Macron at the Élysée Palace in Paris on Tuesday to "
            "discuss the future of the European Union and NATO.")


def timings(functions: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """p50 / p95 ms of each function, measured round-robin (one call of each per round) so that
    drift on a noisy machine hits every contender alike."""
    samples = {name: [] for name in functions}
    for round_ in range(repeats + 3):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            if round_ >= 3:  # the first rounds warm up
                samples[name].append(1000 * (time.perf_counter() - started))
    return {name: (statistics.median(values), sorted(values)[int(0.95 * (len(values) - 1))])
            for name, values in samples.items()}


def pipeline_on_same_weights(tagger):
    """A transformers token-classification pipeline holding the baseline's (merged) weights."""
    from transformers import AutoModelForTokenClassification, pipeline

    config = tagger.encoder.config.__class__.from_dict(tagger.encoder.config.to_dict())
    config.num_labels = len(tagger.config.labels)
    config.id2label = dict(enumerate(tagger.config.labels))
    config.label2id = tagger.config.label2id
    model = AutoModelForTokenClassification.from_config(config, attn_implementation="eager")
    base = getattr(model, model.base_model_prefix)
    missing = base.load_state_dict(tagger.encoder.state_dict(), strict=False)
    assert not missing.missing_keys, missing.missing_keys
    model.classifier.load_state_dict(tagger.classifier.state_dict())
    model.eval()
    return pipeline("token-classification", model=model, tokenizer=tagger.tokenizer,
                    aggregation_strategy="simple", device=-1)


def rss_of_both(baseline: str, fusion: str, onnx: bool = False) -> float:
    """GiB held by a fresh process that loaded both taggers and tagged one sentence with each: on
    torch, merged; or `onnx`, as the app serves them (adapters kept apart, then their ONNX
    Runtime graphs, fusion/model/onnx_runtime.py)."""
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); import psutil, torch; torch.set_num_threads(1);"
            "from fusion.model.checkpoint import load_tagger; from fusion.model.onnx_runtime import attach_runtime;"
            "from fusion.tagging.predict import predict;"
            f"taggers = [load_tagger(d, merge={not onnx!r}) for d in {[baseline, fusion]!r}];"
            f"[attach_runtime(t) for t in taggers if {onnx!r}];"
            "[predict(t, 'Angela Merkel visited Paris.') for t in taggers];"
            "print(psutil.Process().memory_info().rss / 2**30)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(output.stdout.strip().splitlines()[-1])


def checkpoint_arguments(parser: argparse.ArgumentParser, repeats: int) -> argparse.ArgumentParser:
    """The shipped taggers and probes by default, and the number of timed rounds (shared by the
    bench scripts that time the app's models)."""
    parser.add_argument("--baseline", default=str(REPO / "checkpoints" / "baseline"))
    fusion_dirs = sorted(glob.glob(str(REPO / "checkpoints" / "fusion-l*")), key=lambda p: (len(p), p))
    parser.add_argument("--fusion", default=(fusion_dirs or [""])[0])
    parser.add_argument("--probes", default=str(REPO / "checkpoints" / "probes"))
    parser.add_argument("--repeats", type=int, default=repeats)
    return parser


def main() -> None:
    import torch

    from fusion.model.checkpoint import load_tagger
    from fusion.tagging.predict import predict

    parser = checkpoint_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]), repeats=50)
    args = parser.parse_args()
    if not args.fusion:
        sys.exit("no fusion checkpoint: pass --fusion DIR")

    baseline, fusion = load_tagger(args.baseline), load_tagger(args.fusion)
    from fusion.model.onnx_runtime import attach_runtime

    on_graphs = load_tagger(args.baseline, merge=False), load_tagger(args.fusion, merge=False)
    for tagger in on_graphs:  # as the server holds them: adapters apart, then the graph attached
        if error := attach_runtime(tagger).error:
            sys.exit(f"the ONNX Runtime graph was not attached: {error}")
    n_tokens = len(baseline.tokenizer(SENTENCE)["input_ids"])
    pipe = pipeline_on_same_weights(baseline)
    ours = predict(baseline, SENTENCE)[0]
    theirs = pipe(SENTENCE)
    print(f"sentence: {n_tokens} tokens; torch threads: {torch.get_num_threads()}")
    print(f"baseline entities: ours {[(e.text, e.label) for e in ours.entities]}")
    print(f"                   pipeline {[(e['word'], e['entity_group']) for e in theirs]}")

    contenders = {
        "baseline": lambda: predict(baseline, SENTENCE),
        "fusion": lambda: predict(fusion, SENTENCE),
        "pipeline (baseline weights)": lambda: pipe(SENTENCE),
        "both + attentions + gates": lambda: (predict(baseline, SENTENCE, explain=True),
                                              predict(fusion, SENTENCE, explain=True)),
        # what Inside runs when the app serves on ONNX Runtime: each tagger's graph
        "  the same, ONNX graphs": lambda: (predict(on_graphs[0], SENTENCE, explain=True),
                                            predict(on_graphs[1], SENTENCE, explain=True)),
    }
    if Path(args.probes, "probes.safetensors").is_file():
        from fusion.model.encoders import build_encoder
        from fusion.probing.emergence import emergence
        from fusion.probing.probes import load_probes

        probes = load_probes(args.probes)
        encoder, tokenizer = build_encoder(probes.config.encoder)
        contenders["layer probes grid"] = lambda: emergence(probes, encoder, tokenizer, SENTENCE)
    rows = timings(contenders, args.repeats)
    print(f"\n{'':30s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for name, (p50, p95) in rows.items():
        print(f"{name:30s} {p50:8.1f} {p95:8.1f}")
    rss = rss_of_both(args.baseline, args.fusion)
    figures = {
        "fusion / baseline (p50)": rows["fusion"][0] / rows["baseline"][0],
        "ours / pipeline (p50)": rows["baseline"][0] / rows["pipeline (baseline weights)"][0],
        "both + explain p50 ms": rows["both + attentions + gates"][0],
        "  on ONNX graphs p50 ms": rows["  the same, ONNX graphs"][0],
        "RSS both loaded GiB": rss,
    }
    targets = {"fusion / baseline (p50)": 1.05, "ours / pipeline (p50)": 1.0,
               "both + explain p50 ms": 70.0, "  on ONNX graphs p50 ms": 70.0, "RSS both loaded GiB": 1.6}
    if "layer probes grid" in rows:
        figures["probe grid / baseline (p50)"] = rows["layer probes grid"][0] / rows["baseline"][0]
        targets["probe grid / baseline (p50)"] = 1.2
    print()
    for name, value in figures.items():
        verdict = "meets" if value <= targets[name] else "MISSES"
        print(f"{name:30s} {value:8.3f}   target ≤ {targets[name]}  {verdict}")
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
