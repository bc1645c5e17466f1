"""Intermediate tasks × target tasks: Δ on the target average for NER (F1), POS and XNLI (accuracy)
against each target's own direct runs, a cell per task and target ("not run" where nothing was run),
the Results section's heat map and table, the RESULTS.md block, and scripts/intermediate_targets.sh
end to end on a tiny encoder and tiny data (slow)."""

import hashlib
import json
import os
import random
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, write_xnli

from fusion.data.tasks import INTERMEDIATE_TASKS
from fusion.evaluation.pos import scores_of, write_pos_sidecar
from fusion.evaluation.predictions import Sidecar, build_language, write_sidecar
from fusion.evaluation.runs import load_runs
from fusion.studies.intermediate_results import (NOT_RUN, TARGETS, accuracy_target_runs, target_effects,
                                                 target_heatmap, target_scope, target_table, task_effects)

LANGUAGES = {"en": "e" * 64, "de": "d" * 64, "sw": "5" * 64}


# --- tiny stored runs, valid run records with sidecars that agree with them ----------------------

def _accuracy_run(folder: Path, name: str, task: str, model: str, seed: int, quality: float,
                  intermediate: str | None = None, train_sentences: int = 2000, epochs: int = 1,
                  cap: int | None = 500) -> dict:
    """A POS or XNLI run record of 120 items per language, each right with probability `quality`,
    written with its sidecar the way fusion/evaluation/pos.py writes them."""
    rng = random.Random(zlib.crc32(f"{name}/{seed}".encode()))
    counts = {language: [(int(rng.random() < quality), 1) for _ in range(120)] for language in LANGUAGES}
    sidecar = write_pos_sidecar(folder / f"{name}.predictions.json.gz", counts, LANGUAGES)
    scores = scores_of(counts)
    training = {"seed": seed, "language": "en", "epochs": epochs, "train_sentences": train_sentences,
                "tuning": "lora"}
    if intermediate:
        training["intermediate"] = {"task": intermediate, "domain": INTERMEDIATE_TASKS[intermediate].domain,
                                    "dev_score": 0.8}
    targets = [scores[k]["accuracy"] for k in scores if k != "en"]
    record = {
        "schema_version": 1, "name": name, "study": "pos" if task == "pos" else "pairs", "task": task,
        "checkpoint": {"path": f"work_runs/{name}", "sha256": "0" * 64, "encoder": "tiny", "model": model,
                       "fusion_layer": None if model == "baseline" else int(model.split("-l")[1]),
                       "training": training},
        "data": {"source": "fixture", "split": "test" if task == "pos" else "dev",
                 "max_sentences_per_language": cap, "sentences": {k: 120 for k in LANGUAGES},
                 "sha256": dict(LANGUAGES)},
        "seed": seed, "scores": scores,
        "average_accuracy": sum(s["accuracy"] for s in scores.values()) / len(scores),
        "average_accuracy_targets": sum(targets) / len(targets), "source_language": "en",
        "versions": {}, "device": "cpu", "wall_seconds": 1.0, "date": "2026-01-01T00:00:00+00:00",
        "predictions": {"file": sidecar.name, "sha256": _sha256(sidecar)},
    }
    (folder / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    return record


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ner_run(folder: Path, name: str, study: str, model: str, seed: int, quality: float, gold: dict,
             intermediate: str | None = None) -> dict:
    """An NER run as the study reads it (the shape of tests/test_intermediate_results.py's)."""
    labels, types = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], ["PER", "LOC"]
    rng = random.Random(zlib.crc32(f"{name}/{seed}".encode()))
    items = {}
    for language, digest in LANGUAGES.items():
        predicted = [[t if rng.random() < quality else rng.choice(labels) for t in s] for s in gold[language]]
        items[language] = build_language(labels, types, gold[language], predicted, digest)
    write_sidecar(folder / f"{name}.predictions.json.gz", Sidecar(labels, types, items))
    training = {"seed": seed, "language": "en", "epochs": 1, "train_sentences": 2000}
    if intermediate:
        training["intermediate"] = {"task": intermediate, "domain": INTERMEDIATE_TASKS[intermediate].domain}
    return {"name": name, "study": study, "checkpoint": {"model": model, "training": training},
            "data": {"sha256": dict(LANGUAGES), "max_sentences_per_language": 200, "split": "test"},
            "predictions": {"file": f"{name}.predictions.json.gz"}}


