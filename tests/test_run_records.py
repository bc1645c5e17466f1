"""One run-record format for every study: NER taggers, layer probes, POS taggers and sentence-pair
classifiers are all validated by `fusion.evaluation.runs.validate_run` / `load_run`, each with a
sidecar NAME.predictions.json.gz named in `predictions: {file, sha256}`; the stored POS and pair
accuracies recompute from their sidecars."""

import copy
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from fusion.evaluation.pos import write_pos_sidecar
from fusion.evaluation.predictions import SIDECAR_SUFFIX, PredictionsError
from fusion.evaluation.runs import (PAIRS_STUDY, POS_STUDY, STUDIES, RunRecordError, load_run, load_runs,
                                    predictions_bytes, record_task, validate_run)
from fusion.studies.pos_results import LAYER_CHOICE_GLOB, load_layer_choice, load_pos_run

REPO = Path(__file__).resolve().parents[1]
# assets/<folder> -> the tasks of its records, and the study they all belong to (None: any NER study)
FOLDERS = {"runs": ({"ner"}, None), "probe_runs": ({"ner"}, None), "pos_runs": ({"pos"}, POS_STUDY),
           "pair_runs": ({"xnli", "pawsx"}, PAIRS_STUDY), "pos_runs/gpu-direct": ({"pos"}, POS_STUDY),
           "pair_runs/pawsx-cpu-k10": ({"pawsx"}, PAIRS_STUDY)}
# the accuracy records each folder holds. pos_runs: the POS study (baseline and fusion-l11 × seeds 13-15)
# and the 36 runs of POS after an intermediate task; pair_runs: XNLI's and PAWS-X's studies (6 each), the
# small direct XNLI runs (6) and XNLI after an intermediate task (all 36); the two subfolders:
# the POS study's direct runs made again on a GPU, and the CPU PAWS-X run whose seed 13 is shipped
ACCURACY_FOLDERS = {"pos_runs": 42, "pair_runs": 54, "pos_runs/gpu-direct": 6, "pair_runs/pawsx-cpu-k10": 6}


def stored_records(folder: str) -> list[Path]:
    path = REPO / "assets" / folder
    choices = set(path.glob(LAYER_CHOICE_GLOB))
    return sorted(p for p in path.glob("*.json") if p not in choices)


@pytest.mark.slow  # the shipped runs
@pytest.mark.parametrize("folder", FOLDERS)
def test_every_stored_record_loads_through_the_one_load_run(folder):
    paths = stored_records(folder)
    assert paths, f"no records in assets/{folder}"
    referenced = set()
    for path in paths:
        record = load_run(path)
        tasks, study = FOLDERS[folder]
        assert record_task(record) in tasks, path.name
        assert record["study"] in STUDIES
        assert record["study"] == study if study else record["study"] not in (POS_STUDY, PAIRS_STUDY), path.name
        if "predictions" not in record:  # the dev-split layer sweep stored no per-sentence predictions
            assert folder == "runs" and record["data"]["split"] == "dev", path.name
            continue
        sidecar = record["predictions"]["file"]
        assert sidecar == path.name.removesuffix(".json") + SIDECAR_SUFFIX
        predictions_bytes(record, path.parent)  # present, bounded, its sha256 the recorded one
        referenced.add(sidecar)
    on_disk = {p.name for p in (REPO / "assets" / folder).glob("*.gz")}
    assert on_disk == referenced  # one sidecar naming, no orphans (no old .sentences.json.gz left)


