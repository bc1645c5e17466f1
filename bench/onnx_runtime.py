"""ONNX Runtime for the shipped taggers' prediction forward: F1 on the stored runs' sentences, speed
and memory, each against torch in the same run.

    python bench/onnx_runtime.py --data ../shared/data/wikiann [--languages all] [--repeats 30]

For each shipped tagger: the time to build its graph (fusion/model/onnx_runtime.py), then its F1
through ONNX Runtime on exactly the sentences of its stored zero-shot run (checked by content
hash) against the stored F1, which torch measured, per language. Then, on a ~30-token sentence
and one thread per tagger as the app serves: predict p50 of each tagger and of a Compare (both
taggers at once, `predict_each`), torch (merged adapters, the app's path before) and ONNX
Runtime measured round-robin; Inside (attentions and gates) on the graph, as the app serves it,
against torch with merged adapters; and the RSS of a fresh process holding both taggers, without and with their graphs.
ONNX Runtime is kept only if the mean |ΔF1| over languages is < 0.3 points (issue 11's rule).
`--languages none` skips the F1 part (no data needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    import torch
    from latency import SENTENCE, rss_of_both, timings
    from quantize import delta_summary, f1_deltas, zero_shot_run

    from fusion.evaluation.runs import load_runs
    from fusion.model.checkpoint import load_tagger
    from fusion.model.onnx_runtime import attach_runtime
    from fusion.tagging.predict import predict, predict_each

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="PAN-X directory (needed unless --languages none)")
    parser.add_argument("--runs", default=str(REPO / "assets" / "runs"))
    parser.add_argument("--languages", default="all")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--output", help="write the figures as JSON here")
    args = parser.parse_args()
    if args.languages != "none" and not args.data:
        parser.error("--data is needed for the F1 part (or --languages none)")

    torch.set_num_threads(1)  # as the app serves: one thread per tagger, the two at once
    records, _ = load_runs(args.runs)
    directories = [REPO / "checkpoints" / "baseline", *sorted((REPO / "checkpoints").glob("fusion-l*"))]
    torch_taggers, taggers, report = {}, {}, {}
    for directory in directories:
        torch_taggers[directory.name] = load_tagger(directory)  # the reference: merged, as before
        tagger = taggers[directory.name] = load_tagger(directory, merge=False)  # as the app loads it
        attached = attach_runtime(tagger)
        if attached.error:
            sys.exit(f"{directory.name}: {attached.error}")
        summary = report[directory.name] = {"graph built s": attached.seconds}
        if args.languages != "none":
            record = zero_shot_run(records, directory)
            summary.update({"run": record["name"], **delta_summary(
                f1_deltas(tagger, record, args.data, args.languages, "onnxruntime"))})
        print(json.dumps({directory.name: summary}, ensure_ascii=False), flush=True)

    contenders = {}
    for name in taggers:
        contenders[f"{name} torch"] = lambda t=torch_taggers[name]: predict(t, SENTENCE)
        contenders[f"{name} onnxruntime"] = lambda t=taggers[name]: predict(t, SENTENCE)
    contenders["Compare torch"] = lambda: predict_each(torch_taggers, [SENTENCE])
    contenders["Compare onnxruntime"] = lambda: predict_each(taggers, [SENTENCE])
    contenders["Inside torch (merged)"] = lambda: [predict(t, SENTENCE, explain=True) for t in torch_taggers.values()]
    contenders["Inside onnxruntime"] = lambda: [predict(t, SENTENCE, explain=True) for t in taggers.values()]
    rows = timings(contenders, args.repeats)
    n_tokens = len(next(iter(taggers.values())).tokenizer(SENTENCE)["input_ids"])
    print(f"\n{n_tokens}-token sentence, one thread per tagger\n{'':28s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for name, (p50, p95) in rows.items():
        print(f"{name:28s} {p50:8.1f} {p95:8.1f}")
    for name in [*taggers, "Compare"]:
        ratio = rows[f"{name} onnxruntime"][0] / rows[f"{name} torch"][0]
        report.setdefault(name, {})["onnxruntime / torch (p50)"] = ratio
        print(f"{name}: onnxruntime / torch p50 {ratio:.2f} ×")
    inside = rows["Inside onnxruntime"][0] / rows["Inside torch (merged)"][0]
    report["Inside onnxruntime / torch (p50)"] = inside
    print(f"Inside (both taggers, attentions and gates): onnxruntime / torch p50 {inside:.2f} ×")
    pair = [str(directories[0]), str(directories[1])]  # the baseline and the shipped fusion tagger
    rss = {"torch": rss_of_both(*pair), "onnxruntime": rss_of_both(*pair, onnx=True)}
    report["RSS both loaded GiB"] = rss
    print(f"RSS with both taggers loaded: torch {rss['torch']:.2f} GiB, with their graphs "
          f"{rss['onnxruntime']:.2f} GiB ({rss['onnxruntime'] / rss['torch']:.2f} ×); target ≤ 1.6 GiB")
    if args.languages != "none":
        verdict = all(report[name]["mean |ΔF1|"] < 0.3 for name in taggers)
        print(f"onnxruntime {'keeps' if verdict else 'does NOT keep'} F1 within 0.3 points on average")
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