@pytest.fixture
def stored(tmp_path):
    """runs/ (NER, in memory), pos_runs/ and pair_runs/ (files) beside each other:
    NER: chunking hurts (0.9 -> 0.6 of the tags kept); POS: sst2 helps (0.6 -> 0.9), rte changes
    nothing, and a direct run of another recipe (0.95) must not be its reference; XNLI: rte helps
    the baseline (0.5 -> 0.8), and pair_runs.sh's full-scale direct run (0.2) is not the reference."""
    runs, pos, pairs = (tmp_path / name for name in ("runs", "pos_runs", "pair_runs"))
    for folder in (runs, pos, pairs):
        folder.mkdir()
    rng = random.Random(3)
    gold = {k: [[rng.choice(["O", "B-PER", "B-LOC"]) for _ in range(6)] for _ in range(120)] for k in LANGUAGES}
    ner = [_ner_run(runs, f"small-baseline-s{s}", "seed-study", "baseline", s, 0.9, gold) for s in (13, 14)]
    ner += [_ner_run(runs, f"inter-chunking-baseline-s{s}", "intermediate-task", "baseline", s, 0.6, gold,
                     "chunking") for s in (13, 14)]
    for seed in (13, 14):
        _accuracy_run(pos, f"pos-baseline-s{seed}", "pos", "baseline", seed, 0.6)
        _accuracy_run(pos, f"pos-full-baseline-s{seed}", "pos", "baseline", seed, 0.95, train_sentences=20000,
                      epochs=3)
        _accuracy_run(pos, f"inter-sst2-pos-baseline-s{seed}", "pos", "baseline", seed, 0.9, "sst2")
        _accuracy_run(pos, f"inter-rte-pos-baseline-s{seed}", "pos", "baseline", seed, 0.6, "rte")
        _accuracy_run(pairs, f"small-xnli-baseline-s{seed}", "xnli", "baseline", seed, 0.5, cap=1000)
        _accuracy_run(pairs, f"xnli-baseline-s{seed}", "xnli", "baseline", seed, 0.2, epochs=2, cap=None)
        _accuracy_run(pairs, f"inter-rte-xnli-baseline-s{seed}", "xnli", "baseline", seed, 0.8, "rte", cap=1000)
    (pos / "pos-dev-s13.json").write_text(json.dumps(  # a layer choice beside the runs is not a run
        {"chosen": "fusion-l11", "english_dev_accuracy": {"fusion-l11": 0.9}, "seed": 13}))
    return runs, pos, pairs, ner


def _target_mean(folder: Path, pattern: str) -> float:
    """Mean over the matching runs of their target-language accuracy, in points (the Δ's parts)."""
    records = [json.loads(path.read_text()) for path in sorted(folder.glob(pattern))]
    return 100 * float(np.mean([np.mean([r["scores"][k]["accuracy"] for k in r["scores"] if k != "en"])
                                for r in records]))


