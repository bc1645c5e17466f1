"""The two sides of every comparison: the tagger loaded for each (or why it could not be), and
the ONNX Runtime forward they get once the server answers."""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fusion.model import onnx_runtime
from fusion.model.checkpoint import CheckpointError, load_tagger
from fusion.model.encoders import page_out_base
from serve.paths import CHECKPOINTS

SIDES = ("baseline", "fusion")  # the two columns of every comparison
NO_EXPORT = "no ONNX Runtime export was asked for (LFE_RUNTIME=torch)"  # the app exports unless told not to


@dataclass
class TaggerSlot:
    """One side of the comparison: the tagger loaded for it, or why loading failed."""

    side: str  # "baseline" or "fusion"
    directory: str
    tagger: object = None  # fusion.model.modeling.TokenTagger once loaded
    error: str | None = None
    # Why it runs on torch while it does (no ONNX Runtime attached): set by attach_runtimes
    torch_reason: str = NO_EXPORT

    @property
    def ready(self) -> bool:
        return self.tagger is not None

    @property
    def model(self) -> str:
        """The model's name as run records write it ("baseline", "fusion-l11"), else the side."""
        return self.tagger.config.model if self.ready else self.side


def find_fusion_checkpoint(root: Path = CHECKPOINTS, prefix: str = "") -> Path | None:
    """The shipped fusion checkpoint: the first `checkpoints/<prefix>fusion-l<k>` holding a config."""
    found = sorted(Path(root).glob(f"{prefix}fusion-l*"), key=lambda p: (len(p.name), p.name))
    found = [p for p in found if (p / "tagger_config.json").is_file()]
    return found[0] if found else None


def load_slot(side: str, directory, merge: bool = True, trust_unverified: bool = False) -> TaggerSlot:
    """Load a checkpoint; a missing or broken one gives a slot holding the error message.
    merge=False keeps LoRA adapters apart from the shared base weights (see attach_runtimes);
    trust_unverified loads one without a fingerprint (the header then says so)."""
    if directory is None:
        return TaggerSlot(side, "", error=f"no {side} checkpoint found (the app looks for "
                                          f"checkpoints/{'fusion-l*' if side == 'fusion' else side}; "
                                          f"pass --{side} DIR)")
    try:
        return TaggerSlot(side, str(directory), tagger=load_tagger(directory, merge=merge,
                                                                      trust_unverified=trust_unverified))
    except CheckpointError as error:
        return TaggerSlot(side, str(directory), error=str(error))
    except Exception as error:  # noqa: BLE001 — the app always starts; the header says why
        return TaggerSlot(side, str(directory), error=f"could not load: {type(error).__name__}: {error}")


def load_slots(baseline_dir, fusion_dir, merge: bool = True, trust_unverified: bool = False) -> dict[str, TaggerSlot]:
    slots = {}
    for side, directory in (("baseline", baseline_dir), ("fusion", fusion_dir)):
        started = time.time()
        slots[side] = load_slot(side, directory, merge, trust_unverified)
        state = (f"loaded in {time.time() - started:.1f} s" if slots[side].ready
                 else f"NOT loaded: {slots[side].error}")
        print(f"{side}: {directory} {state}", file=sys.stderr)
    return slots


def load_graph_slots(baseline_dir, fusion_dir, threads: int, cache, trust_unverified: bool = False
                     ) -> dict[str, TaggerSlot] | None:
    """Both sides as taggers of their cached graphs (fusion/model/graph_tagger.py), for a start
    that answers before any torch tagger is built; None unless both load so (no graph stored yet,
    another encoder, any error): the app then loads the torch taggers as before. `cache` is a
    GraphCache; the log says how each side started."""
    from fusion.model.graph_tagger import load_graph_tagger
    from fusion.model.onnx_cache import graph_key

    slots = {}
    for side, directory in (("baseline", baseline_dir), ("fusion", fusion_dir)):
        started = time.time()
        try:
            graph = cache.path(graph_key(directory)) if directory is not None else None
            if graph is None:
                print(f"{side}: no graph of it in the cache yet: the taggers load on torch", file=sys.stderr)
                return None
            tagger = load_graph_tagger(directory, graph, max(1, threads), trust_unverified, cache.files)
        except Exception as error:  # noqa: BLE001 — the torch taggers' start says what is wrong, if anything
            print(f"{side}: not from its cached graph ({type(error).__name__}: {error}): the taggers load on torch",
                  file=sys.stderr)
            return None
        slots[side] = TaggerSlot(side, str(directory), tagger=tagger, torch_reason="")
        print(f"{side}: {directory} loaded from its cached graph in {time.time() - started:.1f} s", file=sys.stderr)
    return slots


