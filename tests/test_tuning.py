"""LoRA against full fine-tuning (fusion/studies/tuning.py), on synthetic runs with sidecars."""

import random
import zlib

from fusion.evaluation.predictions import Sidecar, build_language, f1_from_counts, write_sidecar
from fusion.evaluation.runs import runs_dataframe, training_recipe
from fusion.studies.tuning import tuning_rows, tuning_table

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
TYPES = ["PER", "LOC"]
LANGUAGES = {"en": "e1", "de": "d1", "sw": "s1"}


def _record(folder, name, study, model, seed, quality, gold, tuning="lora", cap=1000):
    rng = random.Random(zlib.crc32(name.encode()))
    items = {}
    for language, digest in LANGUAGES.items():
        predicted = [[t if rng.random() < quality else rng.choice(LABELS) for t in s] for s in gold[language]]
        items[language] = build_language(LABELS, TYPES, gold[language], predicted, digest)
    sidecar = Sidecar(LABELS, TYPES, items)
    write_sidecar(folder / f"{name}.predictions.json.gz", sidecar)
    scores = {lang: {"precision": 0.5, "recall": 0.5, "f1": f1_from_counts(item.counts)} for lang, item in items.items()}
    training = {"language": "en", "train_sentences": 20000, "epochs": 3, "seed": seed, "tuning": tuning}
    return {"name": name, "study": study, "seed": seed,
            "checkpoint": {"model": model, "fusion_layer": None if model == "baseline" else 11,
                           "sha256": "0" * 64, "encoder": "e5", "training": training},
            "data": {"split": "test", "max_sentences_per_language": cap, "source": "x",
                     "sentences": {k: 120 for k in LANGUAGES}, "sha256": dict(LANGUAGES)},
            "scores": scores, "predictions": {"file": f"{name}.predictions.json.gz"}}


def _gold(rng):
    return [[rng.choice(["O", "B-PER", "B-LOC"]) for _ in range(6)] for _ in range(120)]


def test_each_tuning_gets_its_own_delta_and_interval(tmp_path):
    rng = random.Random(0)
    gold = {language: _gold(rng) for language in LANGUAGES}
    records = []
    for seed in (13, 14, 15):
        # LoRA: fusion no better than the baseline; full tuning: fusion clearly better
        records += [_record(tmp_path, f"baseline-s{seed}", "zero-shot", "baseline", seed, 0.7, gold),
                    _record(tmp_path, f"fusion-l11-s{seed}", "zero-shot", "fusion-l11", seed, 0.7, gold),
                    _record(tmp_path, f"ft-baseline-s{seed}", "full-tuning", "baseline", seed, 0.6, gold, "full"),
                    _record(tmp_path, f"ft-fusion-l11-s{seed}", "full-tuning", "fusion-l11", seed, 0.9, gold,
                            "full")]
    # a LoRA run on other sentences (the whole test sets) is not the full-tuning runs' counterpart
    records.append(_record(tmp_path, "whole-baseline-s13", "zero-shot", "baseline", 13, 0.2, gold, cap=None))
    for layer, dev, tuning in ((11, 0.9, "lora"), (3, 0.5, "full"), (7, 0.6, "full")):  # each tuning's own sweep
        sweep = _record(tmp_path, f"sweep-{tuning}-l{layer}", "layer-sweep", f"fusion-l{layer}", 13, 0.5, gold, tuning)
        sweep["checkpoint"].update(fusion_layer=layer)
        sweep["checkpoint"]["training"]["dev_f1"] = dev
        records.append(sweep)
    lora, full = tuning_rows(records, tmp_path, "fusion-l11")
    assert (lora.best_layer, full.best_layer) == (11, 7)
    assert (lora.tuning, full.tuning) == ("lora", "full") and lora.seeds == full.seeds == 3
    assert full.delta.low > 0 and full.up == 2 and full.down == 0
    assert lora.delta.low < full.delta.low and lora.baseline.mean > full.baseline.mean
    table = tuning_table([lora, full])
    assert list(table["tuning"]) == ["LoRA adapters", "full fine-tuning"]
    assert table["Δ targets"][1] > 10
    from fusion.studies.report import tuning_section

    section = tuning_section(records, tmp_path)  # what docs/RESULTS.md prints
    assert section[0].startswith("**LoRA adapters against full fine-tuning**")
    assert [line.split(" | ")[0] for line in section[-3:-1]] == ["| LoRA adapters", "| full fine-tuning"]


def test_no_full_tuning_runs_no_rows_and_the_recipe_names_the_tuning(tmp_path):
    rng = random.Random(1)
    gold = {language: _gold(rng) for language in LANGUAGES}
    lora = _record(tmp_path, "baseline-s13", "zero-shot", "baseline", 13, 0.7, gold)
    full = _record(tmp_path, "ft-baseline-s13", "full-tuning", "baseline", 13, 0.7, gold, "full")
    assert tuning_rows([lora], tmp_path, "fusion-l11") == []
    assert training_recipe(lora) == "en 20000 sent × 3 ep"  # the shipped groups keep their names
    assert training_recipe(full) == "en 20000 sent × 3 ep, full tuning"
    assert set(runs_dataframe([lora, full])["recipe"]) == {training_recipe(lora), training_recipe(full)}


def test_the_results_section_says_when_there_are_no_full_tuning_runs_and_shows_both_when_there_are(tmp_path):
    from ui.tabs import results_tuning

    note, table = results_tuning.view(tmp_path, [])
    assert "No full fine-tuning runs" in note and table.empty
    rng = random.Random(2)
    gold = {language: _gold(rng) for language in LANGUAGES}
    records = [_record(tmp_path, f"{prefix}{model}-s{seed}", study, model, seed, 0.7, gold, tuning)
               for seed in (13, 14) for model in ("baseline", "fusion-l11")
               for prefix, study, tuning in (("", "zero-shot", "lora"), ("ft-", "full-tuning", "full"))]
    note, table = results_tuning.view(tmp_path, records)
    assert "en 20000 sent × 3 ep" in note and list(table["seeds"]) == [2, 2]
