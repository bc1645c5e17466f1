"""serve/slots.py: finding and loading the checkpoints, and their ONNX Runtime forward."""

import pytest

from serve import slots as slots_module
from serve.compare import compare_texts
from serve.slots import attach_runtimes, find_fusion_checkpoint, load_slots


def test_find_fusion_checkpoint(tmp_path):
    assert find_fusion_checkpoint(tmp_path) is None
    for name in ("fusion-l10", "fusion-l6", "fusion-l2-empty"):
        (tmp_path / name).mkdir()
    for name in ("fusion-l10", "fusion-l6"):
        (tmp_path / name / "tagger_config.json").write_text("{}")
    assert find_fusion_checkpoint(tmp_path).name == "fusion-l6"


@pytest.mark.slow
def test_loaded_taggers_get_their_onnx_runtime_in_the_background(tiny_checkpoints, capsys):
    """Traced in a child process."""
    texts = ["Angela Merkel visited Paris.", "Die New York Times schrieb über Berlin und Ford."]
    reference = load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"])
    slots = load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], merge=False)
    attach_runtimes(slots, threads=1).join(timeout=300)
    assert all(slot.tagger.runtime is not None and not slot.tagger.merged for slot in slots.values())
    log = capsys.readouterr().err
    assert "baseline: runs on ONNX Runtime" in log and "fusion: runs on ONNX Runtime" in log
    before, after = compare_texts(reference, texts), compare_texts(slots, texts)
    assert [(v.message, v.highlights, v.disagreement) for v in after] == [
        (v.message, v.highlights, v.disagreement) for v in before]


def test_a_tagger_whose_export_fails_stays_on_torch_with_its_adapters_merged(tiny_checkpoints, monkeypatch, capsys):
    def broken(directories, timeout=600):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(slots_module.onnx_runtime, "graphs_of_checkpoints", broken)
    slots = load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], merge=False)
    assert not slots["fusion"].tagger.merged
    attach_runtimes(slots, threads=1).join(timeout=120)
    assert all(slot.tagger.runtime is None and slot.tagger.merged for slot in slots.values())
    assert "fusion: stays on torch: RuntimeError: no exporter here" in capsys.readouterr().err
    assert compare_texts(slots, ["Angela Merkel visited Paris."])[0].highlights["fusion"]


def test_once_every_tagger_runs_on_its_graph_inside_does_too_and_torchs_pages_go_back(tiny_checkpoints, tmp_path,
                                                                                       monkeypatch, capsys):
    """Traced in this process (the child is tested above); graphs stored in, then opened from, a cache folder."""
    from fusion.model.checkpoint import load_tagger
    from fusion.model.onnx_cache import GraphCache, graph_key
    from fusion.tagging.predict import predict

    monkeypatch.setattr(slots_module.onnx_runtime, "graphs_of_checkpoints", lambda directories, timeout=600: [
        slots_module.onnx_runtime.export_graph(load_tagger(d)) for d in directories])
    cache = GraphCache(tmp_path / "cache")
    text = "Angela Merkel visited Paris."
    for start in ("empty cache", "warm cache"):
        slots = load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], merge=False)
        expected = predict(slots["fusion"].tagger, text, explain=True)[0].explanation
        attach_runtimes(slots, threads=1, cache=cache).join(timeout=120)
        log = capsys.readouterr().err
        assert "fusion: runs on ONNX Runtime" in log and "handed back to the kernel" in log, start
        assert cache.path(graph_key(tiny_checkpoints["fusion"])) is not None
        slots["fusion"].tagger.forward = None  # Inside must not call torch now
        explanation = predict(slots["fusion"].tagger, text, explain=True)[0].explanation
        assert abs(explanation.gates - expected.gates).max() <= 1e-4
        assert abs(explanation.attentions - expected.attentions).max() <= 1e-4