@pytest.mark.slow  # the shipped runs and their sidecars
@pytest.mark.parametrize("folder", ACCURACY_FOLDERS)
def test_stored_accuracies_recompute_from_their_sidecars(folder):
    """POS taggers and pair classifiers: read the gzip JSON directly (not through the loader): per
    language, the summed [correct, words] (or [correct, pairs]) counts give exactly the stored
    accuracy and support, and the averages follow."""
    paths = stored_records(folder)
    assert len(paths) == ACCURACY_FOLDERS[folder]
    for path in paths:
        record = json.loads(path.read_text(encoding="utf-8"))
        raw = (path.parent / record["predictions"]["file"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == record["predictions"]["sha256"]
        payload = json.loads(gzip.decompress(raw))
        assert payload["format"] == "lfe-pos-counts" and set(payload["languages"]) == set(record["scores"])
        for language, score in record["scores"].items():
            item = payload["languages"][language]
            assert item["sha256"] == record["data"]["sha256"][language]
            assert len(item["counts"]) == record["data"]["sentences"][language]
            correct, words = sum(c for c, _ in item["counts"]), sum(n for _, n in item["counts"])
            assert correct / words == score["accuracy"], (path.name, language)
            assert words == score["support"]
        accuracies = [s["accuracy"] for s in record["scores"].values()]
        targets = [s["accuracy"] for k, s in record["scores"].items() if k != record["source_language"]]
        # to rounding: Python 3.12's sum() of floats (the GPU runs') is compensated, 3.11's is not
        assert record["average_accuracy"] == pytest.approx(sum(accuracies) / len(accuracies), rel=1e-12)
        assert record["average_accuracy_targets"] == pytest.approx(sum(targets) / len(targets), rel=1e-12)
        loaded, counts = load_pos_run(path, record_task(record))  # the reader agrees
        assert loaded == record and set(counts) == set(record["scores"])


@pytest.mark.slow  # the shipped layer choices
def test_stored_layer_choices_are_choices_not_runs():
    choices = sorted((REPO / "assets" / "pos_runs").glob(LAYER_CHOICE_GLOB))
    assert [p.name for p in choices] == ["pos-dev-s13.json", "pos-dev-s14.json", "pos-dev-s15.json"]
    for path in choices:
        choice = load_layer_choice(path)
        assert path.name == f"pos-dev-s{choice['seed']}.json"
        with pytest.raises(RunRecordError):
            load_run(path)


def _pos_record(tmp_path: Path, name: str = "pos-x") -> Path:
    counts = {"en": [(3, 4), (2, 2)], "de": [(1, 3)]}
    hashes = {"en": "e" * 64, "de": "d" * 64}
    sidecar = write_pos_sidecar(tmp_path / f"{name}{SIDECAR_SUFFIX}", counts, hashes)
    record = {
        "schema_version": 1, "name": name, "study": POS_STUDY, "task": "pos",
        "checkpoint": {"path": "c", "sha256": "0" * 64, "encoder": "enc", "model": "baseline",
                       "fusion_layer": None, "training": {"language": "en", "dev_accuracy": 0.9}},
        "data": {"source": "udpos", "split": "test", "max_sentences_per_language": None,
                 "sentences": {"en": 2, "de": 1}, "sha256": hashes},
        "seed": 1, "scores": {"en": {"accuracy": 5 / 6, "support": 6}, "de": {"accuracy": 1 / 3, "support": 3}},
        "average_accuracy": (5 / 6 + 1 / 3) / 2, "average_accuracy_targets": 1 / 3, "source_language": "en",
        "predictions": {"file": sidecar.name, "sha256": hashlib.sha256(sidecar.read_bytes()).hexdigest()},
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


@pytest.mark.parametrize("breakage, message", [
    (lambda r: r.update(task="chunking"), "task must be one of"),
    (lambda r: r.pop("task"), "pos study record must have task pos"),  # absent = ner
    (lambda r: r["scores"]["en"].pop("accuracy"), r"scores.en.accuracy must be a number"),
    (lambda r: r["scores"].update(en={"precision": 1, "recall": 1, "f1": 1}), r"scores.en.accuracy"),
    (lambda r: r["scores"]["en"].update(support=-1), r"scores.en.support must be a whole number"),
    (lambda r: r.pop("average_accuracy"), "average_accuracy must be a number"),
    (lambda r: r.update(average_accuracy_targets=2.0), "average_accuracy_targets"),
    (lambda r: r["predictions"].update(file="../elsewhere.predictions.json.gz"), "predictions.file"),
    (lambda r: r["predictions"].update(file="pos-x.sentences.json.gz"), "predictions.file"),
    (lambda r: r["predictions"].update(sha256="abc"), "predictions.sha256"),
    (lambda r: r["data"].update(sha256={"en": 3}), "data.sha256"),
    (lambda r: r["checkpoint"]["training"].update(dev_accuracy=3), "dev_accuracy"),
])
def test_pos_records_of_the_wrong_shape_are_rejected_with_the_field_named(tmp_path, breakage, message):
    record = json.loads(_pos_record(tmp_path).read_text())
    validate_run(record)
    breakage(record)
    with pytest.raises(RunRecordError, match=message):
        validate_run(record, source="x.json")


def test_a_ner_record_needs_the_ner_scores():
    record = json.loads(next(p for p in stored_records("runs")).read_text())
    ner = copy.deepcopy(record)
    ner["scores"] = {lang: {"accuracy": 0.5} for lang in ner["scores"]}
    with pytest.raises(RunRecordError, match="precision must be a number"):
        validate_run(ner)
    ner = copy.deepcopy(record)
    ner["study"] = POS_STUDY
    with pytest.raises(RunRecordError, match="must have task pos"):
        validate_run(ner)


def test_the_pos_reader_checks_the_sidecar(tmp_path):
    path = _pos_record(tmp_path)
    record, counts = load_pos_run(path)
    assert counts["en"].tolist() == [[3, 4], [2, 2]] and record["task"] == "pos"
    sidecar = tmp_path / record["predictions"]["file"]
    original = sidecar.read_bytes()

    sidecar.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # not the recorded bytes
    with pytest.raises(PredictionsError, match="sha256 differs"):
        load_pos_run(path)

    def rewritten(counts, hashes=None, scores=None):
        write_pos_sidecar(sidecar, counts, hashes or record["data"]["sha256"])
        changed = copy.deepcopy(record)
        changed["predictions"]["sha256"] = hashlib.sha256(sidecar.read_bytes()).hexdigest()
        changed["scores"].update(scores or {})
        path.write_text(json.dumps(changed))

    rewritten({"en": [(4, 4), (2, 2)], "de": [(1, 3)]})  # consistent file, other counts
    with pytest.raises(PredictionsError, match="do not give the stored accuracy"):
        load_pos_run(path)
    rewritten({"en": [(3, 4), (2, 2)], "de": [(1, 3)]}, hashes={"en": "e" * 64, "de": "other"})
    with pytest.raises(PredictionsError, match="de does not hold the sentences"):
        load_pos_run(path)
    rewritten({"en": [(3, 4), (2, 2)]})
    with pytest.raises(PredictionsError, match="languages"):
        load_pos_run(path)
    rewritten({"en": [(5, 4), (2, 2)], "de": [(1, 3)]})
    with pytest.raises(PredictionsError, match="impossible counts"):
        load_pos_run(path)
    sidecar.unlink()
    with pytest.raises(PredictionsError, match="no such predictions file"):
        load_pos_run(path)

    with pytest.raises(RunRecordError, match="not a pos run record"):
        load_pos_run(stored_records("runs")[0])


def test_a_folder_reader_keeps_to_one_task(tmp_path):
    _pos_record(tmp_path, "pos-a")
    ner = stored_records("runs")[0]
    (tmp_path / ner.name).write_text(ner.read_text())
    sidecar = json.loads(ner.read_text())["predictions"]["file"]
    records, warnings = load_runs(tmp_path)  # a record whose sidecar is missing is refused, named
    assert records == [] and [(w.file, w.message) for w in warnings] == [
        ("baseline-s13.json", f"{sidecar}: no such predictions file"), ("pos-a.json", "a pos run, not ner")]
    (tmp_path / sidecar).write_bytes((ner.parent / sidecar).read_bytes())
    records, warnings = load_runs(tmp_path)  # the NER tables: a POS run is skipped, with a warning
    assert [r["name"] for r in records] == [json.loads(ner.read_text())["name"]]
    assert [(w.file, w.message) for w in warnings] == [("pos-a.json", "a pos run, not ner")]
    records, warnings = load_runs(tmp_path, task=None)
    assert len(records) == 2 and warnings == []


def test_a_layer_choice_must_choose_the_best_on_dev(tmp_path):
    path = tmp_path / "pos-dev-s1.json"
    path.write_text(json.dumps({"chosen": "fusion-l2", "seed": 1,
                                "english_dev_accuracy": {"fusion-l2": 0.8, "fusion-l4": 0.9}}))
    with pytest.raises(RunRecordError, match="not the best on English dev"):
        load_layer_choice(path)
    path.write_text(json.dumps({"chosen": "fusion-l2", "seed": "1", "english_dev_accuracy": {}}))
    with pytest.raises(RunRecordError, match="not a layer choice"):
        load_layer_choice(path)


def test_library_versions_name_a_missing_library_as_none(monkeypatch):
    """A POS or pair evaluation runs where datasets or seqeval is not installed (a lent GPU machine):
    its record says None for them instead of failing."""
    import importlib.metadata

    from fusion.evaluation.evaluate import library_versions

    installed = importlib.metadata.version

    def version(package):
        if package == "seqeval":
            raise importlib.metadata.PackageNotFoundError(package)
        return installed(package)

    monkeypatch.setattr(importlib.metadata, "version", version)
    versions = library_versions()
    assert versions["seqeval"] is None
    assert versions["datasets"] == installed("datasets") and versions["torch"]
