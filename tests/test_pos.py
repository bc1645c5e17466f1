"""POS as a second target task: UD-POS reading, UPOS accuracy, a tiny POS tagger trained and
scored zero-shot, and the paired comparison of two POS runs."""

import json
import random

import numpy as np
import pytest
import torch

from fusion.data.ner import DataFormatError
from fusion.data.upos import UPOS_TAGS, read_upos
from fusion.evaluation.pos import PosEvaluateOptions, accuracy, evaluate_pos, sentence_counts
from fusion.evaluation.runs import load_run
from fusion.model.checkpoint import load_tagger
from fusion.model.modeling import TaggerConfig, TokenTagger
from fusion.studies.pos_results import compare_pos, compare_pos_seeds, load_pos_run, pos_results, pos_table
from fusion.studies.report import pos_section
from fusion.training.train import TrainOptions, train

# word -> its UPOS tag: a toy language where the tag follows from the word
LEXICON = {"the": "DET", "a": "DET", "cat": "NOUN", "dog": "NOUN", "house": "NOUN", "runs": "VERB",
           "sleeps": "VERB", "big": "ADJ", "small": "ADJ", ".": "PUNCT", "Anna": "PROPN"}


def _write(folder, language, split, sentences):
    path = folder / language / f"{split}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sentences) + "\n",
                    encoding="utf-8")
    return path


def _toy_sentences(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(["the", "a"]), rng.choice(["big", "small"]),
                 rng.choice(["cat", "dog", "house"]), rng.choice(["runs", "sleeps"]), "."]
        out.append([(w, LEXICON[w]) for w in words])
    return out


def test_upos_accuracy_on_a_hand_made_file(tmp_path):
    _write(tmp_path, "xx", "test", [[("Anna", "PROPN"), ("runs", "VERB"), (".", "PUNCT")],
                                    [("the", "DET"), ("big", "ADJ"), ("dog", "NOUN"), ("sleeps", "VERB")]])
    dataset = read_upos(tmp_path, "xx", "test")
    assert dataset["tokens"][0] == ["Anna", "runs", "."] and dataset["ner_tags"][1][2] == "NOUN"
    predicted = [["PROPN", "NOUN", "PUNCT"], ["DET", "ADJ", "NOUN", "NOUN"]]
    counts = sentence_counts(dataset["ner_tags"], predicted)
    assert counts == [(2, 3), (3, 4)] and accuracy(counts) == pytest.approx(5 / 7)
    assert read_upos(tmp_path, "xx", "test", max_sentences=1).num_rows == 1
    _write(tmp_path, "yy", "test", [[("Anna", "B-PER")]])
    with pytest.raises(DataFormatError, match="not UPOS"):
        read_upos(tmp_path, "yy", "test")
    with pytest.raises(ValueError, match="same sentences"):
        sentence_counts(dataset["ner_tags"], predicted[:1])


