"""Hostile stored files: every run record, sidecar, POS run and layer choice goes through one
bounded reader (fusion/evaluation/stored.py). Links to devices, FIFOs, gzip bombs, tampered or
contradicting sidecars, implausible records and formula-like keys are refused with a message that
names the file (never the server's path), quickly and without blocking; broken files cost one
read; one odd file cannot become the default view; CSV cells cannot run as formulas."""

import copy
import gzip
import hashlib
import json
import os
import threading
import time
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from conftest import edit_sidecar, ner_record, write_ner_run, zero_de_true_positives

from fusion.evaluation import stored
from fusion.evaluation.error_analysis import stored_views
from fusion.evaluation.pos import write_pos_sidecar
from fusion.evaluation.predictions import MAX_UNPACKED_BYTES, PredictionsError, read_pos_counts, read_sidecar
from fusion.evaluation.runs import (RunRecordError, load_run, load_runs, predictions_bytes, runs_dataframe,
                                    validate_run)
from fusion.evaluation.stored import StoredFileError, folder_state, read_json
from fusion.studies.bootstrap import load_counts
from fusion.studies.intermediate_results import task_effects
from fusion.studies.pos_results import LAYER_CHOICE_GLOB, load_layer_choice, load_pos_run, pos_results
from fusion.studies.results import csv_cell, csv_safe, default_group, groups, language_table

REPO = Path(__file__).resolve().parents[1]


def _finishes(function, seconds: float = 60):
    """function() in a thread: (result, exception). Asserts that it returned: a read that blocks
    (on a FIFO, say) would never return, and the test says so instead of hanging."""
    outcome = {}

    def run():
        try:
            outcome["result"] = function()
        except BaseException as error:  # noqa: BLE001 — handed back to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the read blocked"
    return outcome.get("result"), outcome.get("error")


def _warnings(folder: Path, task="ner") -> dict[str, str]:
    records, warnings = _finishes(lambda: load_runs(folder, task=task))[0]
    return {w.file: w.message for w in warnings}


# --------------------------------------------------------------------------------------------
# Files that are not plain files
# --------------------------------------------------------------------------------------------

def test_devices_fifos_and_dangling_links_are_refused_without_blocking(tmp_path):
    good = write_ner_run(tmp_path, "good")
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    (tmp_path / "gone.json").symlink_to(tmp_path / "nowhere.json")
    (tmp_path / "folder.json").mkdir()
    record = json.loads(good.read_text())
    for name, make in (("fifo-sidecar", lambda p: os.mkfifo(p)), ("zero-sidecar", lambda p: p.symlink_to("/dev/zero")),
                       ("gone-sidecar", lambda p: p.symlink_to(tmp_path / "nowhere.gz"))):
        sidecar = tmp_path / f"{name}.predictions.json.gz"
        make(sidecar)
        (tmp_path / f"{name}.json").write_text(json.dumps({**record, "name": name,
                                                           "predictions": {**record["predictions"], "file": sidecar.name}}))
    warnings = _warnings(tmp_path)
    assert set(warnings) == {"fifo.json", "zero.json", "gone.json", "folder.json", "fifo-sidecar.json",
                             "zero-sidecar.json", "gone-sidecar.json"}  # good.json loads
    assert warnings["fifo.json"] == warnings["zero.json"] == warnings["folder.json"] == "not a regular file"
    assert "dangling" in warnings["gone.json"]
    assert warnings["fifo-sidecar.json"] == "fifo-sidecar.predictions.json.gz: not a regular file"
    assert warnings["zero-sidecar.json"] == "zero-sidecar.predictions.json.gz: not a regular file"
    assert "gone-sidecar.predictions.json.gz" in warnings["gone-sidecar.json"] and "dangling" in warnings["gone-sidecar.json"]
    assert all(str(tmp_path) not in message for message in warnings.values())  # names, never the server's path

    for read in (lambda: read_sidecar(tmp_path / "fifo-sidecar.predictions.json.gz"),
                 lambda: read_sidecar(tmp_path / "zero-sidecar.predictions.json.gz"),
                 lambda: read_pos_counts(tmp_path / "fifo-sidecar.predictions.json.gz"),
                 lambda: read_json(tmp_path / "fifo.json", 1000),
                 lambda: load_layer_choice(tmp_path / "zero.json")):
        _, error = _finishes(read)
        assert isinstance(error, StoredFileError) and "not a regular file" in str(error)
        assert str(tmp_path) not in str(error)
    # a folder's state (what a view keys its memory with) survives all of them
    names = [name for name, _, _ in folder_state(tmp_path, "*.json")]
    assert "gone.json" in names and "fifo.json" in names


