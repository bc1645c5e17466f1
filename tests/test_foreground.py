"""Background work (scoring an upload) steps aside for Compare, and can be cancelled."""

import threading

import pytest

from serve.foreground import CancelFlags, Cancelled, Foreground
from ui.tabs import evaluate

CONLL = "Angela\tB-PER\nMerkel\tI-PER\nbesuchte\tO\nParis\tB-LOC\n\nDie\tO\nNew\tB-ORG\nYork\tI-ORG\nTimes\tI-ORG\n"


def test_background_work_waits_until_no_compare_runs():
    gate = Foreground(quiet_seconds=0.05)
    assert gate.wait_until_quiet() < 1  # nobody comparing: no wait
    inside, ended, order = threading.Event(), threading.Event(), []

    def compare():
        with gate.request():
            inside.set()
            ended.wait(5)
            order.append("compare ended")

    thread = threading.Thread(target=compare)
    thread.start()
    inside.wait(5)
    threading.Timer(0.2, ended.set).start()
    gate.wait_until_quiet()
    order.append("background resumed")
    thread.join(5)
    assert order == ["compare ended", "background resumed"]


def test_a_wait_can_be_bounded():
    gate = Foreground(quiet_seconds=60)
    with gate.request():  # a Compare that never ends: the bounded wait still returns
        assert gate.wait_until_quiet(limit=0.1) >= 0.1


def test_a_cancelled_wait_raises_at_once():
    gate = Foreground(quiet_seconds=60)
    with gate.request():
        with pytest.raises(Cancelled):
            gate.wait_until_quiet(cancelled=lambda: True)


def test_cancel_flags_belong_to_one_page_and_one_job():
    flags = CancelFlags()
    assert flags.cancel("page-a") is False  # nothing running there
    job = flags.start("page-a")
    assert flags.cancel("page-b") is False and not job.is_set()
    assert flags.cancel("page-a") is True and job.is_set()
    newer = flags.start("page-a")
    flags.finish("page-a", job)  # the old job ending leaves the newer one's flag alone
    assert flags.cancel("page-a") is True and newer.is_set()
    flags.finish("page-a", newer)
    assert flags.cancel("page-a") is False


def test_an_upload_says_what_scoring_it_will_take(models, tmp_path):
    upload = tmp_path / "mine.conll"
    upload.write_text((CONLL + "\n") * 50, encoding="utf-8")
    rate = evaluate.ScoringRate(seconds_per_token=0.01)
    tokens = evaluate.upload_tokens(models, evaluate.read_upload(str(upload)).dataset)
    text = evaluate.describe_upload(models, str(upload), rate)
    assert "**100** sentences" in text and f"{tokens:,} sub-word tokens" in text
    assert f"about **{tokens * 0.01:.0f} s**" in text and "2-core machine" in text
    evaluate.score_upload(models, str(upload), "de", [], rate=rate)
    assert rate.measured and rate.seconds_per_token != 0.01  # now measured on this server
    assert "measured on this server" in evaluate.describe_upload(models, str(upload), rate)
    bad = tmp_path / "picture.conll"
    bad.write_bytes(b"\x89PNG\r\n")
    assert "PNG image" in evaluate.describe_upload(models, str(bad), rate)
    assert evaluate.describe_upload(models, None, rate) == ""


def test_scoring_asks_before_its_first_batch_and_stops_when_told(models, tmp_path, monkeypatch):
    upload = tmp_path / "mine.conll"
    upload.write_text((CONLL + "\n") * 20, encoding="utf-8")
    scored = []
    real = evaluate.predict_dataset
    monkeypatch.setattr(evaluate, "predict_dataset", lambda *a, **k: scored.append(1) or real(*a, **k))
    asked = []

    def cancel_at_once(fraction, text):
        asked.append(fraction)
        raise Cancelled()

    with pytest.raises(Cancelled):
        evaluate.score_upload(models, str(upload), "de", [], progress=cancel_at_once)
    assert asked == [0.0] and not scored  # stopped before any model ran
    fractions = []
    evaluate.score_upload(models, str(upload), "de", [], progress=lambda f, t: fractions.append(f))
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