def read_ahead(baseline_dir, fusion_dir, threads: int, cache, trust_unverified: bool = False
               ) -> dict[str, TaggerSlot] | None:
    """What a start reads while Gradio is imported (numpy, hashing and ONNX Runtime work outside
    the GIL): `load_graph_slots`; when that gives None and a checkpoint reads the offline encoder,
    that encoder's cached files are made meanwhile (fusion/model/encoders.py
    `prepare_offline_encoder`: no model built, no transformers imported), so that the torch
    taggers' start maps them instead of making them."""
    from fusion.model.checkpoint import read_checkpoint_info
    from fusion.model.encoders import OFFLINE_ENCODER, prepare_offline_encoder

    slots = load_graph_slots(baseline_dir, fusion_dir, threads, cache, trust_unverified)
    if slots is None:
        try:
            encoders = {read_checkpoint_info(d)["config"].get("encoder", OFFLINE_ENCODER)
                        for d in (baseline_dir, fusion_dir) if d is not None}
            if OFFLINE_ENCODER in encoders:
                prepare_offline_encoder(cache.files)
        except Exception:  # noqa: BLE001 — the torch taggers' start makes them, or says what is wrong
            pass
    return slots


def check_graph_slots(slots: dict[str, TaggerSlot], threads: int, cache, trust_unverified: bool = False):
    """In a background thread, once the app serves from `load_graph_slots`' taggers: each graph
    checked against the torch tagger of its checkpoint, as `attach_runtime` checks every graph
    (`check_runtime`: logits, attentions and gates). A graph that passes keeps serving and the
    torch tagger is let go; one that fails is removed from the cache and its side serves on the
    torch tagger while `attach_runtimes` exports it again. Returns the thread."""
    from fusion.model.checkpoint import load_tagger
    from fusion.model.onnx_cache import graph_key
    from fusion.model.onnx_runtime import check_runtime

    def run():
        refused = {}
        for side, slot in slots.items():
            started = time.time()
            try:
                tagger = load_tagger(slot.directory, merge=False, trust_unverified=trust_unverified)
            except Exception as error:  # noqa: BLE001 — the graph keeps serving; the log says it is unchecked
                print(f"{side}: its graph could not be checked against torch ({type(error).__name__}: {error})",
                      file=sys.stderr)
                continue
            try:
                check_runtime(tagger, slot.tagger.runtime)
            except Exception as error:  # noqa: BLE001 — a wrong graph is never kept
                cache.forget(graph_key(slot.directory))
                print(f"{side}: its cached graph was refused ({type(error).__name__}: {error}); "
                      "it runs on torch until a new export attaches", file=sys.stderr)
                slot.tagger, slot.torch_reason = tagger, "its cached graph was refused; a new export is under way"
                refused[side] = slot
                continue
            print(f"{side}: runs on ONNX Runtime (its cached graph agrees with torch: checked in "
                  f"{time.time() - started:.1f} s)", file=sys.stderr)
        if refused:
            attach_runtimes(refused, threads, cache).join()
        else:
            hand_back({slot.tagger.config.encoder for slot in slots.values()})

    thread = threading.Thread(target=run, name="graph-check", daemon=True)
    thread.start()
    return thread


