import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from fusion.__main__ import _add_options, main
from fusion.evaluation.evaluate import EvaluateOptions
from fusion.training.train import TrainOptions

GOLD = "Angela\tB-PER\nMerkel\tI-PER\nvisited\tO\nParis\tB-LOC\n\nRome\tB-LOC\n"


def test_predict_prints_entities_and_json(tiny_checkpoints, capsys):
    assert main(["predict", "--checkpoint", tiny_checkpoints["fusion"], "Angela Merkel", ""]) == 0
    out = capsys.readouterr().out
    assert "Angela Merkel" in out and "->" in out
    assert main(["predict", "--checkpoint", tiny_checkpoints["fusion"], "--json", "--explain",
                 "Paris"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["words"][0]["text"] == "Paris" and len(result["explanation"]["gates"]) == 3


def test_predict_with_a_bad_checkpoint_says_why(tmp_path, capsys):
    assert main(["predict", "--checkpoint", str(tmp_path), "Paris"]) == 2
    assert "tagger_config.json: missing" in capsys.readouterr().err


def test_evaluate_writes_a_run_record(tmp_path, tiny_checkpoints, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test-xx.tsv").write_text(GOLD)
    output = tmp_path / "run.json"
    assert main(["evaluate", "--checkpoint", tiny_checkpoints["baseline"], "--data",
                 str(tmp_path / "data"), "--languages", "xx", "--output", str(output)]) == 0
    record = json.loads(output.read_text())
    assert record["data"]["sentences"] == {"xx": 2} and "average F1" in capsys.readouterr().out


def test_every_option_has_help_text(capsys):
    for options_class in (TrainOptions, EvaluateOptions):
        for field in dataclasses.fields(options_class):
            assert field.metadata.get("help", "").strip(), f"{options_class.__name__}.{field.name}"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "steps between resume points" in capsys.readouterr().out


@dataclasses.dataclass
class _Toggles:
    verbose: bool = dataclasses.field(default=False, metadata={"help": "say more"})
    fast: bool = dataclasses.field(default=True, metadata={"help": "go fast"})
    limit: int | None = dataclasses.field(default=None, metadata={"help": "at most N"})


def test_bool_options_take_flag_and_no_flag():
    parser = argparse.ArgumentParser()
    _add_options(parser, _Toggles)
    assert vars(parser.parse_args([])) == {"verbose": False, "fast": True, "limit": None}
    assert vars(parser.parse_args(["--verbose", "--no-fast", "--limit", "3"])) == {
        "verbose": True, "fast": False, "limit": 3}
    assert parser.parse_args(["--no-verbose"]).verbose is False
    with pytest.raises(SystemExit):
        parser.parse_args(["--verbose", "False"])  # no value: "False" is not read as True


def _broken_inputs(tmp_path, tiny_checkpoints):
    """(command line, words the message must hold): each a user's mistake, none a bug."""
    import shutil

    truncated = tmp_path / "truncated"
    shutil.copytree(tiny_checkpoints["baseline"], truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    data = tmp_path / "data"
    data.mkdir()
    (data / "test-xx.tsv").write_text(GOLD)
    (data / "test-yy.tsv").write_text("Paris\tLOCATION\n")
    (data / "train-en.tsv").write_text("Paris\tLOCATION\n")
    (data / "dev-en.tsv").write_text(GOLD)
    baseline = tiny_checkpoints["baseline"]
    return [
        (["evaluate", "--checkpoint", str(truncated), "--data", str(data), "--languages", "xx"], "model.safetensors"),
        (["evaluate", "--checkpoint", baseline, "--data", str(data), "--languages", "zz"], "zz"),
        (["evaluate", "--checkpoint", baseline, "--data", str(data), "--languages", "yy"], "LOCATION"),
        (["evaluate", "--checkpoint", baseline, "--data", str(tmp_path / "nowhere")], "nowhere"),
        (["predict", "--checkpoint", str(truncated), "Paris"], "model.safetensors"),
        (["train", "--output-dir", str(tmp_path / "out"), "--data", str(data), "--encoder", str(tmp_path / "no-encoder")],
         "no-encoder"),
        (["train", "--output-dir", str(tmp_path / "out"), "--data", str(data), "--encoder",
          json.loads((Path(baseline) / "tagger_config.json").read_text())["config"]["encoder"]], "LOCATION"),
        (["probe", "--data", str(tmp_path / "nowhere"), "--work-dir", str(tmp_path / "w"), "--runs-dir",
          str(tmp_path / "r"), "--encoder", str(tmp_path / "no-encoder")], "no-encoder"),
    ]


def test_a_users_mistake_is_one_line_never_a_traceback(tmp_path, tiny_checkpoints, capsys):
    for argv, named in _broken_inputs(tmp_path, tiny_checkpoints):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        # one "error: ..." line (a progress bar may stand before it), naming what was wrong
        assert err.count("error: ") == 1 and "Traceback" not in err and named in err, (argv, err)


def test_an_accuracy_run_is_summed_up_over_its_target_languages_only():
    from fusion.__main__ import accuracy_line

    record = {"scores": {"en": {}, "de": {}}, "source_language": "en", "average_accuracy_targets": 0.72}
    assert accuracy_line("xnli accuracy", record) == "xnli accuracy, target average 72.00 over 1 target language"
    alone = {"scores": {"en": {}}, "source_language": "en", "average_accuracy_targets": None}
    assert "no target language scored" in accuracy_line("xnli accuracy", alone)
