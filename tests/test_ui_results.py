"""ui/tabs/results.py and serve/runs.py on hand-made run records (no app built; `make_record`
and the `runs_dir` fixture are in conftest.py)."""

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_record  # noqa: E402

from serve.runs import default_choice, read_results
from ui.tabs import evaluate, results


def test_results_views(runs_dir):
    records, warning = read_results(runs_dir)
    assert len(records) == 7 and "broken" in warning and "skipped" in warning
    assert str(runs_dir) not in warning  # file names, never the server's paths
    choices = results.group_choices(records)
    assert len(choices) == 1 and "zero-shot" in choices[0][0]
    key, fusion_model = default_choice(records, "fusion-l1")
    summary, table, csv, delta, sweep = results.results_view(runs_dir, records, key, fusion_model, "script", 1)
    assert list(table.columns) == results.TABLE_COLUMNS
    row = table.set_index("language").loc["zh"]
    assert (row["baseline F1"], row["fusion F1"], row["Δ F1"]) == (21.0, 31.0, 10.0)
    assert row["baseline ±"] == pytest.approx(1.4, abs=0.05) and row["seeds (b/f)"] == "2/2"
    assert "3 target languages" in summary and "± " in summary and "English" in summary
    assert "No bootstrap intervals" in summary  # hand-made records have no per-sentence sidecar
    assert {trace.name for trace in delta.data} == {"Arabic", "Han", "Latin"}
    assert all("English" not in str(x) for trace in delta.data for x in trace.x)  # English apart
    assert len(sweep.data) == 2 and "first 1,000 dev sentences" in sweep.data[1].name
    assert list(sweep.data[1].y) == [70.0, 71.0, 72.0]  # the score that chose k
    assert pd.read_csv(csv)["language"].tolist() == table["language"].tolist()
    Path(csv).unlink()


def test_results_groups_never_mix_recipes(runs_dir):
    small = make_record("small-baseline-s3", "baseline", None, "test", {"en": 0.5, "de": 0.3}, 3,
                        train_sentences=2000, study="seed-study")
    (runs_dir / "small.json").write_text(json.dumps(small), encoding="utf-8")
    records, _ = read_results(runs_dir)
    labels = [label for label, _ in results.group_choices(records)]  # natural order, by study first
    assert labels == ["seed-study · ≤ 100 test · en 2000 sent × 3 ep", "zero-shot · ≤ 100 test · en 20000 sent × 3 ep"]
    rows, _ = evaluate.stored_rows(records, "de")
    assert {row["source"] for row in rows} == {"stored: en 20000 sent × 3 ep, 100 sentences, 2 runs",
                                               "stored: en 2000 sent × 3 ep, 100 sentences, 1 run"}


def test_results_with_nothing_to_show(tmp_path):
    records, warning = read_results(tmp_path)
    assert records == [] and "No run records" in warning
    assert "No run folder" in read_results(tmp_path / "missing")[1]
    summary, table, _, delta, sweep = results.results_view(tmp_path, [], None, None, "family", None)
    assert table.empty and summary == "No test-split runs of both models yet."
    assert not delta.data and not sweep.data


def test_results_reload_picks_the_group_a_link_asks_for(runs_dir):
    small = make_record("small-baseline-s3", "baseline", None, "test", {"en": 0.5, "de": 0.3}, 3,
                        train_sentences=2000, study="seed-study")
    (runs_dir / "small.json").write_text(json.dumps(small), encoding="utf-8")
    records, _ = read_results(runs_dir)
    first, _ = default_choice(records, "fusion-l1")  # the most-trained group
    second = next(key for _, key in results.group_choices(records) if key != first)
    _, _, group, fusion_model = results.reload_values(runs_dir, "fusion-l1", second, "fusion-l1")
    assert group.value == second and fusion_model.value is None  # no fusion run in that group
    _, _, group, fusion_model = results.reload_values(runs_dir, "fusion-l1", "no|such|group", None)
    assert group.value == first and fusion_model.value == "fusion-l1"


def test_the_table_shows_one_decimal_per_column_and_models_sort_naturally(runs_dir):
    import gradio as gr

    records, _ = read_results(runs_dir)
    key, fusion_model = default_choice(records, "fusion-l1")
    table = results.results_view(runs_dir, records, key, fusion_model, "family", 1).table
    shown = gr.Dataframe(interactive=False).postprocess(results.shown_table(table)).metadata["display_value"]
    column = {name: [row[index] for row in shown] for index, name in enumerate(results.TABLE_COLUMNS)}
    assert column["baseline F1"] == ["41.0", "61.0", "81.0", "21.0"]  # ar, de, en, zh: "41.0", never "41"
    assert column["sentences"] == ["100"] * 4 and column["Δ 95% low"] == ["–"] * 4  # no sidecars: no interval
    for k in (10, 2):
        record = make_record(f"fusion-l{k}-s1", f"fusion-l{k}", k, "test", {"en": 0.8, "de": 0.6}, 1)
        (runs_dir / f"l{k}.json").write_text(json.dumps(record), encoding="utf-8")
    records, _ = read_results(runs_dir)
    group = results.group_by_key(records, key)
    assert results.model_choices(records, group) == ["fusion-l1", "fusion-l2", "fusion-l10"]
