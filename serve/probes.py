"""The layer probes behind the Layers tab: loaded the first time the tab asks, their encoder moved
onto the runtime Compare runs on, and their reading of a sentence kept in a small server-wide cache.

The probes read the frozen encoder without adapters, which no tagger's graph holds (their
adapters are merged into it). The encoder built here first is a torch shell over the base weights
the taggers share (fusion/model/encoders.py), not a third copy of them; it answers the first
Layers requests while `attach_encoder_graph` gives the slot the encoder's own graph
(fusion/model/encoder_graph.py: from the graph cache, or traced in a child process and stored
there; checked against the shell either way), and then goes."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from fusion.model import encoder_graph
from fusion.probing.emergence import EmergenceGrid, emergence
from serve.cache import BoundedCache
from serve.compare import CompareView
from serve.paths import PROBES_DIR
from serve.slots import hand_back

CACHE_ENTRIES = 64  # a grid is 13 × words small values


@dataclass
class ProbeSlot:
    """The layer probes and the frozen encoder they read, or why they could not be loaded."""

    directory: str
    probes: object = None  # fusion.probing.probes.LayerProbes
    encoder: object = None  # a torch encoder, or its graph (encoder_graph.GraphEncoder) once attached
    tokenizer: object = None
    error: str | None = None
    runtime: str = "torch"  # what reads the encoder: "ONNX Runtime", or "torch" and why

    @property
    def ready(self) -> bool:
        return self.probes is not None


def load_probe_slot(directory=PROBES_DIR) -> ProbeSlot:
    """Load the probes and build their frozen encoder; any failure becomes the slot's message."""
    from fusion.model.encoders import build_encoder
    from fusion.probing.probes import ProbeError, load_probes

    try:
        probes = load_probes(directory)
        encoder, tokenizer = build_encoder(probes.config.encoder)
    except ProbeError as error:
        return ProbeSlot(str(directory), error=str(error))
    except Exception as error:  # noqa: BLE001 — the app always starts; the tab says why
        return ProbeSlot(str(directory), error=f"could not load: {type(error).__name__}: {error}")
    return ProbeSlot(str(directory), probes, encoder, tokenizer)


def attach_encoder_graph(slot: ProbeSlot, cache, threads: int = 1) -> threading.Thread:
    """In a background thread: the slot's torch encoder replaced by its graph, from `cache` (a
    GraphCache) when stored there, else traced in a child process and stored; checked against the
    torch encoder first either way (a stored graph that fails is removed and made again). The
    torch encoder serves until then, and for good when anything fails; the log says which."""
    def run():
        started, torch_encoder, name = time.time(), slot.encoder, slot.probes.config.encoder
        try:
            key = encoder_graph.encoder_graph_key(name, torch_encoder)
            graph_encoder = _checked_graph(name, torch_encoder, cache, key, threads)
        except Exception as error:  # noqa: BLE001 — Layers stays on torch, a little slower
            slot.runtime = f"torch ({type(error).__name__}: {error})"
            print(f"layers: the probes' encoder stays on torch: {type(error).__name__}: {error}", file=sys.stderr)
            return
        slot.encoder, slot.runtime = graph_encoder, "ONNX Runtime"
        print(f"layers: the probes' encoder runs on ONNX Runtime (ready in {time.time() - started:.1f} s)",
              file=sys.stderr)
        del torch_encoder
        hand_back({name}, "the Layers probes' encoder runs on ONNX Runtime")  # the check read them back

    thread = threading.Thread(target=run, name="layers-graph", daemon=True)
    thread.start()
    return thread


def _checked_graph(name: str, torch_encoder, cache, key: str, threads: int):
    """The graph of the encoder `name`, stored or made now, that agrees with `torch_encoder`."""
    stored = cache.path(key)
    if stored is not None:
        try:
            return encoder_graph.checked_graph_encoder(torch_encoder, stored, threads)
        except ValueError:  # stale or tampered: made again below
            cache.forget(key)
    graph = encoder_graph.encoder_graphs_in_child([name])[0]
    path = cache.write(key, graph)
    try:
        return encoder_graph.checked_graph_encoder(torch_encoder, path or graph, threads)
    except ValueError:
        cache.forget(key)
        raise


class LazyProbes:
    """The probe slot, loaded the first time the Layers tab asks for it (not at app start: the
    app starts as fast as before, and a server nobody opens Layers on never builds the encoder).
    `attach(slot)`, when given, then moves its encoder onto the fast runtime (the app's
    `attach_encoder_graph` with its graph cache)."""

    def __init__(self, directory=PROBES_DIR, attach=None):
        self.directory, self.attach = directory, attach
        self._slot: ProbeSlot | None = None
        self._lock = threading.Lock()

    def get(self) -> ProbeSlot:
        with self._lock:
            if self._slot is None:
                self._slot = load_probe_slot(self.directory)
                if self._slot.ready and self.attach is not None:
                    self.attach(self._slot)
            return self._slot


class GridCache(BoundedCache):
    """Least recently used grids, keyed by (probe set, text key, sentence)."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        super().__init__(entries)

    def get(self, slot: ProbeSlot, view: CompareView, sentence: int) -> EmergenceGrid:
        return self.fetch((slot.directory, view.key, sentence), lambda: emergence(
            slot.probes, slot.encoder, slot.tokenizer, view.text, sentence))
