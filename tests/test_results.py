"""Per-sentence predictions, the paired bootstrap and the comparisons of stored runs."""

import random
from pathlib import Path

import numpy as np
import pytest

from fusion.evaluation.evaluate import score_tags
from fusion.evaluation.predictions import (PredictionsError, Sidecar, build_language, f1_from_counts,
                                           read_sidecar, sidecar_path, write_sidecar)
from fusion.evaluation.runs import load_runs
from fusion.studies.bootstrap import load_counts, paired_bootstrap
from fusion.studies.results import group_records, groups, language_table, summarise, sweep_table, tuning_of

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "assets" / "runs"
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
TYPES = ["PER", "ORG", "LOC"]


def random_tags(rng: random.Random, n: int) -> list[list[str]]:
    return [[rng.choice(LABELS) for _ in range(rng.randint(1, 12))] for _ in range(n)]


def test_counts_reproduce_seqeval_strict_f1_and_round_trip(tmp_path):
    rng = random.Random(0)
    gold = random_tags(rng, 300)
    predicted = [[t if rng.random() < 0.7 else rng.choice(LABELS) for t in s] for s in gold]
    item = build_language(LABELS, TYPES, gold, predicted, "abc")
    assert f1_from_counts(item.counts) == pytest.approx(score_tags(gold, predicted)["f1"])
    path = write_sidecar(sidecar_path(tmp_path / "run.json"), Sidecar(LABELS, TYPES, {"de": item}))
    assert path.name == "run.predictions.json.gz"
    again = read_sidecar(path).languages["de"]
    assert again.sha256 == "abc" and again.tag_strings(LABELS) == predicted
    assert np.array_equal(again.counts, item.counts)
    assert write_sidecar(tmp_path / "b.gz", Sidecar(LABELS, TYPES, {"de": item})).read_bytes() \
        == path.read_bytes()  # same predictions, same bytes


