"""Exported ONNX graphs kept on disk, so that a start with a warm cache exports nothing.

A graph is stored under a key made of everything it depends on: the checkpoint's files (their
sha256, `checkpoint_hash`: labels, fusion layer, adapters, weights), the exporter (torch's
version, the opset) and the runtime that reads it (onnxruntime's version), and this file's
format. A changed checkpoint or library gives a new key, so a stale graph is never found. Each
graph is written with the sha256 of its bytes; a graph whose bytes no longer match is refused and
deleted (`read`), and `attach_runtime` still checks every graph against torch's logits before
using it, so a tampered graph that kept its hash is refused too, and then rebuilt.

The folder: ``$LFE_CACHE_DIR`` when set, else ``/data/layer-fusion-explorer`` when ``/data`` is
writable (a Hugging Face Space's persistent storage), else the user's cache folder
(``$XDG_CACHE_HOME`` or ``~/.cache``)/layer-fusion-explorer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

FORMAT = "lfe-onnx-graph-1"
OPSET = 17  # the opset export_graph writes
MAX_GRAPH_BYTES = 2_000_000_000  # a shipped tagger's graph is ~86 MB


def default_cache_dir() -> Path:
    configured = os.environ.get("LFE_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    if os.path.isdir("/data") and os.access("/data", os.W_OK):
        return Path("/data/layer-fusion-explorer")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "layer-fusion-explorer"


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
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.onnx", self.folder / f"{key}.json"

    def read(self, key: str) -> bytes | None:
        """The stored graph of `key` if its bytes are the ones written; else None (and a
        damaged entry is removed, so it is rebuilt)."""
        graph_path, info_path = self._paths(key)
        try:
            if not graph_path.is_file() or not info_path.is_file() or graph_path.stat().st_size > MAX_GRAPH_BYTES:
                return None
            info = json.loads(info_path.read_text(encoding="utf-8"))
            graph = graph_path.read_bytes()
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict) or info.get("sha256") != hashlib.sha256(graph).hexdigest():
            self.forget(key)
            return None
        return graph

    def write(self, key: str, graph: bytes) -> bool:
        """Store a graph (atomically: a reader never sees half a file); False when the folder
        cannot be written (a read-only disk: the app then exports at every start, as before)."""
        graph_path, info_path = self._paths(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for path, data in ((graph_path, graph),
                               (info_path, json.dumps({"sha256": hashlib.sha256(graph).hexdigest(),
                                                       "bytes": len(graph), "format": FORMAT}).encode("utf-8"))):
                handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, path)
        except OSError:
            return False
        return True

    def forget(self, key: str) -> None:
        for path in self._paths(key):
            try:
                path.unlink()
            except OSError:
                pass
