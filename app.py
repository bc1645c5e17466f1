"""Layer Fusion Explorer: the Gradio app.

    python app.py [--baseline DIR] [--fusion DIR] [--runs DIR] [--data DIR] [--host H] [--port 7860] [--share]
                  [--trust-unverified]

Tabs: Compare (baseline vs fusion entities on any text), Inside (attention and AIF gates),
Layers (where each entity emerges, read by a probe per layer), Results (stored per-language
evaluation runs, the layer probes, intermediate tasks), Errors and Evaluate your data (score both
models on an uploaded CoNLL file). This file reads the flags, loads the two checkpoints, builds
the page and serves it. The page is `ui/` (ui/page.py puts it together), what its events call
`serve/`, every computation `fusion`. The host's knobs (threads, Compare's batch and queue, the
runtime) are environment variables: serve/settings.py lists them. Nothing is loaded at import time.
"""

from __future__ import annotations

import argparse
import os

from serve.paths import BASELINE_DIR, RUNS_DIR
from serve.settings import Settings, SettingsError, env_flag


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Layer Fusion Explorer (Gradio app)",
                                     epilog="Hosting knobs are environment variables: see serve/settings.py.")
    environ = os.environ.get
    parser.add_argument("--baseline", default=environ("LFE_BASELINE", str(BASELINE_DIR)),
                        help="baseline checkpoint directory (env LFE_BASELINE)")
    parser.add_argument("--fusion", default=environ("LFE_FUSION"),
                        help="fusion checkpoint directory (env LFE_FUSION; default: checkpoints/fusion-l*)")
    parser.add_argument("--runs", default=environ("LFE_RUNS", str(RUNS_DIR)),
                        help="folder of run records (env LFE_RUNS)")
    parser.add_argument("--data", default=environ("LFE_DATA"),
                        help="PAN-X data directory whose test sentences the Errors tab shows in full "
                             "(env LFE_DATA; without it, a shipped sample)")
    # Hugging Face Spaces sets GRADIO_SERVER_NAME / GRADIO_SERVER_PORT: respect them.
    parser.add_argument("--host", default=environ("LFE_HOST", environ("GRADIO_SERVER_NAME", "127.0.0.1")),
                        help="address to listen on (env LFE_HOST)")
    parser.add_argument("--port", type=int, default=int(environ("LFE_PORT", environ("GRADIO_SERVER_PORT", 7860))),
                        help="port (env LFE_PORT)")
    parser.add_argument("--trust-unverified", action="store_true",
                        help="load a checkpoint saved without a fingerprint (older versions); the page warns")
    parser.add_argument("--share", action="store_true", default=env_flag("LFE_SHARE"),
                        help="also serve through a public gradio.live link (env LFE_SHARE=1)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        settings = Settings.from_environment()
    except SettingsError as error:
        raise SystemExit(f"error: {error} (serve/settings.py lists the environment variables)") from None
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from fusion.model.onnx_cache import GraphCache
    from serve.slots import attach_runtimes, check_graph_slots, find_fusion_checkpoint, load_slots, read_ahead

    torch.set_num_threads(max(1, settings.threads))  # Compare runs the two models at once (predict_each)
    fusion_dir, cache = args.fusion or find_fusion_checkpoint(), GraphCache()
    with ThreadPoolExecutor(1) as reader:
        # With the graphs of an earlier start, the page answers from them before any torch tagger
        # exists; they (or else the encoder's cached files) are read while Gradio is imported
        graph_slots = reader.submit(read_ahead, args.baseline, fusion_dir, settings.threads, cache,
                                    args.trust_unverified) if settings.runtime == "onnx" else None
        from serve.services import Services
        from ui.page import build_page, launch

        slots = graph_slots.result() if graph_slots is not None else None
    from_graphs = slots is not None
    if not from_graphs:
        slots = load_slots(args.baseline, fusion_dir, merge=settings.runtime == "torch",
                           trust_unverified=args.trust_unverified)
    services = Services.create(slots, runs_dir=args.runs, data_dir=args.data, settings=settings, warm_up_now=False)
    page = build_page(services)
    launch(page, server_name=args.host, server_port=args.port, share=args.share, prevent_thread_lock=True)
    background = None  # once the server answers: checking or exporting graphs would slow start-up
    if from_graphs:
        background = check_graph_slots(slots, settings.threads, cache, args.trust_unverified)
    elif settings.runtime == "onnx":
        background = attach_runtimes(slots, settings.threads, cache)  # graphs of an earlier start are reused
    services.warm_up_results(after=background)  # the Results tab's bootstrap: off the first Compare's path
    page.block_thread()


if __name__ == "__main__":
    main()
