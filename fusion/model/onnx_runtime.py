"""An ONNX Runtime copy of a prediction-only tagger's forward pass: the same logits, about twice
as fast on a CPU (bench/onnx_runtime.py measures both, and the F1 on the stored runs' sentences),
and, from the same graph, what Inside shows: each layer's attention weights and the AIF gates.

What is exported is `TokenTagger.logits_from_embeddings`: the encoder's layers, the AIF module
and the classifier, from the word embeddings of a packed batch on. The word-embedding lookup
stays in torch, so the graph does not copy the 250k-word matrix (a graph of a shipped tagger is
86 MB without it, 470 MB with it). Rows and tokens are free dimensions: one graph serves every
batch. The attention weights (one output per layer) and the gates are recorded on the way as
further outputs; Compare fetches the logits alone, and costs the same as with a graph of the
logits only (bench/inside_speed.py measures both), so each tagger needs one graph and one
session, not two. The graph copies the weights as they are at export time: a tagger that is
trained afterwards must not keep it. A server keeps the graphs it made in a cache folder
(fusion/model/onnx_cache.py), and opens each session from its file there, which holds ~100 MB
less per graph than a session opened from the graph's bytes (docs/PERFORMANCE.md).

The export uses torch's TorchScript-based exporter (`dynamo=False`): ~3 s per tagger against
~30 s for the torch.export-based one, with the same logits. Tracing holds Python's GIL for up to
a second at a time, so a server traces in a child process (`graphs_of_checkpoints`), whose graph
comes back on its standard output. If anything fails, the tagger simply keeps its torch forward,
and `attach_runtime` says why.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from fusion.model.modeling import TaggerOutput
from fusion.model.packing import pack_batch

INPUTS = ("word_embeddings", "positions", "segments")
FREE_AXES = {0: "rows", 1: "tokens"}
ATTENTION_AXES = {0: "rows", 2: "tokens", 3: "tokens"}  # rows × heads × tokens × tokens
CHECK_TOLERANCE = 1e-4  # attentions and gates: probabilities and a sigmoid, in (0, 1)


def output_names(tagger) -> list[str]:
    """The graph's outputs: the logits, each layer's attention weights, and the gates (fusion)."""
    return ["logits", *(f"attention_{layer}" for layer in range(tagger.encoder.config.num_hidden_layers)),
            *(["gates"] if tagger.fusion is not None else [])]


class _FromEmbeddings(nn.Module):
    """The module the exporter traces: the tagger's forward from the word embeddings on (the
    very computation Compare runs), with the attention weights and the gates recorded on the way."""

    def __init__(self, tagger, explain: bool = True):
        super().__init__()
        self.tagger, self.explain = tagger, explain

    def forward(self, word_embeddings, positions, segments):
        if not self.explain:
            return self.tagger.logits_from_embeddings(word_embeddings, positions, segments)
        with _recording(self.tagger) as recorded:
            logits = self.tagger.logits_from_embeddings(word_embeddings, positions, segments)
        return (logits, *recorded["attentions"], *recorded.get("gates", ()))


@contextmanager
def _recording(tagger):
    """Forward hooks, on this thread only, that ask the tagger's encoder for its attention
    weights (as `tagger(..., output_attentions=True)` does) and keep them, and keep the AIF
    module's gate; removed on leaving."""
    recorded, owner = {}, threading.get_ident()

    def ask(module, args, kwargs):
        return (args, {**kwargs, "output_attentions": True}) if threading.get_ident() == owner else None

    def keep(name, pick):
        def hook(module, args, output):
            if threading.get_ident() == owner:
                recorded[name] = pick(output)
        return hook

    hooks = [tagger.encoder.register_forward_pre_hook(ask, with_kwargs=True),
             tagger.encoder.register_forward_hook(keep("attentions", lambda out: tuple(out.attentions)))]
    if tagger.fusion is not None:
        hooks.append(tagger.fusion.register_forward_hook(keep("gates", lambda out: (out[1],))))
    try:
        yield recorded
    finally:
        for hook in hooks:
            hook.remove()