def test_each_target_is_compared_with_its_own_direct_runs_and_missing_cells_say_not_run(stored):
    runs, pos, pairs, ner = stored
    effects = task_effects(ner, runs) + target_effects(accuracy_target_runs(pos, pairs))
    found = {(e.task, e.target, e.model): e for e in effects}
    assert set(found) == {("chunking", "ner", "baseline"), ("sst2", "pos", "baseline"),
                          ("rte", "pos", "baseline"), ("rte", "xnli", "baseline")}
    assert found[("chunking", "ner", "baseline")].intervals["average"].high < 0  # F1, as before
    helped = found[("sst2", "pos", "baseline")]
    assert helped.seeds == 2 and helped.intervals["average"].low > 0
    # accuracy through the one paired bootstrap: Δ is exactly the difference of the mean accuracies
    assert helped.intervals["average"].delta == pytest.approx(
        _target_mean(pos, "inter-sst2-pos-baseline-s*.json") - _target_mean(pos, "pos-baseline-s*.json"))
    neutral = found[("rte", "pos", "baseline")].intervals["average"]
    assert neutral.low < 0 < neutral.high  # the 0.95 direct run of another recipe is not its reference
    xnli = found[("rte", "xnli", "baseline")]
    assert xnli.intervals["average"].delta == pytest.approx(
        _target_mean(pairs, "inter-rte-xnli-*.json") - _target_mean(pairs, "small-xnli-*.json"))
    assert (xnli.recipe, xnli.cap, xnli.split) == ("en 2000 sent × 1 ep", 1000, "dev")

    grid = target_heatmap(effects, "baseline")
    assert grid.tasks == list(INTERMEDIATE_TASKS) and grid.targets == list(TARGETS) == ["ner", "pos", "xnli"]
    cell = {(task, target): grid.cells[r][c] for r, task in enumerate(grid.tasks)
            for c, target in enumerate(grid.targets)}
    assert cell[("sst2", "pos")].model == "baseline" and cell[("sst2", "pos")].text.startswith("+")
    assert " * [" in cell[("sst2", "pos")].text  # the interval excludes 0
    assert cell[("mrpc", "xnli")].text == NOT_RUN and cell[("mrpc", "xnli")].average is None
    assert cell[("chunking", "pos")].text == NOT_RUN  # nothing guessed from another target
    fusion = target_heatmap(effects, "fusion")
    assert fusion.models == [None, None, None] and all(c.text == NOT_RUN for row in fusion.cells for c in row)
    with pytest.raises(ValueError, match="side"):
        target_heatmap(effects, "fusion-l11")

    table = target_table(effects)
    assert list(table.columns) == ["task", "domain", "NER · baseline", "NER · fusion", "POS · baseline",
                                   "POS · fusion", "XNLI · baseline", "XNLI · fusion"]
    assert table.set_index("task").loc["rte", "XNLI · baseline"] == cell[("rte", "xnli")].text
    assert (table == NOT_RUN).to_numpy().sum() == 6 * 6 - 4
    scope = target_scope(effects)
    assert scope["xnli"] == "en 2000 sent × 1 ep, first ≤ 1,000 dev pairs per language"
    assert scope["pos"] == "en 2000 sent × 1 ep, first ≤ 500 test sentences per language"


def test_the_results_block_and_the_section_show_every_task_and_target(stored):
    from fusion.studies.report import target_section
    from ui.common import SPARE_COLOURS
    from ui.tabs import results_intermediate

    runs, pos, pairs, ner = stored
    lines = target_section(task_effects(ner, runs), pos, pairs)
    text = "\n".join(lines)
    assert "**Intermediate task × target task**" in text and "XNLI (accuracy): en 2000 sent × 1 ep" in text
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| task")]
    assert [row.split(" | ")[0][2:] for row in rows] == list(INTERMEDIATE_TASKS)
    assert sum(row.count(NOT_RUN) for row in rows) == 6 * 6 - 4

    shown = results_intermediate.view(runs, ner, "baseline")
    missing, measured = shown.targets.data
    assert "not run" in str(missing.text) and "+" in str(measured.text)
    colours = [colour for _, colour in measured.colorscale]
    assert SPARE_COLOURS[0] in colours and SPARE_COLOURS[1] in colours  # the page's palette
    assert "Δ target average · baseline" in shown.targets.layout.title.text
    assert shown.target_table.equals(target_table(task_effects(ner, runs)
                                                  + target_effects(accuracy_target_runs(pos, pairs))))
    fusion = results_intermediate.view(runs, ner, "fusion-l11").targets
    assert "· fusion" in fusion.layout.title.text and all(not t for row in fusion.data[1].text for t in row)