def test_pos_runs_and_layer_choices_are_refused_without_blocking(tmp_path):
    counts, hashes = {"en": [(3, 4)], "de": [(1, 3)]}, {"en": "e" * 64, "de": "d" * 64}
    sidecar = write_pos_sidecar(tmp_path / "pos-baseline-s1.predictions.json.gz", counts, hashes)
    record = {"schema_version": 1, "name": "pos-baseline-s1", "study": "pos", "task": "pos",
              "checkpoint": {"path": "c", "sha256": "0" * 64, "encoder": "enc", "model": "baseline",
                             "fusion_layer": None, "training": {"language": "en"}},
              "data": {"source": "udpos", "split": "test", "max_sentences_per_language": None,
                       "sentences": {"en": 1, "de": 1}, "sha256": hashes},
              "seed": 1, "scores": {"en": {"accuracy": 0.75, "support": 4}, "de": {"accuracy": 1 / 3, "support": 3}},
              "average_accuracy": (0.75 + 1 / 3) / 2, "average_accuracy_targets": 1 / 3, "source_language": "en",
              "predictions": {"file": sidecar.name, "sha256": hashlib.sha256(sidecar.read_bytes()).hexdigest()}}
    path = tmp_path / "pos-baseline-s1.json"
    path.write_text(json.dumps(record))
    assert load_pos_run(path)[1]["en"].tolist() == [[3, 4]]
    sidecar.unlink()
    sidecar.symlink_to("/dev/zero")
    _, error = _finishes(lambda: load_pos_run(path))
    assert isinstance(error, PredictionsError) and str(error) == f"{sidecar.name}: not a regular file"
    sidecar.unlink()
    os.mkfifo(sidecar)
    _, error = _finishes(lambda: load_pos_run(path))
    assert isinstance(error, PredictionsError) and str(error) == f"{sidecar.name}: not a regular file"
    os.mkfifo(tmp_path / "pos-dev-s1.json")  # a layer choice that is a FIFO
    _, error = _finishes(lambda: pos_results(tmp_path))
    assert isinstance(error, RunRecordError) and str(error) == "pos-dev-s1.json: not a regular file"


# --------------------------------------------------------------------------------------------
# Sizes: gzip bombs, deep nesting, too many values
# --------------------------------------------------------------------------------------------

