"""Layers after tuning (issue 25, item 4): the layer probes on a LoRA and a fully tuned tagger's
encoder beside the frozen encoder's. The whole path on tiny taggers (`fusion train --tuning full`,
`fusion probe --tagger`, in-process), and the curves, the missing runs' note, the docs block and
the Results section from probe records that the tests write."""

import random
from types import SimpleNamespace

import pytest

from fusion.data.ner import to_dataset
from fusion.evaluation.evaluate import build_run_record
from fusion.evaluation.runs import PROBE_STUDY, load_runs
from fusion.studies.probe_results import (TUNING_PROBES_COMMAND, missing_tuning_text, tuning_curve_table,
                                          tuning_curves)
from fusion.studies.report import layers_section

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SENTENCES = 4  # per language: a probe that tags m of them right has F1 m / 4 (a wrong type elsewhere)
# per tuning, layer and language: how many sentences the probe of seed 13 and of seed 14 gets right
CURVES = {
    "frozen": {0: {"en": (2, 2), "de": (1, 1), "fr": (1, 1)}, 1: {"en": (3, 3), "de": (1, 1), "fr": (2, 2)}},
    "lora": {0: {"en": (2, 2), "de": (1, 1), "fr": (1, 1)}, 1: {"en": (4, 4), "de": (1, 1), "fr": (1, 1)}},
    "full": {0: {"en": (2, 2), "de": (1, 1), "fr": (1, 1)}, 1: {"en": (3, 4), "de": (2, 2), "fr": (2, 2)}},
}


def _gold(word="Anna"):
    return to_dataset([([word, "lives", "here"], ["B-PER", "O", "O"])] * SENTENCES)


def write_probe_runs(folder, tuning: str, gold_word="Anna") -> None:
    """The probe run records (and sidecars) of one encoder, as `fusion probe` writes them."""
    gold = {language: _gold(gold_word) for language in ("en", "de", "fr")}
    for layer, languages in CURVES[tuning].items():
        for index, seed in enumerate((13, 14)):
            predicted = {language: [["B-PER", "O", "O"] if i < right[index] else ["B-LOC", "O", "O"]
                                    for i in range(SENTENCES)] for language, right in languages.items()}
            training = {"language": "en", "tuning": tuning, "probe_layer": layer, "train_sentences": 20,
                        "dev_sentences": 10, "epochs": 1, "seed": seed, "learning_rate": 2e-3,
                        "batch_size": 256, "best_epoch": 1, "dev_f1": 0.5}
            name = f"probe-l{layer}-s{seed}"
            if tuning != "frozen":
                training["tuned_by"] = {"path": f"work/{tuning}-baseline-s13", "sha256": "1" * 64,
                                        "tuning": tuning, "model": "baseline", "verified": True, "seed": 13}
                name = f"probe-{tuning}-baseline-l{layer}-s{seed}"
            checkpoint = {"path": f"work/seed-{seed}", "sha256": "0" * 64, "encoder": "tiny",
                          "fusion_layer": None, "model": f"probe-l{layer}", "probe_layer": layer,
                          "training": training}
            build_run_record(name, PROBE_STUDY, checkpoint, "panx", "test", 1000, gold, predicted, LABELS,
                             "cpu", 1.0, folder / f"{name}.json")


def _records(folder):
    records, warnings = load_runs(folder)
    assert not warnings
    return records


