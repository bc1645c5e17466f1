"""ui/tabs/evaluate.py: scoring an uploaded CoNLL file on tiny random taggers (no app built, but
for one slow test: a scoring stops when its page goes)."""

import socket
import threading
import time

import pytest

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


def test_the_chart_sets_the_file_beside_one_group_of_stored_runs(runs_dir):
    """Every group's stored scores are in the table (the default group first), but the chart
    shows the default group's only: ~20 bars per type said nothing."""
    import json

    from conftest import make_record

    for model, layer in (("baseline", None), ("fusion-l10", 10), ("fusion-l2", 2)):
        small = make_record(f"small-{model}", model, layer, "test", {"en": 0.5, "de": 0.3}, 3,
                            train_sentences=2000, study="seed-study")
        (runs_dir / f"small-{model}.json").write_text(json.dumps(small), encoding="utf-8")
    records, _ = read_results(runs_dir)
    rows, series = evaluate.stored_rows(records, "de")
    sources = list(dict.fromkeys(row["source"] for row in rows))
    assert len(sources) == 2 and "20000" in sources[0]  # the default group's rows first
    small_models = list(dict.fromkeys(row["model"] for row in rows if "2000 sent" in row["source"]))
    assert small_models == ["baseline", "fusion-l2", "fusion-l10"]  # natural order
    assert [item.name for item in series] == ["baseline · stored (en 20000 sent × 3 ep)",
                                              "fusion-l1 · stored (en 20000 sent × 3 ep)"]


def test_the_scores_show_one_decimal_and_wait_for_a_scored_file(models, runs_dir, tmp_path):
    import gradio as gr

    from ui import markup
    from ui.common import decimals

    records, _ = read_results(runs_dir)
    path = tmp_path / "mine.tsv"
    path.write_text(CONLL, encoding="utf-8")
    table = evaluate.score_upload(models, str(path), "de", records).scores
    shown = gr.Dataframe(interactive=False).postprocess(decimals(table, whole=("support",))).metadata
    f1 = [row[evaluate.SCORE_COLUMNS.index("F1")] for row in shown["display_value"]]
    assert all(len(value.split(".")[1]) == 1 for value in f1)  # "61.0", never "61"
    assert "dataset.scored" in markup.SCORED_JS and '[data-scored="yes"]) #upload-results' in markup.PAGE_CSS


def test_score_upload_refuses_clearly(models, tmp_path, monkeypatch):
    bad = tmp_path / "bad.tsv"
    bad.write_text("Angela\tB-PER\nMerkel\n", encoding="utf-8")
    message, table, _, views = evaluate.score_upload(models, str(bad), "de", [])
    assert views == []
    assert "bad.tsv:2" in plain_text(message) and str(tmp_path) not in message and table.empty
    assert "expected a token, then a tab" in plain_text(message)

    latin = tmp_path / "latin.tsv"  # an encoding not given is found (or guessed, and said so)
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


WIKIANN_RAW = "\n".join(f"de:{line}" if line else line for line in CONLL.split("\n"))


def test_a_wikiann_raw_upload_scores_what_its_stripped_form_scores(models, tmp_path):
    """WikiANN's public files prefix every token with its language ("de:Angela"): read as it is,
    no model knows those tokens and both score about 0, with no word said."""
    raw, stripped = tmp_path / "raw.tsv", tmp_path / "stripped.tsv"
    raw.write_text(WIKIANN_RAW, encoding="utf-8")
    stripped.write_text(CONLL, encoding="utf-8")
    as_raw = evaluate.score_upload(models, str(raw), "de", [])
    as_stripped = evaluate.score_upload(models, str(stripped), "de", [])
    assert as_raw.scores.equals(as_stripped.scores) and not as_raw.scores.empty
    assert [view.tokens for view in as_raw.views] == [view.tokens for view in as_stripped.views]
    assert "8 of 8 tokens had a language prefix 'de:'; it was removed." in plain_text(as_raw.status)
    assert "language prefix" not in as_stripped.status
    assert "language prefix 'de:'" in plain_text(evaluate.describe_upload(models, str(raw)))


