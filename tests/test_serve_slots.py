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