def hand_back(encoders: set[str], why: str = "every model here runs on ONNX Runtime") -> None:
    """Once every tagger (or the Layers probes' encoder) runs on its graph: the base weights'
    layer pages go back to the kernel (`page_out_base`: only a torch forward reads them, and
    reads them back when it comes), and so does the memory the start freed."""
    try:
        handed = sum(page_out_base(name) for name in encoders)
        print(f"torch: {handed / 2**20:.0f} MB of the encoder's layer pages handed back to the kernel "
              f"({why})", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 — memory held a while longer, never an error
        print(f"torch: the encoder's layer pages stay ({type(error).__name__}: {error})", file=sys.stderr)
    return_freed_memory()


def attach_runtimes(slots: dict[str, TaggerSlot], threads: int, cache=None):
    """The loaded taggers get their ONNX Runtime forward in the background (fusion/model/onnx_runtime.py:
    Compare's logits and Inside's attentions and gates from one graph each); each runs on torch
    until then, or for good if the export fails (the log says why). With a `cache`
    (fusion/model/onnx_cache.py: GraphCache) a graph made at an earlier start is used first, and
    no export runs for it. Taggers loaded with merge=False keep their LoRA adapters apart over
    the shared base weights, which saves a copy of every layer; one that stays on torch has them
    merged, its fastest torch forward. Once every tagger runs on its graph, the base weights'
    layer pages are handed back to the kernel (`page_out_base`: only a torch forward reads them),
    and so is the memory the start freed (`return_freed_memory`)."""
    ready = {side: slot for side, slot in slots.items() if slot.ready}
    waiting = set(ready)

    def settled():
        if all(slot.tagger.runtime is not None for slot in ready.values()):
            hand_back({slot.tagger.config.encoder for slot in ready.values()})
        else:
            return_freed_memory()

    def report(side, attached):
        if attached.error is None:
            state = f"runs on ONNX Runtime (ready in {attached.seconds:.1f} s)"
        else:
            state = f"stays on torch: {attached.error}"
            slots[side].torch_reason = f"its ONNX Runtime export failed ({attached.error})"
            try:
                slots[side].tagger.merge_adapters()
            except Exception as error:  # noqa: BLE001 — slower on torch, still one line in the log
                state += f" (adapters not merged: {type(error).__name__}: {error})"
        print(f"{side}: {state}", file=sys.stderr)
        waiting.discard(side)
        if not waiting:
            settled()

    for slot in ready.values():
        slot.torch_reason = "its ONNX Runtime export is under way"
    return onnx_runtime.attach_in_background({side: slot.tagger for side, slot in ready.items()}, max(1, threads),
                                             report, {side: slot.directory for side, slot in ready.items()}, cache)


def return_freed_memory() -> None:
    """Give the C allocator's free pages back to the system. glibc keeps what a burst of work
    freed (the start's loading, the exported graphs, the Results warm-up: 100–270 MB measured,
    docs/PERFORMANCE.md) for its next allocations, and the process's RSS counts it until then."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to ask
        pass


def reference_tagger(slots: dict[str, TaggerSlot]):
    """The first loaded tagger (both read the same encoder), or None."""
    return next((slot.tagger for slot in slots.values() if slot.ready), None)


def runtime_note(slots: dict[str, TaggerSlot]) -> str:
    """Which runtime answers Compare (and Inside, from the same graph), in one line: "Compare and
    Inside run on ONNX Runtime." or "Compare runs on torch: <why>." (each model's when the two
    differ); "" when no model is loaded."""
    ready = [slot for slot in slots.values() if slot.ready]
    reasons = {slot.side: slot.torch_reason for slot in ready
               if getattr(slot.tagger, "runtime", None) is None}
    if not reasons:
        return "Compare and Inside run on ONNX Runtime." if ready else ""
    if len(reasons) == len(ready) and len(set(reasons.values())) == 1:
        return f"Compare runs on torch: {reasons[ready[0].side]}."
    return "Compare runs on " + "; ".join(
        f"torch for the {slot.side} model: {reasons[slot.side]}" if slot.side in reasons
        else f"ONNX Runtime for the {slot.side} model" for slot in ready) + "."