def test_a_gzip_bomb_is_refused_with_bounded_memory(tmp_path):
    unpacked = MAX_UNPACKED_BYTES + 8_000_000  # valid JSON (spaces, then {}): only its size is wrong
    bomb = gzip.compress(b" " * unpacked + b"{}", compresslevel=1)
    assert len(bomb) < 1_000_000  # a small file
    path = tmp_path / "bomb.predictions.json.gz"
    path.write_bytes(bomb)
    tracemalloc.start()
    try:
        _, error = _finishes(lambda: read_sidecar(path))
        _, pos_error = _finishes(lambda: read_pos_counts(path, hashlib.sha256(bomb).hexdigest()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    for failure in (error, pos_error):
        assert isinstance(failure, PredictionsError)
        assert str(failure) == f"bomb.predictions.json.gz: unpacks to more than {MAX_UNPACKED_BYTES:,} bytes"
    assert peak < MAX_UNPACKED_BYTES + 4_000_000  # never the whole unpacked size


def test_json_nesting_and_values_are_bounded(tmp_path):
    record = json.loads(write_ner_run(tmp_path, "deep").read_text())
    nested = {}
    for _ in range(40):
        nested = {"x": nested}
    (tmp_path / "deep.json").write_text(json.dumps({**record, "notes": nested}))
    with pytest.raises(RunRecordError, match=r"^deep\.json: JSON nested more than 32 levels deep$"):
        load_run(tmp_path / "deep.json")
    (tmp_path / "wide.json").write_text("[" + "0," * 1_000_000 + "0]")
    with pytest.raises(RunRecordError, match="wide.json: larger than 1,000,000 bytes"):
        load_run(tmp_path / "wide.json")
    with pytest.raises(StoredFileError, match="more than 1,000 JSON values"):
        stored.parse_json(b"[" + b"0," * 1000 + b"0]", "x.json", max_values=1000)
    with pytest.raises(StoredFileError, match="not a readable JSON file"):
        stored.parse_json(b'{"f1": NaN}', "x.json")


def test_a_broken_file_costs_one_read_until_it_changes(tmp_path, monkeypatch):
    path = tmp_path / "bomb.predictions.json.gz"
    path.write_bytes(gzip.compress(b" " * (MAX_UNPACKED_BYTES + 1), compresslevel=1))
    past = time.time() - 60
    os.utime(path, (past, past))  # settled: a file changed just now is read again, to be safe
    calls = []
    original = stored.gunzip
    monkeypatch.setattr(stored, "gunzip", lambda *args: calls.append(1) or original(*args))
    for _ in range(3):
        with pytest.raises(PredictionsError, match="unpacks to more than"):
            read_sidecar(path)
    assert len(calls) == 1
    good = write_ner_run(tmp_path, "good")
    path.write_bytes((tmp_path / "good.predictions.json.gz").read_bytes())  # changed: read again
    os.utime(path, (past + 1, past + 1))
    assert set(read_sidecar(path).languages) == {"en", "de"} and len(calls) == 2
    os.utime(good, (past, past))
    os.utime(tmp_path / "good.predictions.json.gz", (past, past))
    load_run(good)
    before = len(calls)
    for _ in range(3):  # a record that passed, with its sidecar unchanged: not unpacked again
        load_run(good)
    assert len(calls) == before


# --------------------------------------------------------------------------------------------
# Sidecars: their sha256, and their counts against the record
# --------------------------------------------------------------------------------------------

def test_a_tampered_sidecar_is_refused_by_every_reader(tmp_path):
    for seed in (1, 2):
        write_ner_run(tmp_path, f"baseline-s{seed}", "baseline", seed, quality=0.6)
        write_ner_run(tmp_path, f"fusion-s{seed}", "fusion-l1", seed, quality=0.7)
    records, warnings = load_runs(tmp_path)
    assert len(records) == 4 and warnings == []
    sidecar = tmp_path / "fusion-s1.predictions.json.gz"
    edit_sidecar(sidecar, zero_de_true_positives)  # the record still holds the old sha256

    assert _warnings(tmp_path) == {
        "fusion-s1.json": "fusion-s1.predictions.json.gz: its sha256 differs from the one its record holds"}
    with pytest.raises(PredictionsError, match="fusion-s1.predictions.json.gz: its sha256 differs"):
        load_counts(records, tmp_path, "fusion-l1")  # the bootstrap, on records loaded before
    with pytest.raises(PredictionsError, match="sha256 differs"):
        predictions_bytes(next(r for r in records if r["name"] == "fusion-s1"), tmp_path)
    views, note = stored_views(records, tmp_path, "de", 1, "fusion-l1", None, None)  # the Errors tab
    assert views == [] and "fusion-s1.predictions.json.gz: its sha256 differs" in note


def test_a_record_whose_scores_its_counts_contradict_is_refused(tmp_path):
    path = write_ner_run(tmp_path, "fusion-s1")
    record = json.loads(path.read_text())
    sha256 = edit_sidecar(tmp_path / "fusion-s1.predictions.json.gz", zero_de_true_positives)
    path.write_text(json.dumps({**record, "predictions": {**record["predictions"], "sha256": sha256}}))
    with pytest.raises(PredictionsError, match=r"^fusion-s1\.predictions\.json\.gz: de counts do not give "
                                               r"the stored precision of fusion-s1\.json$"):
        load_run(path)
    assert _warnings(tmp_path)["fusion-s1.json"].startswith("fusion-s1.predictions.json.gz: de counts do not give")

    write_ner_run(tmp_path, "fusion-s1")  # consistent again; now only an average is wrong
    changed = json.loads(path.read_text())
    changed["average_f1"] = min(1.0, changed["average_f1"] + 0.1)
    path.write_text(json.dumps(changed))
    with pytest.raises(PredictionsError, match="fusion-s1.json: average_f1 is not the mean"):
        load_run(path)
    changed = json.loads((write_ner_run(tmp_path, "fusion-s1")).read_text())
    changed["scores"]["de"]["per_type"]["LOC"]["f1"] = 1 - changed["scores"]["de"]["per_type"]["LOC"]["f1"]
    path.write_text(json.dumps(changed))
    with pytest.raises(PredictionsError, match="de counts do not give the stored LOC f1"):
        load_run(path)
    changed["scores"]["de"]["per_type"]["MISC"] = changed["scores"]["de"]["per_type"].pop("LOC")
    path.write_text(json.dumps(changed))
    with pytest.raises(PredictionsError, match="no counts of the type MISC"):
        load_run(path)


# --------------------------------------------------------------------------------------------
# What a record may claim
# --------------------------------------------------------------------------------------------

def test_a_record_of_the_wrong_kind_names_its_file(tmp_path):
    record = json.loads(write_ner_run(tmp_path, "oops").read_text())
    (tmp_path / "oops.json").write_text(json.dumps({**record, "predictions": "oops"}))
    assert _warnings(tmp_path) == {"oops.json": "oops.json.predictions must be dict, got str"}
    # a study handed a record that never went through load_runs leaves it out, no AttributeError
    assert task_effects([{**record, "predictions": "oops", "study": "intermediate-task"}], tmp_path) == []
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(RunRecordError, match=r"^list\.json: expected a JSON object, got list$"):
        load_run(tmp_path / "list.json")


@pytest.mark.parametrize("breakage, message", [
    (lambda r: r["checkpoint"]["training"].update(train_sentences=10**40), "train_sentences must be a whole number"),
    (lambda r: r["checkpoint"]["training"].update(train_sentences=1e40), "train_sentences must be a whole number"),
    (lambda r: r["checkpoint"]["training"].update(epochs=1001), "epochs must be a whole number from 0 to 1,000"),
    (lambda r: r["checkpoint"]["training"].update(seed=2**31), "seed must be a whole number"),
    (lambda r: r.update(seed=-1), "seed must be a seed from 0"),
    (lambda r: r.update(seed=2**40), "seed must be a seed from 0"),
    (lambda r: r["data"]["sentences"].update(de=10**8), "sentences.de must be a sentence count"),
    (lambda r: r["data"].update(max_sentences_per_language=10**8), "max_sentences_per_language"),
    (lambda r: r["scores"]["de"].update(support=10**12), "support must be a whole number"),
    (lambda r: r["checkpoint"].update(fusion_layer=10**6), "fusion_layer must be a layer"),
    (lambda r: r["checkpoint"].update(model="=cmd|' /C calc'!A0"), "model must be a model name"),
    (lambda r: r["scores"].update({'=HYPERLINK("http://x","y")': r["scores"]["de"]}), "is not a language code"),
    (lambda r: r["data"]["sentences"].update({"@SUM(1)": 1}), "is not a language code"),
    (lambda r: r["scores"]["de"]["per_type"].update({"=1+1": r["scores"]["de"]["per_type"]["PER"]}),
     "is not an entity type"),
    (lambda r: r["checkpoint"]["training"].update(language="+en"), "language must be a language code"),
    (lambda r: r.update(name="x\r=1"), "name must be at most"),
    (lambda r: r.update(predictions=[]), "predictions must be dict"),
])
def test_implausible_records_are_refused_with_the_field_named(tmp_path, breakage, message):
    record = json.loads(write_ner_run(tmp_path, "r").read_text())
    validate_run(copy.deepcopy(record))
    breakage(record)
    with pytest.raises(RunRecordError, match=message):
        validate_run(record, source="r.json")


def test_one_odd_file_cannot_become_the_default_view(tmp_path):
    from serve.runs import default_choice

    for seed in (1, 2):
        for model in ("baseline", "fusion-l1"):
            record = ner_record(f"{model}-s{seed}", model, seed, _scores_stub())
            (tmp_path / f"{model}-s{seed}.json").write_text(json.dumps(record))
    shipped = groups(load_runs(tmp_path)[0])[0]
    # odd files: a size no recipe has (refused), and the largest size a record may claim (loaded)
    huge = ner_record("huge", "fusion-l1", 3, _scores_stub(), train_sentences=10**40)
    (tmp_path / "huge.json").write_text(json.dumps(huge))
    (tmp_path / "float.json").write_text(json.dumps(ner_record("float", "fusion-l1", 3, _scores_stub(),
                                                            train_sentences=1e40)))
    largest = ner_record("largest", "fusion-l1", 3, _scores_stub(), train_sentences=10_000_000, epochs=1000)
    (tmp_path / "largest.json").write_text(json.dumps(largest))
    records, warnings = load_runs(tmp_path)
    assert {w.file for w in warnings} == {"huge.json", "float.json"} and len(records) == 5
    assert groups(records)[0] == default_group(records) == shipped
    assert default_choice(records, None) == (shipped.key, "fusion-l1")  # what a visitor sees first
    # a caller that skipped validation cannot be captured either
    assert groups(records + [huge])[0] == shipped
    # nor by a larger study of another kind with as many paired seeds
    for seed in (1, 2):
        for model in ("baseline", "fusion-l1"):
            other = ner_record(f"seed-{model}-s{seed}", model, seed, _scores_stub(), 10_000_000, 1000, "seed-study")
            (tmp_path / f"seed-{model}-s{seed}.json").write_text(json.dumps(other))
    records, _ = load_runs(tmp_path)
    assert len(records) == 9 and default_group(records) == shipped


def _scores_stub() -> dict:
    return {lang: {"precision": value, "recall": value, "f1": value, "support": 10, "per_type": {}}
            for lang, value in (("en", 0.8), ("de", 0.6))}


# --------------------------------------------------------------------------------------------
# CSV cells
# --------------------------------------------------------------------------------------------

def test_csv_cells_never_start_a_formula():
    assert csv_cell('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    for text in ("+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    for value in (-0.5, "-0.5", "+3", "1e-3", 0, None, "de", "[−25.2, −14.3]", "[-25.2, -14.3]"):
        assert csv_cell(value) == value
    frame = pd.DataFrame({"language": ["de", "=1+1"], "Δ F1": [-0.5, 0.45], "=col": ["@x", None]})
    text = csv_safe(frame).to_csv(index=False)
    assert text.splitlines() == ["language,Δ F1,'=col", "de,-0.5,'@x", "'=1+1,0.45,"]
    assert list(frame["language"]) == ["de", "=1+1"]  # the table itself is untouched


# --------------------------------------------------------------------------------------------
# Every stored file still loads
# --------------------------------------------------------------------------------------------

@pytest.mark.slow  # every shipped run
def test_every_stored_file_still_loads():
    for folder, count in (("runs", 68), ("probe_runs", 117), ("pos_runs", 6), ("pair_runs", 12)):
        records, warnings = load_runs(REPO / "assets" / folder, task=None)
        choices = {p.name for p in (REPO / "assets" / folder).glob(LAYER_CHOICE_GLOB)}
        assert {w.file for w in warnings} == choices, warnings  # layer choices are not runs
        assert len(records) >= count
    for path in sorted([*(REPO / "assets" / "pos_runs").glob(LAYER_CHOICE_GLOB),
                        *(REPO / "assets" / "pair_runs").glob(LAYER_CHOICE_GLOB)]):
        load_layer_choice(path)
    found = pos_results(REPO / "assets" / "pos_runs")
    assert [result.seed for result in found] == [13, 14, 15]
    # the default view is the shipped recipe's, and its CSV is written as it was (no cell guarded)
    records, _ = load_runs(REPO / "assets" / "runs")
    group = default_group(records)
    assert group.key == "zero-shot|en 20000 sent × 3 ep|test|None"
    table = language_table(records, group, "fusion-l11")
    assert csv_safe(table).to_csv(index=False) == table.to_csv(index=False)
    assert all(csv_cell(code) == code for code in runs_dataframe(records)["language"])
