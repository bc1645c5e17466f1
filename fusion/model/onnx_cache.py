"""Exported ONNX graphs kept in the app's cache folder (fusion/model/disk_cache.py), so that a
start with a warm cache exports nothing.

A graph is stored under a key made of everything it depends on: the checkpoint's files (their
sha256, `checkpoint_hash`: labels, fusion layer, adapters, weights), the exporter (torch's
version, the opset) and the runtime that reads it (onnxruntime's version), and this file's
format (the Layers probes' encoder graph: its weights instead of a checkpoint,
fusion/model/encoder_graph.py). A changed checkpoint or library gives a new key, so a stale
graph is never found. A graph whose bytes no longer match their stored sha256 is refused and
removed (`read`), and `attach_runtime` still checks every graph against torch's logits before
using it, so a tampered graph that kept its hash is refused too, and then made again. A start
that answers from the cached graphs first (fusion/model/graph_tagger.py) makes the same check
seconds later, once it serves (serve/slots.py `check_graph_slots`): until then the stored sha256
is the graph's only check.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fusion.model.disk_cache import DiskCache

FORMAT = "lfe-onnx-graph-2"  # 2: attentions and gates as outputs
OPSET = 17  # the opset export_graph writes
MAX_GRAPH_BYTES = 2_000_000_000  # a shipped tagger's graph is ~86 MB


def graph_key(checkpoint_dir: str | Path) -> str:
    """What a graph of this checkpoint depends on, as one sha256."""
    import onnxruntime
    import torch

    from fusion.model.checkpoint import checkpoint_hash

    parts = {"format": FORMAT, "checkpoint": checkpoint_hash(checkpoint_dir), "torch": torch.__version__,
             "opset": OPSET, "onnxruntime": onnxruntime.__version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


class GraphCache:
    def __init__(self, folder: str | Path | None = None):
        self.files = DiskCache(folder)

    @property
    def folder(self) -> Path:
        return self.files.folder

    def path(self, key: str) -> Path | None:
        """The file of the stored graph of `key` if its bytes are the ones written, else None (an
        ONNX Runtime session opened from the file holds less memory than one from the bytes)."""
        return self.files.verified(f"{key}.onnx", MAX_GRAPH_BYTES)

    def read(self, key: str) -> bytes | None:
        """The stored graph of `key` if its bytes are the ones written, else None."""
        path = self.path(key)
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None

    def write(self, key: str, graph: bytes) -> Path | None:
        """The stored file; None when the folder cannot be written (the app then exports at every start)."""
        return self.files.store(f"{key}.onnx", lambda path: path.write_bytes(graph))

    def forget(self, key: str) -> None:
        self.files.forget(f"{key}.onnx")
