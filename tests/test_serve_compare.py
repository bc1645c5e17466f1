"""serve/compare.py: Compare on tiny random taggers, odd inputs included, and the one view kept
per compared text, which the page's later calls (layout, downloads, Inside, Layers) read."""

import pytest

from serve import compare
from serve.compare import CompareService
from serve.slots import load_slot


def _joined(segments) -> str:
    return "".join(text for text, _ in segments)


def test_compare_on_tiny_models(models):
    text = "Angela Merkel visited Paris."
    view = compare.compare_text(models, text)
    for side in ("baseline", "fusion"):
        assert _joined(view.highlights[side]) == text
    assert _joined(view.disagreement) == text
    assert "Baseline found" in view.message and "1 sentence, 5 words" in view.message
    assert set(view.table["model"]) <= {"baseline", "fusion"}
    assert list(view.table.columns) == compare.TABLE_COLUMNS
    assert [text[start:end] for start, end in view.words] == ["Angela", "Merkel", "visited", "Paris", "."]


@pytest.mark.parametrize("text", [
    "", "   \n\t ", "😀😀 🇩🇪 👍🏽", "a\x00b\x07c\x1b[31m\u200b\ufeff", "Paris 北京 Москва القاهرة ירושלים मुंबई",
    "\ud800 lone surrogate", "\x00\x07\x1f", "x" * 50_000, ("Tokyo " * 2000).strip(), "北京" * 2000,
], ids=lambda text: repr(text[:12]) + (f"…{len(text)}" if len(text) > 12 else ""))
def test_compare_never_raises_on_odd_text(models, text):
    from fusion.tagging.batching import max_window_tokens
    from fusion.tagging.budget import fit_to_budget

    view = compare.compare_text(models, text)
    assert isinstance(view.message, str)
    shown = text[:compare.TEXT_LIMIT].replace("\ud800", "\ufffd")  # cleaned at the boundary
    tagger = models["baseline"].tagger
    fitted = fit_to_budget(shown, tagger.tokenizer, compare.TOKEN_BUDGET, max_window_tokens(tagger))
    if not fitted.complete:  # over the token budget: a prefix is tagged, and the message says so
        assert f"{fitted.total_tokens:,} sub-word tokens" in view.message
        assert (f"first {fitted.end:,} characters were tagged" if fitted.end else
                "nothing was tagged") in view.message
        shown = shown[:fitted.end]
    if shown.strip():
        assert _joined(view.highlights["baseline"]) == shown
    else:
        assert view.highlights == {} and ("Type a sentence" in view.message or "nothing was tagged" in view.message)
    if len(text) > compare.TEXT_LIMIT:
        assert f"{len(text):,} characters" in view.message and "5,000" in view.message


def test_compare_marks_right_to_left_text(models):
    assert compare.compare_text(models, "דוד כהן נסע לירושלים").direction == "rtl"
    assert compare.compare_text(models, "Paris").direction == "ltr"


def test_compare_with_one_model_missing(models):
    partial = {"baseline": models["baseline"], "fusion": load_slot("fusion", None)}
    view = compare.compare_text(partial, "Angela Merkel visited Paris.")
    assert "fusion model is not loaded" in view.message
    assert "fusion" not in view.highlights and view.disagreement is None
    assert set(view.table["model"]) <= {"baseline"}


def test_compare_says_how_the_text_was_cut(models):
    view = compare.compare_text(models, "Paris is big. Angela Merkel visited Berlin!\nA list item")
    assert "3 sentences, 12 words" in view.message
    assert view.sentence_at(view.text.index("Berlin")) == 1 and view.sentence_at(10**6) == 0


def test_one_view_per_compared_text_is_kept_and_read_again(models, monkeypatch):
    """The page's calls after a Compare (layout, downloads, Inside, Layers) read the view Compare
    made: the text is tagged once and cut into sentences once."""
    service = CompareService(models)
    cut = []
    real_segment = compare.segment
    monkeypatch.setattr(compare, "segment", lambda *a, **k: cut.append(1) or real_segment(*a, **k))
    arabic = service.compare("زار محمد علي مدينة القاهرة. ثم عاد.")
    assert service.view(arabic.text) is arabic and service.view(arabic.text, tagged=False) is arabic
    assert cut == [] and service.recent.find(arabic.key) is arabic
    # a text Compare never saw: Inside and Layers need only its sentences and words
    uncached = service.view("Paris is big. Rome is old. " + "x" * 7, tagged=False)
    assert uncached.sentences == [(0, 13), (14, 26), (27, 34)] and not uncached.highlights and not uncached.tagged
    assert service.view(uncached.text, tagged=False) is uncached and cut == [1]
    # the page's layout and downloads need the tags: a view the cache has dropped is tagged again
    dropped = "Angela Merkel flew to Rome, dropped from the cache."
    view = service.view(dropped)
    assert view.tagged and view.highlights and len(view.table) == len(view.rows) > 0
    assert service.view(dropped) is view  # kept now
    assert service.view(uncached.text).tagged  # the untagged view is tagged once asked to be


def test_a_busy_service_says_so_and_a_failing_text_fails_alone(models, monkeypatch):
    service = CompareService(models, max_waiting=0)
    assert "The server is busy" in service.compare("Paris").message
    real = compare.compare_texts

    def breaks_on_bad(slots, texts):
        if "bad" in texts:
            raise RuntimeError("this text breaks the model")
        return real(slots, texts)

    monkeypatch.setattr(compare, "compare_texts", breaks_on_bad)
    service = CompareService(models)
    failed = service.compare("bad")
    assert "this text breaks the model" in failed.message and failed.text == "" and not failed.highlights
    assert service.compare("Paris").highlights
