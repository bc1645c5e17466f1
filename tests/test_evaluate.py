import json
from pathlib import Path

import pytest

from fusion.data.ner import read_conll
from fusion.evaluation.evaluate import EvaluateOptions, dataset_hash, run_evaluation, score_tags
from fusion.evaluation.runs import RunRecordError, load_runs, runs_dataframe, validate_run

GOLD = """John\tB-PER\nSmith\tI-PER\nlives\tO\nin\tO\nParis\tB-LOC

Acme\tB-ORG\nCorp\tI-ORG\nhired\tO\nMary\tB-PER

Berlin\tB-LOC\nis\tO\nbig\tO
"""
PREDICTED = """John\tB-PER\nSmith\tI-PER\nlives\tO\nin\tO\nParis\tB-ORG

Acme\tB-ORG\nCorp\tO\nhired\tO\nMary\tB-PER

Berlin\tI-LOC\nis\tO\nbig\tO
"""


def test_exact_scores_of_a_hand_made_file(tmp_path):
    (tmp_path / "gold.tsv").write_text(GOLD)
    (tmp_path / "pred.tsv").write_text(PREDICTED)
    gold = read_conll(tmp_path / "gold.tsv")["ner_tags"]
    predicted = [list(s) for s in read_conll(tmp_path / "pred.tsv")["ner_tags"]]
    predicted[2][0] = "I-LOC"  # the reader would repair IOB1; keep the invalid start on purpose
    scores = score_tags(gold, predicted)
    # by hand: gold entities PER×2, LOC×2, ORG×1 = 5; predicted PER×2 (right), ORG "Paris" (wrong
    # type), ORG "Acme" (wrong span); the strict scheme does not count "I-LOC" as an entity start.
    assert scores["precision"] == pytest.approx(2 / 4)
    assert scores["recall"] == pytest.approx(2 / 5)
    assert scores["f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert scores["support"] == 5
    assert scores["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert scores["per_type"]["LOC"]["recall"] == 0.0 and scores["per_type"]["LOC"]["support"] == 2
    assert scores["per_type"]["ORG"]["precision"] == 0.0


def test_perfect_and_empty_predictions():
    gold = [["B-PER", "I-PER", "O"], ["O"]]
    assert score_tags(gold, gold)["f1"] == 1.0
    assert score_tags(gold, [["O", "O", "O"], ["O"]])["f1"] == 0.0
    with pytest.raises(ValueError, match="same sentences"):
        score_tags(gold, [["O"]])


def test_run_evaluation_writes_a_record_of_exactly_what_was_evaluated(tmp_path, tiny_checkpoints):
    for lang in ("en", "de"):
        (tmp_path / "data" / lang).mkdir(parents=True)
        (tmp_path / "data" / lang / "test.tsv").write_text(GOLD)
    output = tmp_path / "runs" / "run.json"
    record = run_evaluation(EvaluateOptions(
        checkpoint=tiny_checkpoints["fusion"], data=str(tmp_path / "data"), max_sentences=2,
        output=str(output)), show_progress=False)
    stored = json.loads(output.read_text())
    assert stored["data"]["sentences"] == {"de": 2, "en": 2}
    assert stored["data"]["max_sentences_per_language"] == 2
    sentences = read_conll(tmp_path / "data" / "en" / "test.tsv", max_sentences=2)
    assert stored["data"]["sha256"]["en"] == dataset_hash(sentences["tokens"], sentences["ner_tags"])
    assert stored["checkpoint"]["model"] == "fusion-l1" and stored["checkpoint"]["fusion_layer"] == 1
    assert len(stored["checkpoint"]["sha256"]) == 64
    assert stored["average_f1"] == pytest.approx(
        (record["scores"]["en"]["f1"] + record["scores"]["de"]["f1"]) / 2)
    assert stored["average_f1_targets"] == pytest.approx(record["scores"]["de"]["f1"])
    frame = runs_dataframe(load_runs(tmp_path / "runs")[0])
    assert sorted(frame["language"]) == ["de", "en"] and set(frame["sentences"]) == {2}


def _valid_record():
    return {"schema_version": 1, "name": "r", "study": "zero-shot",
            "checkpoint": {"path": "c", "sha256": "0" * 64, "encoder": "e", "model": "baseline",
                           "fusion_layer": None},
            "data": {"source": "d", "split": "test", "sentences": {"en": 3}},
            "scores": {"en": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "per_type": {}}},
            "average_f1": 0.5}


@pytest.mark.parametrize("breakage, message", [
    (lambda r: r.pop("scores"), "missing field 'scores'"),
    (lambda r: r.update(schema_version=7), "schema_version 7"),
    (lambda r: r["scores"]["en"].update(f1=1.5), r"scores.en.f1 must be a number between 0 and 1"),
    (lambda r: r["scores"]["en"].update(f1="high"), r"scores.en.f1"),
    (lambda r: r["data"]["sentences"].pop("en"), "sentences.en must be a sentence count"),
    (lambda r: r["checkpoint"].update(fusion_layer="8"), "fusion_layer must be an integer"),
    (lambda r: r["data"].update(split="valid"), "split must be train, dev or test"),
    (lambda r: r.update(scores={}), "scores is empty"),
    (lambda r: r.update(checkpoint=[]), "checkpoint must be dict"),
    (lambda r: r.update(study="vibes"), "study must be one of"),
    (lambda r: r.pop("study"), "missing field 'study'"),
    (lambda r: r["checkpoint"].update(training={"train_sentences": "20000"}), "train_sentences must be a whole number"),
    (lambda r: r["data"].update(max_sentences_per_language=0), "max_sentences_per_language"),
    (lambda r: r["scores"]["en"].update(per_type=[]), "per_type must be an object"),
])
def test_records_of_the_wrong_shape_are_rejected_with_the_field_named(breakage, message):
    record = _valid_record()
    validate_run(record)
    breakage(record)
    with pytest.raises(RunRecordError, match=message):
        validate_run(record, source="x.json")


def test_a_broken_file_in_a_folder_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps(_valid_record()))
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "list.json").write_text("[]")
    records, warnings = load_runs(tmp_path)
    assert [r["file"] for r in records] == ["good.json"]
    assert len(warnings) == 2 and [w.file for w in warnings] == ["bad.json", "list.json"]
    assert str(tmp_path) not in warnings[0].message


def test_files_that_are_not_plain_files_are_refused(tmp_path):
    import os

    (tmp_path / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    records, warnings = load_runs(tmp_path)  # returns at once: nothing is read from a FIFO
    assert records == [] and {w.file for w in warnings} == {"zero.json", "fifo.json", "deep.json"}


def test_shipped_run_records_are_valid():
    folder = Path(__file__).resolve().parents[1] / "assets" / "runs"
    records, warnings = load_runs(folder)
    assert warnings == []


def test_shipped_runs_cite_the_shipped_checkpoints_by_their_current_hash():
    """A stored run of a shipped checkpoint must describe the files that are in the repository."""
    from fusion.model.checkpoint import checkpoint_hash

    repo = Path(__file__).resolve().parents[1]
    records, _ = load_runs(repo / "assets" / "runs")
    shipped = [r for r in records if r["checkpoint"]["path"].startswith("checkpoints/")]
    assert len(shipped) >= 2  # the baseline and the fusion model
    for record in shipped:
        assert record["checkpoint"]["sha256"] == checkpoint_hash(repo / record["checkpoint"]["path"]), \
            record["file"]