@dataclass
class OnnxForward:
    """Callable like `logits_from_embeddings`, on the CPU, through an ONNX Runtime session;
    `explain` gives the attentions and gates as well, as `tagger(..., output_attentions=True)` does."""

    session: object  # onnxruntime.InferenceSession; its run() is safe to call from several threads

    def run(self, names: list[str], word_embeddings: torch.Tensor, positions: torch.Tensor,
            segments: torch.Tensor) -> list[torch.Tensor]:
        """The graph's outputs `names` for a packed batch's word embeddings, positions and segments."""
        feeds = {"word_embeddings": word_embeddings.detach().float().cpu().numpy(),
                 "positions": positions.cpu().numpy(), "segments": segments.cpu().numpy()}
        return [torch.from_numpy(value) for value in self.session.run(names, feeds)]

    def __call__(self, word_embeddings: torch.Tensor, positions: torch.Tensor,
                 segments: torch.Tensor) -> torch.Tensor:
        return self.run(["logits"], word_embeddings, positions, segments)[0]

    def explain(self, word_embeddings: torch.Tensor, positions: torch.Tensor, segments: torch.Tensor) -> TaggerOutput:
        """Every output: the logits, the attentions (per layer: rows × heads × T × T) and the gates
        (rows × T × d; None for the baseline)."""
        names = [output.name for output in self.session.get_outputs()]
        values = dict(zip(names, self.run(names, word_embeddings, positions, segments)))
        attentions = tuple(values[name] for name in names if name.startswith("attention_"))
        if not attentions:
            raise ValueError("this graph has no attention outputs (made by an older version)")
        return TaggerOutput(logits=values["logits"], gates=values.get("gates"), attentions=attentions)


def export_graph(tagger, explain: bool = True) -> bytes:
    """The ONNX graph (serialised) of the tagger's `logits_from_embeddings`, with its attentions
    and gates as further outputs (explain=False: the logits alone, the reference
    bench/inside_speed.py measures Compare against), traced on a small packed batch of two
    sequences (any shape then runs: rows and tokens are free)."""
    sample = random_batch(tagger.encoder, (5, 3))
    with torch.inference_mode():
        word_embeddings = tagger.embed_words(sample.input_ids)
    names = output_names(tagger) if explain else ["logits"]
    axes = {name: ATTENTION_AXES if name.startswith("attention_") else FREE_AXES for name in (*INPUTS, *names)}
    graph = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript-based exporter warns that it is deprecated
        warnings.simplefilter("ignore")
        torch.onnx.export(_FromEmbeddings(tagger, explain).eval(), (word_embeddings, sample.positions, sample.segments),
                          graph, dynamo=False, input_names=list(INPUTS), output_names=names,
                          dynamic_axes=axes, opset_version=17)
    return graph.getvalue()


def graphs_of_checkpoints(directories: list, timeout: float = 600) -> list[bytes]:
    """`export_graph` of the tagger saved in each directory, traced by `python -m
    fusion.model.onnx_runtime DIR...` in one child process (`graphs_from_child`), so that the
    caller's threads never wait for the GIL meanwhile (a lone Compare waited up to 2.9 s while a
    server traced in-process). The child loads each checkpoint as `load_tagger` does;
    `attach_runtime` then checks each graph against the caller's own tagger."""
    return graphs_from_child("fusion.model.onnx_runtime", [str(d) for d in directories], timeout)


def graphs_from_child(module: str, arguments: list[str], timeout: float = 600) -> list[bytes]:
    """One graph per argument, made by `python -m MODULE ARGUMENTS...` (whose main is
    `write_graphs_of`), each read from its standard output after its length (8 bytes,
    little-endian). A failed, truncated or missing answer raises RuntimeError."""
    root = Path(__file__).resolve().parents[2]  # the folder that holds fusion/
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", module, *arguments], cwd=root,
                          env=env, capture_output=True, timeout=timeout)
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"the export in a child process failed: {lines[-1] if lines else done.returncode}")
    graphs, view = [], memoryview(done.stdout)
    while len(view) >= 8:
        size = int.from_bytes(view[:8], "little")
        graphs.append(bytes(view[8:8 + size]))
        view = view[8 + size:]
    if len(graphs) != len(arguments) or len(view) or any(not graph for graph in graphs):
        raise RuntimeError("the export in a child process gave a truncated answer")
    return graphs