def test_the_three_curves_come_from_the_records(tmp_path):
    for tuning in ("full", "frozen", "lora"):
        write_probe_runs(tmp_path, tuning)
    found = tuning_curves(_records(tmp_path))
    assert [curve.tuning for curve in found.curves] == ["frozen", "lora", "full"]
    assert [curve.label for curve in found.curves] == [
        "frozen encoder", "after LoRA tuning (baseline s13)", "after full fine-tuning (baseline s13)"]
    assert found.missing == [] and found.same_sentences and missing_tuning_text(found.missing) == ""
    frozen, lora, full = ([(row.layer, row.english.mean, row.targets.mean, round(row.ratio.mean, 4))
                           for row in curve.rows] for curve in found.curves)
    assert frozen == [(0, 50.0, 25.0, 0.5), (1, 75.0, 37.5, 0.5)]
    assert lora == [(0, 50.0, 25.0, 0.5), (1, 100.0, 25.0, 0.25)]
    assert full == [(0, 50.0, 25.0, 0.5), (1, 87.5, 50.0, round((0.5 / 0.75 + 0.5) / 2, 4))]
    assert found.curves[2].rows[1].english.sd == pytest.approx(17.678, abs=1e-3)  # seeds 75 and 100
    assert found.curves[2].rows[1].english.n == 2

    table = tuning_curve_table(found)
    assert list(table["layer"]) == [0, 1] and len(table.columns) == 1 + 3 * 3
    assert list(table["after LoRA tuning (baseline s13): English"]) == [50.0, 100.0]
    assert list(table["after full fine-tuning (baseline s13): targets"]) == [25.0, 50.0]

    docs = "\n".join(layers_section(tmp_path))  # docs/RESULTS.md's block, from the same curves
    assert "**Layers after tuning**" in docs and "Not measured yet" not in docs
    assert "| 1 | 75.0 / 37.5 / 0.50 | 100.0 / 25.0 / 0.25 | 87.5 / 50.0 / 0.58 |" in docs
    # the frozen block's settings come from the frozen encoder's records, not a tuned one's
    assert docs.count("**Layer probes**") == 1 and "20 English sentences" in docs


def test_a_missing_tuning_is_named_with_the_command_that_makes_it(tmp_path):
    write_probe_runs(tmp_path, "frozen")
    found = tuning_curves(_records(tmp_path))
    assert [c.tuning for c in found.curves] == ["frozen"] and found.missing == ["lora", "full"]
    note = missing_tuning_text(found.missing)
    assert "LoRA baseline" in note and "fully tuned baseline" in note and TUNING_PROBES_COMMAND in note
    # docs/RESULTS.md keeps its block as it is until a tuned encoder has runs
    assert "Layers after tuning" not in "\n".join(layers_section(tmp_path))

    write_probe_runs(tmp_path, "lora")
    found = tuning_curves(_records(tmp_path))
    assert [c.tuning for c in found.curves] == ["frozen", "lora"] and found.missing == ["full"]
    note = missing_tuning_text(found.missing)
    assert "fully tuned baseline" in note and "LoRA baseline" not in note and TUNING_PROBES_COMMAND in note
    docs = "\n".join(layers_section(tmp_path))
    assert "**Layers after tuning**" in docs and note in docs


def test_curves_on_other_test_sentences_are_flagged(tmp_path):
    write_probe_runs(tmp_path, "frozen")
    write_probe_runs(tmp_path, "full", gold_word="Maria")
    found = tuning_curves(_records(tmp_path))
    assert [c.tuning for c in found.curves] == ["frozen", "full"] and not found.same_sentences
    assert "not every encoder on the same test sentences" in "\n".join(layers_section(tmp_path))


def _section(folder):
    """The Results tab's Layers section, built in a page of its own, and its values when opened."""
    import gradio as gr

    from ui.tabs.results_layer_probes import LayerProbesSection

    page = SimpleNamespace(services=SimpleNamespace(probe_runs_dir=folder, runs=SimpleNamespace(records=[])))
    with gr.Blocks():
        with gr.Tab("Results") as tab:
            section = LayerProbesSection(page, tab)
        section.wire(page)
    return {name: values for name, component in section.parts.items()
            for shown, values in section.on_open().items() if shown is component}


