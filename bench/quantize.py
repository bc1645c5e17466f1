"""Dynamic int8 quantisation of the shipped taggers: F1 on the stored runs' sentences, and speed.

    python bench/quantize.py --data ../shared/data/wikiann [--languages all] [--repeats 30]

For each shipped tagger: the int8 tagger (fusion/model/quantize.py) is scored on exactly the sentences
of its stored zero-shot run (checked by content hash) and compared with the stored float32 F1 per
language; then predict p50 on a ~30-token sentence, float32 and int8 measured round-robin in this
run, and whether attentions still come out. Keep int8 only if the mean |ΔF1| over languages is
< 0.3 points (issue 11).

`--onnx`: the same for ONNX Runtime's dynamic int8 of the graph the app serves
(fusion/model/onnx_runtime.py), weights per tensor and per channel, against that float32 graph:
what a ~2.7 × faster Compare would cost in F1 (issue 28's browser target asks for models ~3 × faster).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def zero_shot_run(records: list[dict], directory: Path) -> dict:
    """The stored full-scale zero-shot run of the checkpoint (found by its content hash)."""
    from fusion.evaluation.runs import ZERO_SHOT_STUDY
    from fusion.model.checkpoint import checkpoint_hash

    sha = checkpoint_hash(directory)
    return next(r for r in records if r["checkpoint"]["sha256"] == sha and r["study"] == ZERO_SHOT_STUDY
                and r["data"]["max_sentences_per_language"] == 1000)


def f1_deltas(tagger, record: dict, data: str, languages: str, label: str) -> dict[str, float]:
    """Per language: the tagger's F1 on exactly the sentences the stored run evaluated (checked by
    content hash) minus the stored F1, in points; each printed as it comes."""
    from fusion.data.ner import load_split
    from fusion.evaluation.evaluate import dataset_hash, evaluate_dataset

    deltas = {}
    for language in (list(record["scores"]) if languages == "all" else languages.split(",")):
        dataset = load_split(data, language, "test", record["data"]["max_sentences_per_language"])
        if dataset_hash(dataset["tokens"], dataset["ner_tags"]) != record["data"]["sha256"][language]:
            sys.exit(f"{language}: the data differs from what {record['name']} evaluated")
        f1 = evaluate_dataset(tagger, dataset)["f1"]
        deltas[language] = 100 * (f1 - record["scores"][language]["f1"])
        print(f"{record['name']} {language}: stored {100 * record['scores'][language]['f1']:.2f} "
              f"{label} {100 * f1:.2f} Δ {deltas[language]:+.2f}", flush=True)
    return deltas


def delta_summary(deltas: dict[str, float]) -> dict:
    return {"languages": len(deltas), "mean |ΔF1|": sum(abs(d) for d in deltas.values()) / len(deltas),
            "mean ΔF1": sum(deltas.values()) / len(deltas), "max |ΔF1|": max(abs(d) for d in deltas.values())}


def main() -> None:
    from fusion.evaluation.runs import load_runs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", default=str(REPO / "assets" / "runs"))
    parser.add_argument("--languages", default="all")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--output", help="write the figures as JSON here")
    parser.add_argument("--onnx", action="store_true", help="ONNX Runtime's int8 of the app's graphs instead")
    args = parser.parse_args()

    records, _ = load_runs(args.runs)
    shipped = [REPO / "checkpoints" / "baseline", *sorted((REPO / "checkpoints").glob("fusion-l*"))]
    report = (onnx_int8 if args.onnx else torch_int8)(args, records, shipped)
    verdict = all(s["mean |ΔF1|"] < 0.3 for s in report.values())
    print(f"{'ONNX Runtime ' if args.onnx else ''}int8 {'keeps' if verdict else 'does NOT keep'} F1 within 0.3 points on average")
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


def torch_int8(args, records, shipped: list[Path]) -> dict:
    """Per shipped tagger: the int8 tagger's F1 deltas against the stored run, predict p50 against
    float32, round-robin, and whether attentions still come out."""
    from latency import SENTENCE, timings

    from fusion.model.checkpoint import load_tagger
    from fusion.model.quantize import quantize_tagger
    from fusion.tagging.predict import predict

    report = {}
    for directory in shipped:
        record = zero_shot_run(records, directory)
        float32, int8 = load_tagger(directory), quantize_tagger(load_tagger(directory))
        deltas = f1_deltas(int8, record, args.data, args.languages, "int8")
        rows = timings({"float32": lambda: predict(float32, SENTENCE),
                        "int8": lambda: predict(int8, SENTENCE)}, args.repeats)
        explained = predict(int8, SENTENCE, explain=True)[0].explanation
        summary = {
            "run": record["name"], **delta_summary(deltas),
            "p50 ms float32": rows["float32"][0], "p50 ms int8": rows["int8"][0],
            "int8 / float32 (p50)": rows["int8"][0] / rows["float32"][0],
            "attentions": list(explained.attentions.shape)}
        report[directory.name] = summary
        print(json.dumps(summary, ensure_ascii=False))
    return report


def onnx_int8(args, records, shipped: list[Path]) -> dict:
    """Per shipped tagger and int8 variant: F1 deltas against the stored run, and predict p50 on
    the float32 graph and the int8 one, one thread, round-robin."""
    import tempfile

    import torch
    from latency import SENTENCE, timings
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from fusion.model.checkpoint import load_tagger
    from fusion.model.onnx_runtime import export_graph, onnx_forward
    from fusion.tagging.predict import predict

    torch.set_num_threads(1)
    report = {}
    with tempfile.TemporaryDirectory() as folder:
        for directory in shipped:
            record, graph = zero_shot_run(records, directory), Path(folder) / f"{directory.name}.onnx"
            float32 = load_tagger(directory)
            graph.write_bytes(export_graph(float32))
            float32.runtime = onnx_forward(graph)
            taggers = {"float32": float32}
            for variant, per_channel in (("int8 per tensor", False), ("int8 per channel", True)):
                quantized = graph.with_name(f"{directory.name}-{per_channel}.onnx")
                quantize_dynamic(str(graph), str(quantized), weight_type=QuantType.QInt8, per_channel=per_channel)
                taggers[variant] = load_tagger(directory)
                taggers[variant].runtime = onnx_forward(quantized)
            rows = timings({name: lambda t=tagger: predict(t, SENTENCE) for name, tagger in taggers.items()},
                           args.repeats)
            for variant in ("int8 per tensor", "int8 per channel"):
                summary = {"run": record["name"], **delta_summary(f1_deltas(
                    taggers[variant], record, args.data, args.languages, variant)),
                    "p50 ms float32 graph": rows["float32"][0], "p50 ms int8 graph": rows[variant][0],
                    "int8 / float32 (p50)": rows[variant][0] / rows["float32"][0]}
                report[f"{directory.name}, {variant}"] = summary
                print(json.dumps({f"{directory.name}, {variant}": summary}, ensure_ascii=False), flush=True)
    return report


if __name__ == "__main__":
    main()