def write_graphs_of(make_graph, arguments: list[str]) -> None:
    """The child's side of `graphs_from_child`: `make_graph(argument)` for each argument, written
    to standard output after its length, one thread, at a lower priority than the server's."""
    torch.set_num_threads(1)
    if hasattr(os, "nice"):
        os.nice(10)  # the server's requests come first on a shared core
    graphs_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints meanwhile goes to stderr, not into the graphs
    for argument in arguments:
        graph = make_graph(argument)
        graphs_out.write(len(graph).to_bytes(8, "little") + graph)
    graphs_out.close()


def onnx_forward(graph: bytes | str | Path, threads: int = 1) -> OnnxForward:
    """A session for the graph (its bytes, or the path of its file: ~100 MB less held per
    session, measured in docs/PERFORMANCE.md), `threads` intra-op threads (the app runs the two
    taggers of a Compare at once, one core each, as it does with torch)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings about unused initialisers are noise
    source = str(graph) if isinstance(graph, Path) else graph
    return OnnxForward(onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"]))


@dataclass
class Attached:
    """What `attach_runtime` did: `error` is None when the tagger now runs through ONNX Runtime."""

    seconds: float
    error: str | None = None


def attach_runtime(tagger, threads: int = 1, graph: bytes | str | Path | None = None) -> Attached:
    """Give the tagger an ONNX Runtime forward (`tagger.runtime`) from `graph` (its bytes or its
    file), or exported here when None, checked against its torch forward first: the logits on a
    packed batch of another shape than the one traced, the attentions and gates on one sentence
    (`check_runtime`). On any failure the tagger keeps its torch forward and the reason is returned."""
    started = time.perf_counter()
    try:
        if tagger.training or next(tagger.parameters()).device.type != "cpu":
            raise ValueError("only a CPU tagger in eval mode is exported")
        if graph is None:
            with _adapters_merged(tagger):
                graph = export_graph(tagger)
        runtime = onnx_forward(graph, threads)
        check_runtime(tagger, runtime)
    except Exception as error:  # noqa: BLE001 — a missing fast path is never fatal
        return Attached(time.perf_counter() - started, f"{type(error).__name__}: {error}")
    tagger.runtime = runtime
    return Attached(time.perf_counter() - started)


@contextmanager
def _adapters_merged(tagger):
    """LoRA adapters folded into their dense layers for the export only (ONNX Runtime then runs
    one matrix product per layer), and put back after it: the torch tagger, which the app keeps
    for Inside, then holds only its adapters over the shared base weights, not a merged copy of
    every layer (82 MB less per shipped tagger)."""
    from peft.tuners.lora import Linear as LoraLinear

    adapters = {name: module for name, module in tagger.encoder.named_modules() if isinstance(module, LoraLinear)}
    if tagger.merged or not adapters:
        yield
        return
    tagger.merge_adapters()
    try:
        yield
    finally:
        for name, module in adapters.items():
            tagger.encoder.set_submodule(name, module)
        tagger.merged = False


def check_runtime(tagger, runtime: OnnxForward) -> None:
    """Raise unless the runtime gives the torch forward's logits on three rows with up to two
    sequences each (float rounding aside), and, on one sentence as Inside asks, torch's attention
    weights and gates within CHECK_TOLERANCE: a wrong graph is never attached."""
    batch = random_batch(tagger.encoder, (9, 4, 3, 6, 2))
    with torch.inference_mode():
        word_embeddings = tagger.embed_words(batch.input_ids)
        expected = tagger.logits_from_embeddings(word_embeddings, batch.positions, batch.segments)
    got = runtime(word_embeddings, batch.positions, batch.segments)
    real = batch.segments >= 0
    gap = (got[real] - expected[real]).abs().max().item()
    if got.shape != expected.shape or not gap <= 1e-3 * max(1.0, expected[real].abs().max().item()):
        raise ValueError(f"the exported graph's logits differ from torch's by {gap:.2g}")
    sentence = random_batch(tagger.encoder, (11,))
    with torch.inference_mode():
        expected = tagger(sentence.input_ids, torch.ones_like(sentence.input_ids), output_attentions=True)
        got = runtime.explain(tagger.embed_words(sentence.input_ids), sentence.positions,
                              sentence.segments)
    pairs = [*zip(got.attentions, expected.attentions), (got.gates, expected.gates)]
    if len(got.attentions) != len(expected.attentions) or (got.gates is None) != (expected.gates is None):
        raise ValueError("the exported graph's attentions or gates do not match the tagger's")
    gap = max((a - b).abs().max().item() for a, b in pairs if a is not None)
    if any(a is not None and a.shape != b.shape for a, b in pairs) or not gap <= CHECK_TOLERANCE:
        raise ValueError(f"the exported graph's attentions or gates differ from torch's by {gap:.2g}")


def random_batch(encoder: nn.Module, lengths: tuple[int, ...]):
    """A packed batch of random token ids of the encoder's vocabulary, one sequence per length
    (the same ones at every call)."""
    generator = torch.Generator().manual_seed(0)
    vocab = encoder.config.vocab_size
    return pack_batch([torch.randint(vocab, (n,), generator=generator).tolist() for n in lengths], pad_id=0)


def attach_in_background(taggers: dict[str, object], threads: int = 1, report=None,
                         checkpoints: dict[str, str] | None = None, cache=None) -> threading.Thread:
    """`attach_runtime` for each tagger, one after the other in a daemon thread, so that the app
    serves on torch meanwhile; `report(name, attached)` after each. With `checkpoints`
    (name -> the directory it was loaded from), the graphs are traced in a child process
    (`graphs_of_checkpoints`), as a server should, and each tagger's seconds count the child's.
    With a `cache` (fusion/model/onnx_cache.py: GraphCache) as well, a stored graph is used first and
    no child runs for it; a graph the child made is stored, and its session opened from the file
    (less memory held than from its bytes); a stored graph that fails the check against torch is
    removed (and made again, when it was found there)."""
    report = report or (lambda name, attached: None)

    def attach_all():
        started = time.perf_counter()
        if checkpoints is None:
            for name, tagger in taggers.items():
                report(name, attach_runtime(tagger, threads))
            return
        pending = dict(taggers)
        try:
            keys = _cache_keys(cache, checkpoints, taggers)
            stored = {name: path for name in pending if (path := _cached(cache, keys.get(name)))}
        except Exception:  # noqa: BLE001 — a broken cache is no cache: export as without one
            keys, stored = {}, {}
        for name, path in stored.items():
            attached = attach_runtime(pending[name], threads, path)
            if attached.error is None:
                attached.seconds = time.perf_counter() - started
                report(name, attached)
                del pending[name]
            else:  # stale or tampered: made again below
                cache.forget(keys[name])
        if not pending:
            return
        try:
            graphs = dict(zip(pending, graphs_of_checkpoints([checkpoints[name] for name in pending])))
        except Exception as error:  # noqa: BLE001 — every tagger keeps its torch forward
            failed = Attached(time.perf_counter() - started, f"{type(error).__name__}: {error}")
            for name in pending:
                report(name, failed)
            return
        for name, tagger in pending.items():
            graph = graphs.pop(name)
            path = cache.write(keys[name], graph) if keys.get(name) else None
            attached = attach_runtime(tagger, threads, path or graph)
            del graph  # 86 MB per shipped tagger, no longer needed
            attached.seconds = time.perf_counter() - started
            if attached.error is not None and path is not None:
                cache.forget(keys[name])
            report(name, attached)

    thread = threading.Thread(target=attach_all, name="onnx-runtime", daemon=True)
    thread.start()
    return thread


def _cache_keys(cache, checkpoints: dict[str, str], taggers) -> dict[str, str]:
    """name -> the graph cache's key of its checkpoint (none without a cache, or when the key
    cannot be made: that tagger is then exported as without a cache)."""
    if cache is None:
        return {}
    from fusion.model.onnx_cache import graph_key

    keys = {}
    for name in taggers:
        try:
            keys[name] = graph_key(checkpoints[name])
        except (OSError, ValueError, ImportError):
            continue
    return keys


def _cached(cache, key: str | None) -> Path | None:
    return cache.path(key) if cache is not None and key else None


if __name__ == "__main__":  # graphs_of_checkpoints' child: the graph of each checkpoint, on stdout
    from fusion.model.checkpoint import load_tagger

    # the parent verified each checkpoint (or chose to trust it), and checks each graph against
    # its own tagger before using it
    write_graphs_of(lambda directory: export_graph(load_tagger(directory, trust_unverified=True)), sys.argv[1:])
