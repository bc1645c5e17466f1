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


@pytest.fixture(scope="module")
def graphs(tiny_checkpoints) -> dict:
    """Each tiny checkpoint's graph (traced here once): {"baseline": bytes, "fusion": bytes}."""
    from fusion.model.checkpoint import load_tagger
    from fusion.model.onnx_runtime import export_graph

    return {side: export_graph(load_tagger(directory, merge=False)) for side, directory in tiny_checkpoints.items()}


def _cache_of_graphs(checkpoints: dict, folder, graphs: dict):
    """A graph cache holding graphs[side] under the key of checkpoints[side], as an earlier start leaves it."""
    from fusion.model.onnx_cache import GraphCache, graph_key

    cache = GraphCache(folder)
    for side, directory in checkpoints.items():
        cache.write(graph_key(directory), graphs[side])
    return cache


def test_a_start_with_cached_graphs_answers_as_the_torch_taggers_do(tiny_checkpoints, graphs, models, tmp_path, capsys):
    from fusion.model.graph_tagger import GraphTagger
    from fusion.tagging.predict import predict
    from serve.slots import load_graph_slots, runtime_note

    texts = ["Angela Merkel visited Paris.", "Die New York Times schrieb über Berlin und Ford. " * 40]
    cache = _cache_of_graphs(tiny_checkpoints, tmp_path / "cache", graphs)
    slots = load_graph_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], 1, cache)
    assert all(isinstance(slot.tagger, GraphTagger) for slot in slots.values())
    assert "fusion: " + tiny_checkpoints["fusion"] + " loaded from its cached graph" in capsys.readouterr().err
    assert runtime_note(slots) == "Compare and Inside run on ONNX Runtime."
    for side, slot in slots.items():
        torch_tagger = models[side].tagger
        assert (slot.tagger.n_layers, slot.tagger.n_heads, slot.tagger.window_tokens, slot.tagger.entity_types) == (
            torch_tagger.n_layers, torch_tagger.n_heads, torch_tagger.window_tokens, torch_tagger.entity_types)
    after, before = compare_texts(slots, texts), compare_texts(models, texts)
    assert [(v.message, v.highlights, v.disagreement) for v in after] == [
        (v.message, v.highlights, v.disagreement) for v in before]
    explained, expected = (predict(s["fusion"].tagger, texts[0], explain=True)[0].explanation for s in (slots, models))
    assert abs(explained.gates - expected.gates).max() <= 1e-4
    assert abs(explained.attentions - expected.attentions).max() <= 1e-4


def test_a_start_without_a_cached_graph_or_with_an_edited_checkpoint_loads_the_torch_taggers(
        tiny_checkpoints, graphs, tmp_path, capsys):
    import json
    import shutil

    from fusion.model.onnx_cache import GraphCache
    from serve.slots import load_graph_slots

    assert load_graph_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], 1,
                            GraphCache(tmp_path / "empty")) is None
    assert "baseline: no graph of it in the cache yet" in capsys.readouterr().err
    edited = shutil.copytree(tiny_checkpoints["fusion"], tmp_path / "fusion-l1")
    info = json.loads((edited / "tagger_config.json").read_text())
    info["config"]["labels"] = list(reversed(info["config"]["labels"]))
    (edited / "tagger_config.json").write_text(json.dumps(info))
    cache = _cache_of_graphs({**tiny_checkpoints, "fusion": str(edited)}, tmp_path / "cache", graphs)
    assert load_graph_slots(tiny_checkpoints["baseline"], str(edited), 1, cache) is None
    assert "fusion: not from its cached graph (CheckpointError" in capsys.readouterr().err
    assert load_slots(tiny_checkpoints["baseline"], str(edited))["fusion"].error  # the torch start says why


def test_a_cached_graph_is_checked_against_torch_once_the_app_serves(tiny_checkpoints, graphs, models, tmp_path,
                                                                       monkeypatch, capsys):
    """One side's graph is another tagger's (a tampered cache that kept its hashes): refused,
    removed, served on torch meanwhile, and exported again; the other side's passes and keeps serving."""
    from fusion.model.checkpoint import load_tagger
    from fusion.model.graph_tagger import GraphTagger
    from fusion.model.onnx_cache import graph_key
    from serve.slots import check_graph_slots, load_graph_slots

    monkeypatch.setattr(slots_module.onnx_runtime, "graphs_of_checkpoints", lambda directories, timeout=600: [
        slots_module.onnx_runtime.export_graph(load_tagger(d)) for d in directories])
    cache = _cache_of_graphs(tiny_checkpoints, tmp_path / "cache", {**graphs, "baseline": graphs["fusion"]})
    slots = load_graph_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], 1, cache)
    check_graph_slots(slots, 1, cache).join(timeout=120)
    log = capsys.readouterr().err
    assert "baseline: its cached graph was refused" in log and "fusion: runs on ONNX Runtime (its cached graph agrees with torch" in log
    assert isinstance(slots["fusion"].tagger, GraphTagger) and not isinstance(slots["baseline"].tagger, GraphTagger)
    assert "baseline: runs on ONNX Runtime" in log and slots["baseline"].tagger.runtime is not None
    assert cache.path(graph_key(tiny_checkpoints["baseline"])) is not None  # the new export, stored
    texts = ["Angela Merkel visited Paris."]
    assert [v.highlights for v in compare_texts(slots, texts)] == [v.highlights for v in compare_texts(models, texts)]
