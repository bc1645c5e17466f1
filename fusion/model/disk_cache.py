"""The app's cache folder: files made once and reused by later starts (the offline encoder's
dequantised weights, exported ONNX graphs, and under ``verdicts/`` the run records found to
agree with their sidecars: fusion/evaluation/stored.py ``checked_once``), each stored beside the sha256 of its bytes and
checked against it before use, so a damaged file is refused (and removed, to be made again).

The folder: ``$LFE_CACHE_DIR`` when set, else ``/data/layer-fusion-explorer`` when ``/data`` is
writable (a Hugging Face Space's persistent storage), else the user's cache folder
(``$XDG_CACHE_HOME`` or ``~/.cache``)/layer-fusion-explorer. A folder that cannot be written is
no error: the file is then made again at every start, as without a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def default_cache_dir() -> Path:
    configured = os.environ.get("LFE_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    if os.path.isdir("/data") and os.access("/data", os.W_OK):
        return Path("/data/layer-fusion-explorer")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "layer-fusion-explorer"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class DiskCache:
    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def paths(self, name: str) -> tuple[Path, Path]:
        """(the file, its record of the sha256)."""
        return self.folder / name, self.folder / f"{name}.sha256.json"

    def verified(self, name: str, limit: int) -> Path | None:
        """The stored file if its bytes are the ones written (and at most `limit` bytes); else
        None, and a damaged entry is removed."""
        path, record = self.paths(name)
        try:
            if not path.is_file() or not record.is_file():
                return None
            stored = json.loads(record.read_text(encoding="utf-8"))
            if path.stat().st_size <= limit and isinstance(stored, dict) and stored.get("sha256") == file_sha256(path):
                return path
        except (OSError, ValueError):
            return None
        self.forget(name)
        return None

    def store(self, name: str, write) -> Path | None:
        """Make the file through `write(temporary_path)`, then put it in place with its sha256
        (atomically: a reader never sees half a file); None when the folder cannot be written."""
        path, record = self.paths(name)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
            os.close(handle)
            try:
                write(Path(temporary))
                digest = file_sha256(Path(temporary))
                os.replace(temporary, path)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"sha256": digest}, out)
            os.replace(temporary, record)
        except OSError:
            return None
        return path

    def forget(self, name: str) -> None:
        for path in self.paths(name):
            try:
                path.unlink()
            except OSError:
                pass