def test_a_layout_on_which_both_models_would_score_0_is_named_not_scored(models, tmp_path, monkeypatch):
    scored = []
    monkeypatch.setattr(evaluate, "predict_dataset", lambda *a, **k: scored.append(1))
    swapped = tmp_path / "swapped.tsv"
    swapped.write_text("\n".join("\t".join(reversed(line.split("\t"))) for line in CONLL.split("\n")),
                       encoding="utf-8")
    message, table, _, views = evaluate.score_upload(models, str(swapped), "de", [])
    assert "the tags are in the first column" in plain_text(message) and "swap the columns" in message
    assert table.empty and views == [] and not scored
    ontonotes = tmp_path / "ontonotes.tsv"
    ontonotes.write_text(CONLL.replace("PER", "PERSON").replace("LOC", "GPE").replace("ORG", "NORP"), encoding="utf-8")
    message = plain_text(evaluate.score_upload(models, str(ontonotes), "de", []).status)
    assert "none of the entity types the models tag (LOC, ORG, PER)" in message and "PERSON (2 tokens)" in message
    assert not scored
    misc = tmp_path / "misc.tsv"
    misc.write_text(CONLL + "\nGrüne\tB-MISC\n", encoding="utf-8")
    monkeypatch.undo()
    message = plain_text(evaluate.score_upload(models, str(misc), "de", []).status)
    assert "Scored **3** sentences" in message and "count as O: MISC (1 token)" in message


SPANISH = "José\tB-PER\nMuñoz\tI-PER\nvive\tO\nen\tO\nEspaña\tB-LOC\n.\tO\n\nEl\tO\nBanco\tB-ORG\nde\tI-ORG\nEspaña\tI-ORG\n\n"


def test_a_guessed_encoding_shows_its_words_and_another_can_be_picked(models, tmp_path):
    latin = tmp_path / "es.tsv"
    latin.write_bytes(SPANISH.encode("latin-1"))
    guessed = plain_text(evaluate.score_upload(models, str(latin), "es", []).status)
    assert "read as cp1252 (guessed): Muñoz, España, José" in guessed
    assert "The encoding is a guess (cp1250" in guessed and "pick the file's encoding" in guessed
    estimate = plain_text(evaluate.describe_upload(models, str(latin)))
    assert "read as cp1252 (guessed): Muñoz, España" in estimate
    chosen = plain_text(evaluate.score_upload(models, str(latin), "es", [], encoding="cp1250").status)
    assert "read as cp1250 (chosen): José, Muńoz, Espańa" in chosen and "guess" not in chosen
    assert "cp1250 (chosen)" in plain_text(evaluate.describe_upload(models, str(latin), encoding="cp1250"))
    wrong = plain_text(evaluate.score_upload(models, str(latin), "es", [], encoding="utf-8").status)
    assert "not valid utf-8 (line 1, byte 3" in wrong


@pytest.mark.slow
def test_a_scoring_stops_when_its_page_goes_and_the_next_upload_is_scored(models, runs_dir, monkeypatch):
    """Served: a page starts scoring and its connection closes (a tab closed, a laptop shut);
    Gradio stops iterating its event, the scoring stops at its next batch, and the line is free."""
    import httpx
    from gradio_client import Client, handle_file

    from serve.services import Services
    from ui import page

    real, asked, stopped = evaluate.predict_dataset, [], threading.Event()

    def endless(tagger, dataset, progress=None, **options):
        try:
            while True:  # a scoring that would run for ever: it asks between batches
                progress(0)
                asked.append(1)
                time.sleep(0.01)
        finally:
            stopped.set()

    monkeypatch.setattr(evaluate, "predict_dataset", endless)
    demo = page.build_page(Services.create(models, runs_dir=runs_dir, examples=[]))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    page.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        api = f"http://127.0.0.1:{port}/gradio_api"
        with httpx.Client(timeout=60) as http:
            path = http.post(f"{api}/upload", files={"files": ("mine.tsv", CONLL.encode())}).json()[0]
            data = [{"path": path, "meta": {"_type": "gradio.FileData"}}, "de", "auto"]
            event = http.post(f"{api}/call/evaluate", json={"data": data}).json()["event_id"]
            with http.stream("GET", f"{api}/call/evaluate/{event}") as stream:
                for _ in stream.iter_lines():
                    if asked:
                        break  # the scoring runs: now the page goes, mid-stream
        assert stopped.wait(60)  # ... and the scoring stops at its next batch
        monkeypatch.setattr(evaluate, "predict_dataset", real)
        tsv = runs_dir / "mine.tsv"
        tsv.write_text(CONLL, encoding="utf-8")
        message = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(handle_file(str(tsv)), "de",
                                                                            api_name="/evaluate")[0]
        assert "Scored **2** sentences" in message
    finally:
        demo.close()
