"""The verdict "this record agrees with its sidecar", stored across starts in the cache folder
(`checked_once` in fusion/evaluation/stored.py, `agrees` in fusion/evaluation/runs.py): a second
start with the same bytes does not check again; other bytes are checked again and refused when
wrong; a refusal is never stored; a cache folder that cannot be used is no cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import edit_sidecar, write_ner_run, zero_de_true_positives

from fusion.evaluation import runs, stored
from fusion.evaluation.predictions import PredictionsError
from fusion.evaluation.runs import load_run, load_runs


@pytest.fixture
def checks(monkeypatch, tmp_path) -> list[str]:
    """An empty cache folder of this test's own, and the names of the records check_predictions
    was run on (it still runs). The in-process memory is cleared before and after."""
    monkeypatch.setenv("LFE_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    original = runs.check_predictions
    monkeypatch.setattr(runs, "check_predictions",
                        lambda record, folder, source=None: calls.append(record["name"]) or
                        original(record, folder, source))
    stored.clear_cache()
    yield calls
    stored.clear_cache()


def _fresh_start(folder: Path):
    """load_runs as a new process would: nothing remembered in memory, only the cache folder."""
    stored.clear_cache()
    return load_runs(folder)


def _verdicts(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache" / stored.VERDICTS_FOLDER
    return sorted(folder.glob("*.verdict.json")) if folder.is_dir() else []


def test_a_second_start_does_not_check_again(tmp_path, checks, monkeypatch):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    for name in ("a", "b"):
        write_ner_run(runs_dir, name)
    first, warnings = _fresh_start(runs_dir)
    assert warnings == [] and sorted(checks) == ["a", "b"] and len(_verdicts(tmp_path)) == 2
    second, warnings = _fresh_start(runs_dir)
    assert warnings == [] and sorted(checks) == ["a", "b"]  # not checked again
    assert second == first
    monkeypatch.setattr(runs, "CHECK_VERSION", runs.CHECK_VERSION + 1)  # a changed check checks again
    _fresh_start(runs_dir)
    assert sorted(checks) == ["a", "a", "b", "b"]


def test_a_changed_sidecar_is_checked_again_and_refused(tmp_path, checks):
    path = write_ner_run(tmp_path, "a")
    load_run(path)
    assert checks == ["a"]
    sidecar = tmp_path / "a.predictions.json.gz"
    sha256 = edit_sidecar(sidecar, zero_de_true_positives)  # the record still holds the old sha256
    stored.clear_cache()
    with pytest.raises(PredictionsError, match="its sha256 differs from the one its record holds"):
        load_run(path)
    record = json.loads(path.read_text())
    record["predictions"]["sha256"] = sha256  # ... and now the new one: the counts contradict it
    path.write_text(json.dumps(record))
    for _ in range(2):  # refused each time, never from a stored verdict
        stored.clear_cache()
        with pytest.raises(PredictionsError, match="de counts do not give the stored"):
            load_run(path)
    assert checks == ["a", "a", "a", "a"]
    assert len(_verdicts(tmp_path)) == 1  # the first record's pass only


def test_a_changed_record_is_checked_again_and_refused_when_wrong(tmp_path, checks):
    path = write_ner_run(tmp_path, "a")
    load_run(path)
    record = json.loads(path.read_text())
    path.write_text(json.dumps(record, indent=1))  # other bytes, the same claims: checked, agrees
    stored.clear_cache()
    assert load_run(path) == record and checks == ["a", "a"]
    record["average_f1"] = min(1.0, record["average_f1"] + 0.1)
    path.write_text(json.dumps(record))
    stored.clear_cache()
    with pytest.raises(PredictionsError, match="a.json: average_f1 is not the mean"):
        load_run(path)
    assert checks == ["a", "a", "a"]


def test_a_refused_record_leaves_no_verdict(tmp_path, checks):
    path = write_ner_run(tmp_path, "a")
    record = json.loads(path.read_text())
    record["predictions"]["sha256"] = edit_sidecar(tmp_path / "a.predictions.json.gz", zero_de_true_positives)
    path.write_text(json.dumps(record))
    records, warnings = _fresh_start(tmp_path)
    assert records == [] and [w.file for w in warnings] == ["a.json"]
    assert checks == ["a"] and _verdicts(tmp_path) == []


def test_an_unusable_cache_folder_still_loads_and_checks(tmp_path, checks, monkeypatch):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    write_ner_run(runs_dir, "a")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LFE_CACHE_DIR", str(blocker / "cache"))  # cannot be made, read or written
    for _ in range(2):
        records, warnings = _fresh_start(runs_dir)
        assert [r["name"] for r in records] == ["a"] and warnings == []
    assert checks == ["a", "a"]


def test_a_damaged_verdict_is_no_verdict(tmp_path, checks):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    write_ner_run(runs_dir, "a")
    _fresh_start(runs_dir)
    [verdict] = _verdicts(tmp_path)
    verdict.write_text(verdict.read_text().replace("passed", "failed"))
    records, _ = _fresh_start(runs_dir)
    assert [r["name"] for r in records] == ["a"] and checks == ["a", "a"]  # checked again, stored again
    _fresh_start(runs_dir)
    assert checks == ["a", "a"] and len(_verdicts(tmp_path)) == 1
    # intact bytes (its sha256 record rewritten to match) that say something else: no verdict either
    other = verdict.read_bytes().replace(b"passed", b"failed")
    verdict.write_bytes(other)
    verdict.with_name(verdict.name + ".sha256.json").write_text(
        json.dumps({"sha256": hashlib.sha256(other).hexdigest()}))
    _fresh_start(runs_dir)
    assert checks == ["a", "a", "a"]
