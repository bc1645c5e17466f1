"""Sentence-pair transfer (XNLI, PAWS-X): the data join, the held-out split, the classifier, its
checkpoint, training, the run record and the stored comparison, on tiny files and a tiny encoder."""

import json
from dataclasses import replace

import pytest
import torch
from conftest import XNLI_LABELS, write_pawsx, write_xnli

from fusion.data import pairs as pair_data
from fusion.data.pairs import english_pairs, held_out, pair_languages, read_pairs
from fusion.evaluation import runs
from fusion.evaluation.pairs import PairEvaluateOptions, evaluate_pairs
from fusion.model.checkpoint import CheckpointError, load_pair_classifier, load_tagger, save_tagger
from fusion.model.modeling import PAIR_TASKS, TaggerConfig, TokenTagger
from fusion.model.pairs import PairClassifier, PairConfig
from fusion.studies.four_tasks import TaskRow, accuracy_row, claims, four_task_table, gain_verdict
from fusion.studies.pos_results import pos_results, save_layer_choice
from fusion.tagging.pairs import MAX_PAIR_TOKENS, classify_pairs, encode_pairs
from fusion.training.pairs import PairTrainOptions, train_pairs


def test_xnli_test_labels_come_from_the_german_copy_row_by_row(tmp_path):
    labels = write_xnli(tmp_path)
    pairs = read_pairs(tmp_path, "xnli", "de", "test")
    assert [XNLI_LABELS[p.label] for p in pairs] == labels
    assert pairs[0].first == "premise number 0 is here" and pairs[0].second == "hypothesis 0"  # CRLF gone
    assert len(read_pairs(tmp_path / "xnli", "xnli", "en", "dev", limit=5)) == 5
    assert pair_languages(tmp_path, "xnli", "dev") == ["de", "en"]


def test_the_held_out_english_pairs_share_no_premise_with_training(tmp_path):
    write_xnli(tmp_path, n=400)
    train, held = english_pairs(tmp_path, "xnli")
    assert len(train) + len(held) == 400 and 0 < len(held) < 200
    assert not {p.first for p in train} & {p.first for p in held}
    assert all(held_out(p) for p in held)


def test_pawsx_reads_quoted_fields_and_has_test_labels_for_de_and_zh_only(tmp_path):
    write_pawsx(tmp_path)
    (first, second) = read_pairs(tmp_path, "pawsx", "en", "dev")
    assert first.first == 'He said "yes" .' and first.label == 1 and second.label == 0
    assert [p.label for p in read_pairs(tmp_path, "pawsx", "de", "test")] == [1, 0]
    assert [p.label for p in read_pairs(tmp_path, "pawsx", "zh", "test")] == [0, 1]
    assert pair_languages(tmp_path, "pawsx", "test") == ["de", "zh"]
    with pytest.raises(ValueError, match="de, zh only"):
        read_pairs(tmp_path, "pawsx", "fr", "test")


def test_bad_pair_data_is_one_clear_error(tmp_path):
    write_xnli(tmp_path)
    (tmp_path / "xnli" / "dev-en.tsv").write_text("a\tb\tmaybe\n", encoding="utf-8")
    with pytest.raises(ValueError, match="'maybe' is not one of entailment"):
        read_pairs(tmp_path, "xnli", "en", "dev")
    (tmp_path / "xnli" / "xglue-de" / "test.txt").write_text("a\tb\tneutral\n", encoding="utf-8")
    with pytest.raises(ValueError, match="pairs but 1 labels"):
        read_pairs(tmp_path, "xnli", "en", "test")
    with pytest.raises(ValueError, match="no pawsx data folder"):
        read_pairs(tmp_path, "pawsx", "en", "dev")


