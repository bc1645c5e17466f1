"""Inside on ONNX Runtime against a Compare of the same sentence and against Inside on torch, and
Compare on the app's graph against a graph of the logits alone, all in one run (issue 28: Inside
for one 28-token sentence, both models, ≤ 1.5 × a Compare of it).

    python bench/inside_speed.py [--baseline DIR] [--fusion DIR] [--repeats 40]

Both shipped taggers are loaded as the server holds them (LoRA adapters kept apart) and given the
graph the app attaches (fusion/model/onnx_runtime.py: logits, each layer's attentions, the gates);
the reference graphs hold the logits alone. Printed, p50 / p95 in ms, measured round-robin, one
thread per tagger as the app serves:

- Compare (both models at once, `predict_each`) of the 28-token sentence, and of 8 texts in one
  call, on the app's graphs and on the logits-only ones: what the extra outputs cost Compare;
- Inside (one sentence, attentions and gates, as serve/explanations.py asks): one model, what a
  page's Inside request computes; both models at once, as Compare runs them (`predict_each`: the
  figure the target reads), on the app's graphs and on torch (the way before); and both in turn;

- the Layers grid (every layer's probe on the sentence) on the frozen encoder's graph, as the app
  serves it once attached (fusion/model/encoder_graph.py), and on torch (the way before);

then the ratios, and the largest gap between the graph's attentions and gates and torch's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

TEXTS = ["Maria Lopez flew from Toronto to Nairobi to meet engineers from Siemens and the World Bank.",
         "Die Bundesregierung in Berlin hat am Montag mit Vertretern von Volkswagen gesprochen.",
         "El presidente de México visitó Madrid y Barcelona la semana pasada.",
         "東京大学の研究者がソニーと共同で新しい技術を発表した。",
         "Barack Obama was born in Honolulu, Hawaii.",
         "Le Monde a publié un entretien avec Emmanuel Macron à Paris.",
         "Amazon opened a new office in Bangalore, India, in March."]


def main() -> None:
    import numpy as np
    import torch
    from latency import SENTENCE, checkpoint_arguments, timings

    from fusion.model.checkpoint import load_tagger
    from fusion.model.onnx_runtime import attach_runtime, export_graph, onnx_forward
    from fusion.tagging.predict import predict, predict_each
    from serve.explanations import TOKEN_LIMIT

    parser = checkpoint_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]), repeats=40)
    args = parser.parse_args()
    torch.set_num_threads(1)

    directories = {"baseline": args.baseline, "fusion": args.fusion}
    app = {side: load_tagger(d, merge=False) for side, d in directories.items()}  # as the server holds them
    on_torch = {side: load_tagger(d, merge=False) for side, d in directories.items()}
    reference = {}
    for side, directory in directories.items():
        attached = attach_runtime(app[side])
        if attached.error:
            sys.exit(f"{side}: the graph was not attached: {attached.error}")
        logits_only = load_tagger(directory, merge=True)
        logits_only.runtime = onnx_forward(export_graph(logits_only, explain=False))
        reference[side] = logits_only
    n_tokens = len(app["baseline"].tokenizer(SENTENCE)["input_ids"])
    batch = [SENTENCE, *TEXTS]

    def inside(taggers):
        return [predict(tagger, SENTENCE, explain=True, explain_max_tokens=TOKEN_LIMIT) for tagger in taggers.values()]

    def inside_at_once(taggers):
        return predict_each(taggers, [SENTENCE], explain=True, explain_max_tokens=TOKEN_LIMIT)

    gaps = []
    for side in app:
        fast, slow = (inside({side: group[side]})[0][0].explanation for group in (app, on_torch))
        gaps.append(float(np.abs(fast.attentions - slow.attentions).max()))
        if slow.gates is not None:
            gaps.append(float(np.abs(fast.gates - slow.gates).max()))
    same_tags = all([w.tag for w in predict(app[s], batch)[0].words] == [w.tag for w in predict(on_torch[s], batch)[0].words]
                    for s in app)

    contenders = {
        "Compare, app's graphs": lambda: predict_each(app, [SENTENCE]),
        "Compare, logits-only graphs": lambda: predict_each(reference, [SENTENCE]),
        "Compare 8 texts, app's graphs": lambda: predict_each(app, batch),
        "Compare 8 texts, logits-only": lambda: predict_each(reference, batch),
        "Inside one model, ONNX Runtime": lambda: inside({"fusion": app["fusion"]}),
        "Inside both at once, ONNX": lambda: inside_at_once(app),
        "Inside both at once, torch": lambda: inside_at_once(on_torch),
        "Inside both in turn, ONNX": lambda: inside(app),
    }
    if Path(args.probes, "probes.safetensors").is_file():  # Layers: the encoder's graph, and torch
        from fusion.model.encoder_graph import GraphEncoder, check_encoder_graph, export_encoder_graph
        from fusion.model.encoders import build_encoder
        from fusion.probing.emergence import emergence
        from fusion.probing.probes import load_probes

        probes = load_probes(args.probes)
        encoder, tokenizer = build_encoder(probes.config.encoder)
        graph = GraphEncoder.of(encoder, export_encoder_graph(encoder))
        check_encoder_graph(encoder, graph)
        grids = [emergence(probes, reader, tokenizer, SENTENCE) for reader in (graph, encoder)]
        same_tags = same_tags and grids[0].tags == grids[1].tags
        contenders["Layers grid, ONNX Runtime"] = lambda: emergence(probes, graph, tokenizer, SENTENCE)
        contenders["Layers grid, torch"] = lambda: emergence(probes, encoder, tokenizer, SENTENCE)
    rows = timings(contenders, args.repeats)
    print(f"sentence: {n_tokens} tokens; one thread per tagger; {args.repeats} rounds, round-robin")
    print(f"\n{'':32s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for name, (p50, p95) in rows.items():
        print(f"{name:32s} {p50:8.1f} {p95:8.1f}")
    compare, inside_onnx = rows["Compare, app's graphs"][0], rows["Inside both at once, ONNX"][0]
    print(f"\nInside both at once (ONNX) / Compare (p50)    {inside_onnx / compare:6.2f} ×   target ≤ 1.5 "
          f"{'meets' if inside_onnx / compare <= 1.5 else 'MISSES'}")
    print(f"  one model / Compare; both in turn / Compare {rows['Inside one model, ONNX Runtime'][0] / compare:6.2f} ×; "
          f"{rows['Inside both in turn, ONNX'][0] / compare:.2f} ×")
    print(f"Inside both at once: torch / ONNX (p50)       {rows['Inside both at once, torch'][0] / inside_onnx:6.2f} ×")
    batched = rows["Compare 8 texts, app's graphs"][0] / rows["Compare 8 texts, logits-only"][0]
    print(f"Compare: app's graph / logits-only (p50)      {compare / rows['Compare, logits-only graphs'][0]:6.2f} ×"
          f"  (8 texts: {batched:.2f} ×)")
    if "Layers grid, torch" in rows:
        layers = rows["Layers grid, ONNX Runtime"][0]
        print(f"Layers grid (ONNX) / Compare (p50)            {layers / compare:6.2f} ×")
        print(f"Layers grid: torch / ONNX Runtime (p50)       {rows['Layers grid, torch'][0] / layers:6.2f} ×")
    print(f"largest |ONNX − torch| of attentions and gates: {max(gaps):.1e} (target ≤ 1e-4); "
          f"same tags on the 8 texts (and the Layers grid): {same_tags}")


if __name__ == "__main__":
    main()
