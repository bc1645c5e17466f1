"""ui/tabs/evaluate.py: scoring an uploaded CoNLL file on tiny random taggers (no app built)."""


from serve.runs import read_results
from ui.tabs import evaluate

CONLL = "Angela\tB-PER\nMerkel\tI-PER\nbesuchte\tO\nParis\tB-LOC\n\nDie\tO\nNew\tB-ORG\nYork\tI-ORG\nTimes\tI-ORG\n"


def plain_text(markdown: str) -> str:
    """What a reader sees of escaped Markdown: the backslashes gone."""
    return markdown.replace("\\", "")


def test_score_upload(models, runs_dir, tmp_path):  # noqa: F811 — the fixture
    records, _ = read_results(runs_dir)
    path = tmp_path / "mine.tsv"
    path.write_text(CONLL, encoding="utf-8")
    calls = []
    message, table, figure, views = evaluate.score_upload(models, str(path), "de", records,
                                                          progress=lambda fraction, text: calls.append(fraction))
    assert "Scored **2** sentences" in message and "German" in message
    assert "read as utf\\-8 \\(valid UTF\\-8\\)" in message
    assert calls and calls[-1] == 1.0
    mine = table[table["source"] == "your file"]
    assert set(mine["model"]) == {"baseline", "fusion-l1"}
    assert set(mine["type"]) == {"overall", "LOC", "ORG", "PER"}
    stored = table[table["source"].str.startswith("stored")]
    assert stored.set_index(["model", "type"]).loc[("baseline", "overall"), "F1"] == 61.0
    assert len(figure.data) == 4  # file · baseline, file · fusion, stored · baseline, stored · fusion
    for view in views:  # the upload's sentences where the two models differ, with their mistakes
        assert view.predicted["baseline"] != view.predicted["fusion"]
        assert set(view.errors) == {"baseline", "fusion"}


def test_score_upload_refuses_clearly(models, tmp_path, monkeypatch):
    bad = tmp_path / "bad.tsv"
    bad.write_text("Angela\tB-PER\nMerkel\n", encoding="utf-8")
    message, table, _, views = evaluate.score_upload(models, str(bad), "de", [])
    assert views == []
    assert "bad.tsv:2" in plain_text(message) and str(tmp_path) not in message and table.empty
    assert "expected a token, then a tab" in plain_text(message)

    latin = tmp_path / "latin.tsv"  # an upload cannot be given an encoding: it is found
    latin.write_bytes((CONLL.replace("Angela", "Jürgen") * 20).encode("latin-1"))
    assert "read as" in evaluate.score_upload(models, str(latin), "de", [])[0]
    picture = tmp_path / "picture.tsv"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert "PNG image" in evaluate.score_upload(models, str(picture), "de", [])[0]

    assert "Upload a CoNLL-style file" in evaluate.score_upload(models, None, "de", [])[0]
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n\n", encoding="utf-8")
    assert "no sentences" in evaluate.score_upload(models, str(empty), "de", [])[0]

    good = tmp_path / "good.tsv"
    good.write_text(CONLL, encoding="utf-8")
    monkeypatch.setattr(evaluate, "UPLOAD_SENTENCE_LIMIT", 1)
    assert "more than 1 sentences" in evaluate.score_upload(models, str(good), "de", [])[0]
    monkeypatch.setattr(evaluate, "UPLOAD_BYTES_LIMIT", 10)
    assert "the limit is" in evaluate.score_upload(models, str(good), "de", [])[0]


def test_the_sample_upload_file_is_scored(models):
    message = evaluate.score_upload(models, str(evaluate.SAMPLE_FILE), "en", []).status
    assert "Scored **8** sentences" in message
