"""The layer probes behind the Layers tab: loaded the first time the tab asks, and their reading
of a sentence kept in a small server-wide cache.

The probes read the frozen encoder without adapters, which no tagger's graph holds (their
adapters are merged into it), so Layers stays on torch: the encoder built here is a shell over
the base weights the taggers share (fusion/model/encoders.py), not a third copy of them. After the
taggers' graphs are attached those weights' pages are handed back to the kernel, and the first
Layers request reads them back from the page cache (~85 MB, docs/PERFORMANCE.md); a graph of the
base encoder would hold its own ~100 MB session instead."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fusion.probing.emergence import EmergenceGrid, emergence
from serve.cache import BoundedCache
from serve.compare import CompareView
from serve.paths import PROBES_DIR

CACHE_ENTRIES = 64  # a grid is 13 × words small values


@dataclass
class ProbeSlot:
    """The layer probes and the frozen encoder they read, or why they could not be loaded."""

    directory: str
    probes: object = None  # fusion.probing.probes.LayerProbes
    encoder: object = None
    tokenizer: object = None
    error: str | None = None

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


class LazyProbes:
    """The probe slot, loaded the first time the Layers tab asks for it (not at app start: the
    app starts as fast as before, and a server nobody opens Layers on never builds the encoder)."""

    def __init__(self, directory=PROBES_DIR):
        self.directory = directory
        self._slot: ProbeSlot | None = None
        self._lock = threading.Lock()

    def get(self) -> ProbeSlot:
        with self._lock:
            if self._slot is None:
                self._slot = load_probe_slot(self.directory)
            return self._slot


class GridCache(BoundedCache):
    """Least recently used grids, keyed by (probe set, text key, sentence)."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        super().__init__(entries)

    def get(self, slot: ProbeSlot, view: CompareView, sentence: int) -> EmergenceGrid:
        return self.fetch((slot.directory, view.key, sentence), lambda: emergence(
            slot.probes, slot.encoder, slot.tokenizer, view.text, sentence))
