"""ui/header.py: what the header says of the two models, a broken one included."""

from pathlib import Path
from types import SimpleNamespace

from fusion.model.encoders import OFFLINE_ENCODER
from serve.slots import TaggerSlot, load_slot, load_slots
from ui import header


def test_header_names_encoders_and_links_the_paper(models):
    text = header.header_markdown(models)
    assert header.PAPER_URL in text and "Chen et al. 2022" in text
    assert f"` {Path(models['baseline'].tagger.config.encoder).as_posix()} `" in text  # local encoder, as typed
    fake = SimpleNamespace(config=SimpleNamespace(encoder=OFFLINE_ENCODER, fusion_layer=6),
                           checkpoint_info={"training": {"dev_f1": 0.812, "best_epoch": 3}})
    text = header.header_markdown({"fusion": TaggerSlot("fusion", "checkpoints/fusion-l6", tagger=fake),
                                   "baseline": load_slot("baseline", None)})
    assert "multilingual-e5-small, not mBERT" in text
    assert "81.2 (epoch 3)" in text and "layer 6" in text and "not loaded" in text
    assert header.slot_titles(models) == {"baseline": "Baseline (last layer)",
                                          "fusion": "Fusion (last layer + layer 1, AIF gate)"}


def test_broken_checkpoint_is_a_message(tmp_path):
    (tmp_path / "tagger_config.json").write_text("not json")
    slot = load_slot("baseline", tmp_path)
    assert not slot.ready and "not valid JSON" in slot.error
    (tmp_path / "tagger_config.json").write_text('{"format_version": 1, "config": {"encoder": "<b>x</b>"}}')
    text = header.header_markdown({"baseline": load_slot("baseline", tmp_path)})
    assert "<b>" not in text and "not loaded" in text
    assert "Not loaded: baseline" in header.title_markdown({"baseline": load_slot("baseline", tmp_path)})


def test_an_unverified_checkpoint_loads_only_on_trust_and_the_title_warns(tiny_checkpoints, tmp_path):
    import json
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tiny_checkpoints["fusion"], old)
    info = json.loads((old / "tagger_config.json").read_text())
    del info["fingerprint"]  # as saved by an older version
    (old / "tagger_config.json").write_text(json.dumps(info))
    refused = load_slots(tiny_checkpoints["baseline"], old)
    assert not refused["fusion"].ready and "--trust-unverified" in refused["fusion"].error
    trusted = load_slots(tiny_checkpoints["baseline"], old, trust_unverified=True)
    title = header.title_markdown(trusted)
    assert "Unverified checkpoint: fusion" in title and "baseline" not in title.split("Unverified")[1]
    assert "Unverified" not in header.title_markdown(load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"]))


def test_the_page_says_which_runtime_answers_compare_after_an_export_failed(tiny_checkpoints, monkeypatch, capsys):
    from serve import slots as slots_module

    def broken(directories, timeout=600):
        raise RuntimeError("no exporter <here>")

    monkeypatch.setattr(slots_module.onnx_runtime, "graphs_of_checkpoints", broken)
    slots = load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], merge=False)
    assert header.runtime_markdown(slots) == "*Compare runs on torch: no ONNX Runtime export was asked for " \
                                             "\\(LFE\\_RUNTIME=torch\\)\\.*"
    capsys.readouterr()
    slots_module.attach_runtimes(slots, threads=1).join(timeout=120)
    log = capsys.readouterr().err.strip().splitlines()
    assert log == [f"{side}: stays on torch: RuntimeError: no exporter <here>" for side in ("baseline", "fusion")]
    line = slots_module.runtime_note(slots)
    assert line == "Compare runs on torch: its ONNX Runtime export failed (RuntimeError: no exporter <here>)."
    assert "<here>" not in header.runtime_markdown(slots) and "no exporter" in header.runtime_markdown(slots)
    slots["baseline"].tagger.runtime = object()  # one side on ONNX Runtime, the other not
    assert slots_module.runtime_note(slots) == ("Compare runs on ONNX Runtime for the baseline model; torch for "
                                                "the fusion model: its ONNX Runtime export failed "
                                                "(RuntimeError: no exporter <here>).")
    slots["fusion"].tagger.runtime = object()
    assert slots_module.runtime_note(slots) == "Compare and Inside run on ONNX Runtime."
    assert header.runtime_markdown({"fusion": load_slot("fusion", None)}) == ""


JARGON = ("WikiANN", "AIF", "dev F1", "4-bit", "XLM-R")


def test_the_header_says_in_plain_words_what_the_page_is_about_and_keeps_the_jargon_under_about(built_page):
    """Above the tabs: what an entity, a layer and the gate are, without jargon; the jargon (the
    data, the module's name, the checkpoints' scores, the encoder's weights and vocabulary) is
    under "About these models", on every screen."""
    import gradio as gr

    plain = header.plain_header()
    for words in ("PER", "ORG", "LOC", "*entity*", "*layers*", "*gate*"):
        assert words in plain
    assert not [word for word in JARGON if word in plain]
    fake = SimpleNamespace(config=SimpleNamespace(encoder=OFFLINE_ENCODER, fusion_layer=11),
                           checkpoint_info={"training": {"dev_f1": 0.823, "best_epoch": 3}})
    about = header.header_markdown({"fusion": TaggerSlot("fusion", "checkpoints/fusion-l11", tagger=fake)})
    assert [word for word in JARGON if word in about] == list(JARGON)

    demo, services = built_page
    accordion = next(block for block in demo.blocks.values()
                     if isinstance(block, gr.Accordion) and block.label == "About these models")
    assert "narrow-only" not in (accordion.elem_classes or [])  # wide screens have it too
    inside = {child.elem_id: child.value for child in accordion.children if isinstance(child, gr.Markdown)}
    assert inside["about-models"] == header.header_markdown(services.slots) and "runtime-note" in inside
    shown = {block.elem_id: block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown)
             and block.elem_id in ("intro", "header", "intro-short")}
    assert shown["header"] == plain and shown["intro-short"] == header.INTRO
    assert not [word for text in shown.values() for word in JARGON if word in text]
    on_runtime = next(fn for fn in demo.fns.values() if fn.name == "on_runtime")  # read at each visit
    assert [o.elem_id for o in on_runtime.outputs] == ["runtime-note"] and isinstance(on_runtime.fn(), str)