# --- the script, end to end on a tiny encoder -----------------------------------------------------

WORDS = ["the", "a", "cat", "dog", "runs", "sleeps", "."]


def _tiny_data(root: Path) -> None:
    """SST-2 (the stage) and XNLI (en, de) in the real layouts."""
    rng = random.Random(0)
    for name, n in (("train.tsv", 48), ("dev.tsv", 16)):
        path = root / "intermediate" / "sentiment" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("sentence\tlabel\n" + "".join(
            " ".join(rng.choice(WORDS) for _ in range(5)) + f" \t{rng.randrange(2)}\n" for _ in range(n)))
    write_xnli(root, n=120)  # enough premises for a held-out fifth


def _script(tmp_path, encoder, targets="xnli"):
    env = {**os.environ, "WORK": str(tmp_path / "work"), "POS_RECORDS": str(tmp_path / "pos_runs"),
           "PAIR_RECORDS": str(tmp_path / "pair_runs"), "ENCODER": encoder, "PYTHONPATH": str(REPO)}
    return subprocess.run(["bash", str(REPO / "scripts" / "intermediate_targets.sh"), str(tmp_path / "data"),
                           "13", "sst2", targets], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)


@pytest.mark.slow  # 9 child processes (stage, train, score), each loading torch: about a minute quiet
def test_the_script_makes_every_run_the_study_needs_and_skips_them_when_rerun(tmp_path, tiny_bert):
    # XNLI only: its direct small-scale runs are made here too; the POS target runs the POS study's
    # own train / evaluate-pos commands (tests/test_pos.py), and the study's reading of POS runs is
    # checked on fixture records above
    _tiny_data(tmp_path / "data")
    refused = _script(tmp_path, tiny_bert)  # no XNLI layer choice yet: said, and nothing trained
    assert refused.returncode != 0 and "XNLI: no layer choice" in refused.stderr
    assert not (tmp_path / "work" / "intermediate" / "sst2-s13").exists()
    assert not (tmp_path / "pair_runs").exists()
    (tmp_path / "pair_runs").mkdir()
    (tmp_path / "pair_runs" / "xnli-dev-s13.json").write_text(json.dumps(
        {"chosen": "fusion-l2", "english_dev_accuracy": {"fusion-l2": 0.5}, "seed": 13}))

    done = _script(tmp_path, tiny_bert)
    assert done.returncode == 0, done.stderr[-2000:]
    names = {path.stem for path in (tmp_path / "pair_runs").glob("*-s13.json")}
    assert names == {"xnli-dev-s13", "small-xnli-baseline-s13", "small-xnli-fusion-l2-s13",
                     "inter-sst2-xnli-baseline-s13", "inter-sst2-xnli-fusion-l2-s13"}
    records, _ = load_runs(tmp_path / "pair_runs", task="xnli")
    staged = next(r for r in records if r["name"] == "inter-sst2-xnli-fusion-l2-s13")
    assert staged["checkpoint"]["training"]["intermediate"]["task"] == "sst2"
    assert staged["checkpoint"]["fusion_layer"] == 2 and staged["data"]["max_sentences_per_language"] == 1000

    effects = target_effects(accuracy_target_runs(tmp_path / "pos_runs", tmp_path / "pair_runs"))
    assert {(e.task, e.target, e.model) for e in effects} == {("sst2", "xnli", "baseline"),
                                                             ("sst2", "xnli", "fusion-l2")}
    table = target_table(effects).set_index("task")
    assert table.loc["sst2", "XNLI · fusion-l2"] != NOT_RUN and table.loc["rte", "XNLI · baseline"] == NOT_RUN

    written = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*") if path.is_file()}
    again = _script(tmp_path, tiny_bert)  # every step finished: nothing is trained or scored again
    assert again.returncode == 0 and "done:" not in again.stdout
    assert {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*") if path.is_file()} == written