def test_a_tiny_pos_tagger_learns_and_is_scored_zero_shot(tmp_path, tiny_bert):
    data = tmp_path / "udpos"
    _write(data, "en", "train", _toy_sentences(96, 0))
    _write(data, "en", "dev", _toy_sentences(16, 1))
    _write(data, "en", "test", _toy_sentences(16, 2))
    _write(data, "xx", "test", _toy_sentences(12, 3))
    torch.manual_seed(0)
    tagger = TokenTagger(TaggerConfig(encoder=tiny_bert, fusion_layer=1, tuning="full", task="pos",
                                      labels=list(UPOS_TAGS)))
    options = TrainOptions(output_dir=str(tmp_path / "pos"), data=str(data), task="pos", epochs=3,
                           batch_size=16, learning_rate=3e-3, seed=5)
    summary = train(options, show_progress=False, tagger=tagger)
    assert summary["best_dev_accuracy"] > 0.9  # the tag follows from the word: learnable
    loaded = load_tagger(tmp_path / "pos")
    assert loaded.config.task == "pos" and loaded.checkpoint_info["training"]["dev_accuracy"] > 0.9

    output = tmp_path / "runs" / "pos-fusion.json"
    record = evaluate_pos(PosEvaluateOptions(checkpoint=str(tmp_path / "pos"), data=str(data),
                                             output=str(output)))
    assert set(record["scores"]) == {"en", "xx"} and record["scores"]["xx"]["accuracy"] > 0.9
    assert record["average_accuracy_targets"] == record["scores"]["xx"]["accuracy"]
    assert record["scores"]["xx"]["support"] == 12 * 5  # words scored
    # the one run-record format: task and study pos, the sidecar beside it as NAME.predictions.json.gz
    assert (record["schema_version"], record["task"], record["study"]) == (1, "pos", "pos")
    assert record["predictions"]["file"] == "pos-fusion.predictions.json.gz" and "versions" in record
    assert load_run(output) == record
    loaded_record, counts = load_pos_run(output)
    assert loaded_record == record and counts["xx"].shape == (12, 2)
    itself = compare_pos((record, counts), (record, counts))
    assert [d.language for d in itself] == ["en", "xx", "average"]
    assert all(d.delta == d.low == d.high == 0 for d in itself)

    # the stored comparison as the README and the app read it: a layer choice and both runs
    folder = output.parent
    for name in ("pos-baseline-s5", "pos-fusion-l1-s5"):
        evaluate_pos(PosEvaluateOptions(checkpoint=str(tmp_path / "pos"), data=str(data),
                                        output=str(folder / f"{name}.json")))
    (folder / "pos-dev-s5.json").write_text(json.dumps(
        {"chosen": "fusion-l1", "english_dev_accuracy": {"fusion-l1": 0.95}, "seed": 5}))
    (found,) = pos_results(folder)
    assert found.chosen == "fusion-l1" and found.deltas[-1].language == "average"
    text = "\n".join(pos_section(folder))
    assert "| fusion-l1 |" in text and "**average of targets**" in text and "k: seed 5: 1: 95.00" in text
    from ui.tabs.results_intermediate import pos_view

    note, table = pos_view(folder)  # the Results tab's table
    for name in ("pos-baseline-s6", "pos-fusion-l1-s6"):  # a second seed: one table over both
        (folder / f"{name}.json").write_text((folder / f"{name[:-1]}5.json").read_text())
    (folder / "pos-dev-s6.json").write_text(json.dumps(
        {"chosen": "fusion-l1", "english_dev_accuracy": {"fusion-l1": 0.9}, "seed": 6}))
    text = "\n".join(pos_section(folder))
    assert "seeds 5, 6" in text and text.count("**average of targets**") == 1
    assert "Target-average Δ per seed: seed 5 +0.00" in text and "seed 6: 1: 90.00" in text
    assert "fusion\\-l1: 95\\.0" in note and "all test sentences" in note and list(table["language"]) == ["en", "xx", "average"]


def test_a_ner_checkpoint_is_not_scored_as_pos(tmp_path, tiny_bert):
    tagger = TokenTagger(TaggerConfig(encoder=tiny_bert))
    with pytest.raises(ValueError, match="not a POS tagger"):
        evaluate_pos(PosEvaluateOptions(checkpoint="ner", data=str(tmp_path)), tagger=tagger)
    with pytest.raises(ValueError, match="task must be one of"):
        TaggerConfig(encoder=tiny_bert, task="chunking")


def test_the_paired_comparison_finds_a_real_difference_and_only_on_shared_sentences():
    rng = np.random.default_rng(0)
    words = rng.integers(5, 20, size=300)

    def run(share, hashes):
        correct = rng.binomial(words, share)
        counts = {k: np.stack([correct, words], axis=1) for k in ("en", "de", "zh")}
        record = {"data": {"sha256": hashes},
                  "scores": {k: {"accuracy": accuracy(v.tolist())} for k, v in counts.items()}}
        return record, counts

    baseline = run(0.6, {"en": "e", "de": "d", "zh": "z"})
    fusion = run(0.7, {"en": "e", "de": "d", "zh": "other sentences"})
    deltas = {d.language: d for d in compare_pos(baseline, fusion)}
    assert set(deltas) == {"en", "de", "average"}  # zh was scored on other sentences
    assert deltas["de"].low > 0 and 5 < deltas["de"].delta < 15
    assert deltas["average"].delta == pytest.approx(deltas["de"].delta)  # de is the only target
    table = pos_table(list(deltas.values()))
    assert list(table["language"]) == ["en", "de", "average"]

    # pooled over seeds: the means, with seed noise inside the interval
    noisy = [(run(0.6, {"en": "e", "de": "d", "zh": "z"}), run(share, {"en": "e", "de": "d", "zh": "z"}))
             for share in (0.6, 0.7, 0.8)]
    pooled = {d.language: d for d in compare_pos_seeds(noisy)}
    one_seed = {d.language: d for d in compare_pos(*noisy[1])}
    assert set(pooled) == {"en", "de", "zh", "average"}
    means = [np.mean([100 * accuracy(pair[i][1]["de"].tolist()) for pair in noisy]) for i in (0, 1)]
    assert pooled["de"].baseline == pytest.approx(means[0]) and pooled["de"].fusion == pytest.approx(means[1])
    assert pooled["de"].high - pooled["de"].low > 2 * (one_seed["de"].high - one_seed["de"].low)
    assert pooled["de"].low < pooled["de"].delta < pooled["de"].high
