"""fusion.evaluation.error_analysis: the kinds of mistake, differing sentences, and stored runs' sentences."""

from pathlib import Path

import pytest

from fusion.evaluation.error_analysis import (MISSED, SPURIOUS, WRONG_BOUNDARY, WRONG_TYPE, EntityError,
                                              differing_sentences, entity_errors, error_counts, read_sample,
                                              select, stored_views, write_sample)

REPO = Path(__file__).resolve().parents[1]


def test_each_kind_of_mistake_on_hand_made_tags():
    gold = ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O", "O"]
    pred = ["B-PER", "O", "O", "B-ORG", "O", "O", "O", "O", "B-LOC"]
    assert [(e.kind, e.label, e.start, e.end) for e in entity_errors(gold, pred)] == [
        (WRONG_BOUNDARY, "PER", 0, 2),  # "B-PER O" overlaps the two-word name
        (WRONG_TYPE, "LOC", 3, 4),  # same span, ORG instead of LOC
        (MISSED, "ORG", 5, 7),
        (SPURIOUS, "LOC", 8, 9),
    ]


def test_only_differing_sentences_are_listed_and_counted():
    tokens = [["Paris"], ["Berlin", "x"], ["y"]]
    gold = [["B-LOC"], ["B-LOC", "O"], ["O"]]
    predicted = {"baseline": [["B-LOC"], ["B-ORG", "O"], ["O"]],
                 "fusion": [["B-LOC"], ["O", "B-PER"], ["O"]]}
    views = differing_sentences([0, 1, 2], tokens, gold, predicted)
    assert [v.index for v in views] == [1]
    assert views[0].errors["baseline"] == [EntityError(WRONG_TYPE, "LOC", 0, 1)]
    assert {e.kind for e in views[0].errors["fusion"]} == {MISSED, SPURIOUS}
    counts = error_counts(views, ["baseline", "fusion"])
    assert counts["baseline"][WRONG_TYPE] == 1 and counts["fusion"][MISSED] == 1
    assert select(views, [SPURIOUS], ["PER"]) == views and select(views, [SPURIOUS], ["ORG"]) == []


def test_a_sample_round_trips_and_refuses_too_many(tmp_path):
    path = write_sample(tmp_path / "de.json", "de", "abc", [(3, ["Paris"], ["B-LOC"])], {"runs": []})
    sample = read_sample(path)
    assert sample["sha256"] == "abc" and sample["sentences"][0]["index"] == 3 and "licence" in sample
    with pytest.raises(ValueError):
        write_sample(tmp_path / "x.json", "de", "abc", [(i, ["a"], ["O"]) for i in range(51)], {})
    (tmp_path / "bad.json").write_text("[" * 100_000)
    assert read_sample(tmp_path / "bad.json") is None and read_sample(tmp_path / "none.json") is None


@pytest.mark.slow  # the shipped runs and error samples
def test_stored_runs_use_the_shipped_sample_without_data():
    from fusion.evaluation.runs import load_runs
    from fusion.studies.results import group_records, groups

    records, _ = load_runs(REPO / "assets" / "runs")
    chosen = group_records(records, groups(records)[0])
    views, note = stored_views(chosen, REPO / "assets" / "runs", "sw", 13, "fusion-l11", None,
                               REPO / "assets" / "error_samples")
    assert 0 < len(views) <= 50 and "sample" in note
    assert all(v.predicted["baseline"] != v.predicted["fusion"] for v in views)
    none, note = stored_views(chosen, REPO / "assets" / "runs", "sw", 13, "fusion-l11", None, None)
    assert none == [] and "--data" in note