def test_the_results_section_shows_the_curves_side_by_side_or_says_what_is_missing(tmp_path):
    write_probe_runs(tmp_path, "frozen")
    shown = _section(tmp_path)
    assert "Not measured yet" in shown["tuning_note"] and TUNING_PROBES_COMMAND in shown["tuning_note"]
    for figure in (shown["tuning_english"], shown["tuning_targets"]):  # never an empty plot without a reason
        assert not figure.data and TUNING_PROBES_COMMAND in figure.layout.annotations[0].text
    assert shown["tuning_table"].data.empty
    assert shown["transfer"].data and len(shown["table"].data) == 2  # the frozen encoder's part as before

    write_probe_runs(tmp_path, "lora")
    write_probe_runs(tmp_path, "full")
    shown = _section(tmp_path)
    assert "Not measured yet" not in shown["tuning_note"] and "after full fine" in shown["tuning_note"]
    english, targets = shown["tuning_english"], shown["tuning_targets"]
    assert [trace.name for trace in english.data] == [
        "frozen encoder", "after LoRA tuning (baseline s13)", "after full fine-tuning (baseline s13)"]
    assert [list(trace.y) for trace in english.data] == [[50.0, 75.0], [50.0, 100.0], [50.0, 87.5]]
    assert [list(trace.y) for trace in targets.data] == [[25.0, 37.5], [25.0, 25.0], [25.0, 50.0]]
    assert english.layout.xaxis.title.text == "layer (0 = embeddings)"
    assert len(shown["tuning_table"].data) == 2


def test_fusion_probe_reads_a_lora_and_a_fully_tuned_tiny_tagger(tmp_path, tiny_bert):
    """The path `scripts/full_tuning.sh DATA probes` takes, on tiny taggers: train (LoRA, full), probe each
    tagger's encoder through the command line's own entry point, and the study code reads the records."""
    import torch

    from fusion.__main__ import main

    data = tmp_path / "panx"
    rng = random.Random(0)
    names = {"anna": "B-PER", "paris": "B-LOC"}
    for language, split, n in (("en", "train", 24), ("en", "dev", 8), ("en", "test", 6), ("de", "test", 6)):
        lines = []
        for _ in range(n):
            words = [rng.choice(["the", "a", "visited", "in"]) for _ in range(3)] + [rng.choice(list(names))]
            lines.append("\n".join(f"{language}:{w}\t{names.get(w, 'O')}" for w in words))
        (data / language).mkdir(parents=True, exist_ok=True)
        (data / language / f"{split}.tsv").write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    common = ["--data", str(data), "--encoder", tiny_bert]
    torch.manual_seed(0)
    for tuning, rate in (("lora", "1e-3"), ("full", "5e-5")):
        assert main(["train", "--output-dir", str(tmp_path / tuning), "--tuning", tuning, "--epochs", "1",
                     "--learning-rate", rate, "--seed", "13", "--batch-size", "8", *common]) == 0
        assert main(["probe", "--tagger", str(tmp_path / tuning), "--work-dir",
                     str(tmp_path / f"work-{tuning}"), "--runs-dir", str(tmp_path / "runs"), "--seeds", "13",
                     "--epochs", "1", *common]) == 0
    assert main(["probe", "--work-dir", str(tmp_path / "work-frozen"), "--runs-dir", str(tmp_path / "runs"),
                 "--seeds", "13", "--epochs", "1", *common]) == 0
    # a tagger of another encoder is refused: its curve would not be comparable with the frozen one
    assert main(["probe", "--tagger", str(tmp_path / "full"), "--data", str(data), "--seeds", "13",
                 "--work-dir", str(tmp_path / "w"), "--runs-dir", str(tmp_path / "r")]) == 2

    records = _records(tmp_path / "runs")
    layers = 3 + 1  # the tiny encoder's hidden states
    assert sorted(r["name"] for r in records if r["name"].endswith("-l0-s13")) == [
        "probe-full-baseline-l0-s13", "probe-l0-s13", "probe-lora-baseline-l0-s13"]
    found = tuning_curves(records)
    assert [c.tuning for c in found.curves] == ["frozen", "lora", "full"] and found.missing == []
    assert found.same_sentences and all(len(curve.rows) == layers for curve in found.curves)
    assert all(curve.rows[0].languages == 1 for curve in found.curves)  # de, besides English
    # the tuned encoders' features differ from the frozen one's at the last layer (LoRA merged; all weights)
    from safetensors.torch import load_file

    features = {name: load_file(str(tmp_path / f"work-{name}" / "features-en-train.safetensors"))["features"]
                for name in ("frozen", "lora", "full")}
    for tuned in ("lora", "full"):
        assert not torch.equal(features[tuned][:, -1], features["frozen"][:, -1])
    assert "**Layers after tuning**" in "\n".join(layers_section(tmp_path / "runs"))
