"""Exported graphs kept on disk (fusion/model/onnx_cache.py): a warm start exports nothing, a
damaged or tampered graph is refused and made again, a stale one is never found."""

import hashlib
import json

import pytest

from fusion.model import onnx_runtime
from fusion.model.checkpoint import load_tagger
from fusion.model.disk_cache import default_cache_dir
from fusion.model.onnx_cache import GraphCache, graph_key


_traced: dict[str, bytes] = {}  # checkpoint -> its graph, traced once for the module (the checkpoints are shared)


@pytest.fixture
def exports(monkeypatch):
    """graphs_of_checkpoints traced in this process (no child), counting the checkpoints asked for."""
    asked = []

    def traced(directory) -> bytes:
        if str(directory) not in _traced:
            _traced[str(directory)] = onnx_runtime.export_graph(load_tagger(directory, merge=True))
        return _traced[str(directory)]

    def in_process(directories, timeout=600):
        asked.extend(map(str, directories))
        return [traced(d) for d in directories]

    monkeypatch.setattr(onnx_runtime, "graphs_of_checkpoints", in_process)
    return asked


def attach(checkpoints: dict, cache) -> dict:
    taggers = {name: load_tagger(directory, merge=False) for name, directory in checkpoints.items()}
    reports = {}
    onnx_runtime.attach_in_background(taggers, 1, lambda name, attached: reports.update({name: attached}),
                                      checkpoints, cache).join(timeout=300)
    assert all(report.error is None for report in reports.values()), reports
    assert all(tagger.runtime is not None for tagger in taggers.values())
    return reports


def test_a_warm_cache_exports_nothing(tiny_checkpoints, tmp_path, exports):
    cache = GraphCache(tmp_path / "cache")
    attach(tiny_checkpoints, cache)
    assert sorted(exports) == sorted(tiny_checkpoints.values())
    assert len(list((tmp_path / "cache").glob("*.onnx"))) == 2
    exports.clear()
    attach(tiny_checkpoints, cache)  # a second start
    assert exports == []


def test_a_damaged_or_tampered_graph_is_refused_and_made_again(tiny_checkpoints, tmp_path, exports):
    cache = GraphCache(tmp_path / "cache")
    attach(tiny_checkpoints, cache)
    baseline, fusion = (graph_key(tiny_checkpoints[name]) for name in ("baseline", "fusion"))
    (tmp_path / "cache" / f"{baseline}.onnx").write_bytes(b"not a graph")  # damaged: its hash no longer matches
    assert cache.read(baseline) is None and not (tmp_path / "cache" / f"{baseline}.onnx").exists()
    # tampered: the fusion slot gets the baseline's graph with a matching hash; the check against torch refuses it
    exports.clear()
    attach({"baseline": tiny_checkpoints["baseline"]}, cache)
    swapped = (tmp_path / "cache" / f"{baseline}.onnx").read_bytes()
    (tmp_path / "cache" / f"{fusion}.onnx").write_bytes(swapped)
    (tmp_path / "cache" / f"{fusion}.onnx.sha256.json").write_text(json.dumps({"sha256": hashlib.sha256(swapped).hexdigest()}))
    exports.clear()
    attach(tiny_checkpoints, cache)
    assert exports == [tiny_checkpoints["fusion"]]  # made again, and only it
    assert cache.read(fusion) != swapped


def test_the_key_follows_the_checkpoint_and_the_libraries(tiny_checkpoints, tmp_path, monkeypatch):
    import shutil

    import torch

    key = graph_key(tiny_checkpoints["baseline"])
    assert key != graph_key(tiny_checkpoints["fusion"])
    copy = shutil.copytree(tiny_checkpoints["baseline"], tmp_path / "copy")
    assert graph_key(copy) == key  # the files, not where they are
    info = json.loads((copy / "tagger_config.json").read_text())
    info["training"] = {"note": "edited"}
    (copy / "tagger_config.json").write_text(json.dumps(info))
    assert graph_key(copy) != key
    monkeypatch.setattr(torch, "__version__", "0.0.0")
    assert graph_key(tiny_checkpoints["baseline"]) != key


def test_an_unwritable_cache_is_no_error_and_the_folder_is_configurable(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    assert GraphCache(blocked / "cache").write("k" * 64, b"graph") is None
    monkeypatch.setenv("LFE_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    cache = GraphCache()
    assert cache.write("k" * 64, b"graph") and cache.read("k" * 64) == b"graph"