def test_online_the_english_sets_come_from_the_hub(monkeypatch):
    """The hub path, offline: `datasets.load_dataset` answers from a tiny in-memory fixture."""
    import datasets

    asked = []

    def fake_load(name, config=None, split=None):
        asked.append((name, config, split))
        return [{"premise": "p", "hypothesis": "h", "label": 2}, {"premise": "q", "hypothesis": "h", "label": -1}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    train, held = english_pairs(pair_data.HUB, "xnli")
    assert [(p.first, p.label) for p in train] == [("p", 2)]  # MultiNLI's unlabelled -1 left out
    assert asked == [("nyu-mll/multi_nli", None, "train"), ("nyu-mll/multi_nli", None, "validation_matched")]


def test_the_pair_config_is_its_own_type_and_checks_its_labels():
    assert PairConfig(task="pawsx").labels == ["0", "1"]
    with pytest.raises(ValueError, match="task must be one of"):
        PairConfig(task="ner")
    with pytest.raises(ValueError, match="task must be one of"):
        TaggerConfig(task="xnli")
    with pytest.raises(ValueError, match="has the labels"):
        PairConfig(task="xnli", labels=["contradiction", "neutral", "entailment"])
    with pytest.raises(ValueError, match="pooling"):
        PairConfig(pooling="max")
    assert runs.PAIR_TASKS == tuple(PAIR_TASKS)  # the torch-free copy of the names


@pytest.mark.parametrize("fusion_layer", [None, 1])
def test_a_pair_classifier_round_trips_and_a_tagger_is_not_one(tiny_bert, tmp_path, fusion_layer):
    torch.manual_seed(0)
    classifier = PairClassifier(PairConfig(encoder=tiny_bert, fusion_layer=fusion_layer, dropout=0.0)).eval()
    pairs = [("Angela Merkel visited Paris.", "Merkel was in Paris."), ("北京", "Berlin is big.")]
    labels, probabilities, cut = classify_pairs(classifier, pairs)
    assert probabilities.shape == (2, 3) and cut == 0
    assert torch.allclose(probabilities.sum(-1), torch.ones(2))
    save_tagger(classifier, tmp_path / "pair")
    loaded = load_pair_classifier(tmp_path / "pair", task="xnli", merge=False)
    assert torch.allclose(classify_pairs(loaded, pairs)[1], probabilities, atol=1e-5)
    assert isinstance(load_tagger(tmp_path / "pair"), PairClassifier)
    with pytest.raises(CheckpointError, match="not pawsx"):
        load_pair_classifier(tmp_path / "pair", task="pawsx")
    save_tagger(TokenTagger(TaggerConfig(encoder=tiny_bert)), tmp_path / "tagger")
    with pytest.raises(CheckpointError, match="not a sentence-pair classifier"):
        load_pair_classifier(tmp_path / "tagger")
    info = json.loads((tmp_path / "pair" / "tagger_config.json").read_text())
    info["config"]["pooling"] = "first"  # an edited config no longer proves itself
    (tmp_path / "pair" / "tagger_config.json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="fingerprint does not match"):
        load_pair_classifier(tmp_path / "pair")


def test_a_pair_longer_than_the_bound_is_cut_and_counted(tiny_bert, make_tagger):
    classifier = PairClassifier(PairConfig(encoder=tiny_bert))
    ids, cut = encode_pairs(classifier, [("Paris " * 400, "Berlin"), ("a", "b")])
    assert cut == 1 and len(ids[0]) == MAX_PAIR_TOKENS and len(ids[1]) < 10


def test_training_keeps_the_best_held_out_epoch_and_resumes(tiny_bert, tmp_path):
    write_xnli(tmp_path, n=120)
    options = PairTrainOptions(output_dir=str(tmp_path / "run"), data=str(tmp_path), encoder=tiny_bert,
                               fusion_layer=1, epochs=1, batch_size=8, save_every=5)
    summary = train_pairs(options, show_progress=False)
    saved = json.loads((tmp_path / "run" / "tagger_config.json").read_text())
    training = saved["training"]
    assert summary["best_epoch"] == 1 and training["dev_accuracy"] == summary["best_dev_accuracy"]
    assert training["train_pairs"] + training["held_out_pairs"] == 120 and training["train_pairs_cut"] == 0
    assert load_pair_classifier(tmp_path / "run").config.fusion_layer == 1
    again = train_pairs(options, show_progress=False)  # finished: resumes at the end, trains nothing
    assert again["history"] == summary["history"]
    # another run in the same folder would continue this one's state under its own settings
    with pytest.raises(ValueError, match=r"learning_rate: 0\.001 there, 0\.0003 now"):
        train_pairs(replace(options, learning_rate=3e-4), show_progress=False)
    assert json.loads((tmp_path / "run" / "tagger_config.json").read_text()) == saved


def test_pair_runs_are_run_records_and_compare_with_intervals(tiny_bert, tmp_path):
    write_xnli(tmp_path, n=60)
    folder = tmp_path / "pair_runs"
    folder.mkdir()
    for model, layer in (("baseline", None), ("fusion-l1", 1)):
        torch.manual_seed(3)
        classifier = PairClassifier(PairConfig(encoder=tiny_bert, fusion_layer=layer))
        save_tagger(classifier, tmp_path / model, extra={"training": {"seed": 13, "language": "en"}})
        record = evaluate_pairs(PairEvaluateOptions(checkpoint=str(tmp_path / model), data=str(tmp_path),
                                                    output=str(folder / f"xnli-{model}-s13.json")))
        assert record["task"] == "xnli" and record["data"]["split"] == "dev"
        assert record["data"]["sentences"] == {"de": 30, "en": 30} and record["average_accuracy_targets"] == \
            record["scores"]["de"]["accuracy"]
    loaded = runs.load_run(folder / "xnli-fusion-l1-s13.json")  # the sidecar checked against the scores
    assert loaded["study"] == runs.PAIRS_STUDY
    save_layer_choice(folder / "xnli-dev-s13.json", 13, {"fusion-l1": 0.5})
    (found,) = pos_results(folder, task="xnli")
    assert found.chosen == "fusion-l1" and {d.language for d in found.deltas} == {"de", "en", "average"}
    assert all(d.low <= d.delta <= d.high for d in found.deltas)
    assert pos_results(folder) == []  # the POS view never reads pair runs
    row = accuracy_row(folder, "xnli")  # the four-task table's XNLI row
    assert (row.seeds, row.languages, row.best_k, row.fusion_model) == (1, 1, "1", "fusion-l1")
    assert row.low <= row.delta <= row.high
    from fusion.studies.report import pair_section

    section = "\n".join(pair_section(folder, "xnli"))  # RESULTS.md's per-language table
    assert section.startswith("**XNLI zero-shot**") and "| de |" in section and "fusion-l1" in section
    assert pair_section(folder, "pawsx") == []


def _row(task, delta, low, high, best_k):
    return TaskRow(task, "accuracy", 3, 10, 70.0, 70.0 + delta, delta, low, high, f"fusion-l{best_k}", best_k, 0, 0)


def test_the_paper_claims_are_judged_from_the_intervals_and_the_layers():
    in_range = [_row("ner", 1.5, 0.5, 2.5, "11"), _row("xnli", 2.0, 1.0, 3.0, "8")]
    first, second, missing = claims(in_range)
    assert missing.startswith("Not measured yet: POS (UD), PAWS-X")
    assert first.startswith("Claim 1, a 1–3 point gain on each task: holds") and "k = 8" in second
    assert "holds here" in second
    first, second, _ = claims([_row("ner", 0.4, -0.2, 1.0, "11"), _row("pos", 0.9, 0.6, 1.3, "11")])
    assert "does not hold" in first and "interval includes 0" in first and "smaller than" in first
    assert "does not hold here" in second
    assert "not testable" in claims([_row("ner", 0.4, -0.2, 1.0, "11")])[1]
    assert gain_verdict(_row("pawsx", -2.0, -3.0, -1.0, "2")) == "a loss"
    assert list(four_task_table(in_range)["task"]) == ["NER (WikiANN)", "XNLI"]


@pytest.mark.parametrize("pooling", ["mean", "first"])
def test_packed_pairs_get_the_padded_forwards_probabilities(tiny_bert, pooling):
    """Scoring packs pairs into rows (and may run on ONNX Runtime); training pads them: the same answer."""
    from fusion.tagging.batching import pad_batch

    torch.manual_seed(0)
    classifier = PairClassifier(PairConfig(encoder=tiny_bert, fusion_layer=1, pooling=pooling)).eval()
    pairs = [("Angela Merkel visited Paris.", "Merkel was in Paris."), ("北京", "Berlin is big."), ("a", "b")]
    ids, _ = encode_pairs(classifier, pairs)
    _, packed, _ = classify_pairs(classifier, pairs)
    with torch.no_grad():
        batch = pad_batch(ids, classifier.tokenizer.pad_token_id)
        padded = classifier(batch["input_ids"], batch["attention_mask"]).logits.softmax(-1)
    assert torch.allclose(packed, padded, atol=1e-5)


def test_a_pair_classifier_runs_on_onnx_runtime_with_the_same_answers(tiny_bert):
    from fusion.model.onnx_runtime import attach_runtime

    torch.manual_seed(0)
    classifier = PairClassifier(PairConfig(encoder=tiny_bert, fusion_layer=1)).eval()
    pairs = [("Angela Merkel visited Paris.", "Merkel was in Paris."), ("北京", "Berlin is big.")]
    _, on_torch, _ = classify_pairs(classifier, pairs)
    attached = attach_runtime(classifier)
    assert attached.error is None and classifier.runtime is not None
    _, on_onnx, _ = classify_pairs(classifier, pairs)
    assert torch.allclose(on_onnx, on_torch, atol=1e-4)


def test_each_tasks_layer_sweep_is_shown_beside_the_others(tmp_path):
    from fusion.studies.four_tasks import layer_sweeps
    from fusion.studies.pos_results import save_layer_choice

    save_layer_choice(tmp_path / "pos-dev-s13.json", 13, {"fusion-l2": 0.90, "fusion-l11": 0.93})
    save_layer_choice(tmp_path / "xnli-dev-s13.json", 13, {"fusion-l2": 0.70, "fusion-l10": 0.71})
    table = layer_sweeps([], tmp_path, tmp_path)
    assert list(table.columns) == ["k", "POS (UD)", "XNLI"] and list(table["k"]) == [2, 10, 11]
    rows = table.set_index("k")
    assert rows.loc[11, "POS (UD)"] == "93.0 (+0.0)" and rows.loc[2, "POS (UD)"] == "90.0 (-3.0)"
    assert rows.loc[10, "XNLI"] == "71.0 (+0.0)" and rows.loc[11, "XNLI"] == "–"
