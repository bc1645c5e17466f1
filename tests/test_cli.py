import json

from fusion.__main__ import main

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