def test_a_broken_sidecar_is_one_clear_error(tmp_path):
    for name, content in (("junk.gz", b"not gzip"), ("empty.gz", b"")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(PredictionsError, match=name):
            read_sidecar(tmp_path / name)
    with pytest.raises(PredictionsError, match="no such"):
        read_sidecar(tmp_path / "missing.gz")


@pytest.mark.slow  # the shipped runs' sidecars
def test_stored_runs_recompute_from_their_sidecars():
    records, _ = load_runs(RUNS)
    checked = 0
    for record in records:
        if "predictions" not in record:
            continue
        sidecar = read_sidecar(RUNS / record["predictions"]["file"])
        for language, score in record["scores"].items():
            item = sidecar.languages[language]
            assert item.sha256 == record["data"]["sha256"][language]
            assert item.counts.shape[0] == record["data"]["sentences"][language]
            assert f1_from_counts(item.counts) == pytest.approx(score["f1"], abs=1e-12), (record["file"], language)
            checked += 1
    assert checked >= 39 * 6  # at least the six full-scale test runs


@pytest.mark.slow  # the shipped runs and data
def test_sidecar_predictions_rescore_against_the_data():
    """With the data directory at hand, the stored tags score exactly as the run says."""
    data = REPO.parent / "shared" / "data" / "wikiann"
    if not data.is_dir():
        pytest.skip("no WikiANN copy beside the repository")
    from fusion.data.ner import load_split

    records, _ = load_runs(RUNS)
    record = next(r for r in records if r["name"] == "fusion-l11-s14")
    sidecar = read_sidecar(RUNS / record["predictions"]["file"])
    for language in ("de", "zh", "ar"):
        gold = load_split(data, language, "test", record["data"]["max_sentences_per_language"])["ner_tags"]
        predicted = sidecar.languages[language].tag_strings(sidecar.labels)
        assert score_tags(gold, predicted)["f1"] == pytest.approx(record["scores"][language]["f1"])


def _counts(rng: np.random.Generator, n: int, quality: float) -> np.ndarray:
    """Hand-made per-sentence counts: 2 gold entities of one type, 2 predicted, tp ~ quality."""
    counts = np.zeros((n, 1, 3), dtype=np.int32)
    counts[:, 0, 1] = 2
    counts[:, 0, 2] = 2
    counts[:, 0, 0] = rng.binomial(2, quality, n)
    return counts


def test_bootstrap_of_identical_models_straddles_zero():
    rng = np.random.default_rng(1)
    same = {lang: [_counts(rng, 500, 0.6) for _ in range(3)] for lang in ("en", "de", "fr")}
    intervals = {i.language: i for i in paired_bootstrap(same, same)}
    for interval in intervals.values():
        assert interval.delta == 0 and interval.low <= 0 <= interval.high
        assert not interval.excludes_zero
    assert set(intervals) == {"en", "de", "fr", "average"}


def test_bootstrap_of_a_better_model_is_above_zero():
    rng = np.random.default_rng(2)
    base = {lang: [_counts(rng, 400, 0.5) for _ in range(3)] for lang in ("en", "de", "sw")}
    better = {lang: [_counts(rng, 400, 0.7) for _ in range(3)] for lang in ("en", "de", "sw")}
    intervals = {i.language: i for i in paired_bootstrap(base, better)}
    assert all(i.low > 0 and i.excludes_zero for i in intervals.values())
    assert intervals["average"].delta == pytest.approx(np.mean([intervals[c].delta for c in ("de", "sw")]))
    again = {i.language: i for i in paired_bootstrap(base, better)}
    assert again == intervals  # a fixed seed: the same intervals every time
    paused = []  # a server's pause between languages changes nothing but the timing
    assert {i.language: i for i in paired_bootstrap(base, better, between=lambda: paused.append(1))} == intervals
    assert len(paused) == 3


@pytest.mark.slow  # the shipped runs
def test_groups_never_mix_sentence_counts():
    records, _ = load_runs(RUNS)
    for group in groups(records):
        caps = {r["data"]["max_sentences_per_language"] for r in group_records(records, group)}
        recipes = {r["checkpoint"]["training"]["train_sentences"] for r in group_records(records, group)}
        assert len(caps) == 1 and len(recipes) == 1
        table = language_table(records, group, "fusion-l11")
        for row in table.itertuples():
            assert row.sentences == max(r["data"]["sentences"].get(row.language, 0)
                                        for r in group_records(records, group))


@pytest.mark.slow  # the shipped runs' sidecars
def test_summary_and_bootstrap_on_the_stored_full_runs():
    records, _ = load_runs(RUNS)
    group = groups(records)[0]  # the most-trained, most-evaluated group: full test sets
    assert group.sentences_cap is None and group.study == "zero-shot"
    summary = summarise(records, group, "fusion-l11")
    assert summary.baseline.n == summary.fusion.n == 3 and summary.targets == 38
    chosen = group_records(records, group)
    intervals = paired_bootstrap(load_counts(chosen, RUNS, "baseline"), load_counts(chosen, RUNS, "fusion-l11"))
    average = intervals[-1]
    assert average.language == "average"
    assert average.delta == pytest.approx(summary.fusion.mean - summary.baseline.mean, abs=1e-6)


@pytest.mark.slow  # the shipped runs
@pytest.mark.parametrize("tuning", ["lora", "full"])
def test_sweep_plots_the_score_that_chose_k(tuning):
    records, _ = load_runs(RUNS)
    table = sweep_table(records, tuning=tuning)  # each tuning's own sweep, never the other's
    assert table["layer"].tolist() == list(range(12))
    chosen = {r["checkpoint"]["fusion_layer"]: 100 * r["checkpoint"]["training"]["dev_f1"]
              for r in records if r["study"] == "layer-sweep" and tuning_of(r) == tuning}
    assert table["selection F1"].tolist() == pytest.approx([round(chosen[k], 2) for k in range(12)])


@pytest.mark.slow  # the shipped runs, every bootstrap
def test_results_doc_block_is_what_the_script_prints():
    """docs/RESULTS.md's generated block (the tables the README links to) comes from the same
    functions as the Results tab, on the stored runs: regenerated here, compared byte for byte."""
    from fusion.studies.report import results_markdown

    text = (REPO / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    assert text.count("<!-- results:start -->\n") == 1 and text.count("<!-- results:end -->") == 1
    block = text.split("<!-- results:start -->\n", 1)[1].split("<!-- results:end -->", 1)[0]
    assert block == results_markdown(RUNS), "docs/RESULTS.md is stale: python scripts/results_table.py --write"
