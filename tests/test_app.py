"""app.py: the view functions on tiny random taggers, then the served app driven by gradio_client."""

import json
import os
import re
import socket
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import app  # noqa: E402
from fusion.encoders import OFFLINE_ENCODER  # noqa: E402
from fusion.runs import validate_run  # noqa: E402
from ui import common, compare_tab, evaluate_tab, inside_tab, results_tab, tour  # noqa: E402
from ui.common import PageState, TaggerSlot  # noqa: E402

LANGS = ["en", "de", "ar", "zh"]
CONLL = "Angela\tB-PER\nMerkel\tI-PER\nbesuchte\tO\nParis\tB-LOC\n\nDie\tO\nNew\tB-ORG\nYork\tI-ORG\nTimes\tI-ORG\n"


# --------------------------------------------------------------------------------------------
# Fixtures: tiny models (tests/conftest.py builds the checkpoints) and hand-made run records
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def models(tiny_checkpoints):
    return app.load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"])


def make_record(name, model, fusion_layer, split, f1: dict, seed=13, sentences=100,
                train_sentences=20000, study=None) -> dict:
    """A run record of the shape fusion/evaluate.py's run_evaluation writes."""
    scores = {lang: {"precision": value, "recall": value, "f1": value, "support": 50,
                     "per_type": {t: {"precision": value, "recall": value, "f1": value, "support": 10}
                                  for t in ("LOC", "ORG", "PER")}}
              for lang, value in f1.items()}
    record = {
        "schema_version": 1, "name": name,
        "study": study or ("layer-sweep" if split == "dev" else "zero-shot"),
        "checkpoint": {"path": f"checkpoints/{model}", "sha256": "0" * 64, "encoder": OFFLINE_ENCODER,
                       "fusion_layer": fusion_layer, "model": model,
                       "training": {"seed": seed, "language": "en", "epochs": 3,
                                    "train_sentences": train_sentences, "dev_f1": f1["en"],
                                    "dev_sentences": 1000}},
        "data": {"source": "wikiann", "split": split, "max_sentences_per_language": sentences,
                 "sentences": {lang: sentences for lang in f1}, "sha256": {lang: "1" * 64 for lang in f1}},
        "seed": seed, "scores": scores, "average_f1": sum(f1.values()) / len(f1),
        "average_f1_targets": None, "source_language": "en", "versions": {}, "device": "cpu",
        "wall_seconds": 1.0, "date": "2025-01-01T00:00:00+00:00",
    }
    return validate_run(record)


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    """Two seeds of baseline and fusion-l1 on the test split, a 3-layer sweep, one broken file."""
    folder = tmp_path / "runs"
    folder.mkdir()
    records = [
        make_record("baseline-s1", "baseline", None, "test", {"en": 0.80, "de": 0.60, "ar": 0.40, "zh": 0.20}, 1),
        make_record("baseline-s2", "baseline", None, "test", {"en": 0.82, "de": 0.62, "ar": 0.42, "zh": 0.22}, 2),
        make_record("fusion-s1", "fusion-l1", 1, "test", {"en": 0.81, "de": 0.65, "ar": 0.38, "zh": 0.30}, 1),
        make_record("fusion-s2", "fusion-l1", 1, "test", {"en": 0.83, "de": 0.67, "ar": 0.40, "zh": 0.32}, 2),
    ] + [make_record(f"sweep-l{k}", f"fusion-l{k}", k, "dev", {"en": 0.7 + k / 100, "de": 0.5, "ar": 0.3 + k / 10})
         for k in range(3)]
    for record in records:
        (folder / f"{record['name']}.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "broken.json").write_text("{ not json", encoding="utf-8")
    return folder


def _joined(segments) -> str:
    return "".join(text for text, _ in segments)


def plain_text(markdown: str) -> str:
    """What a reader sees of escaped Markdown: the backslashes gone."""
    return markdown.replace("\\", "")


# --------------------------------------------------------------------------------------------
# Compare: pure view functions
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# Compare on tiny models, odd inputs included
# --------------------------------------------------------------------------------------------

def test_compare_on_tiny_models(models):
    text = "Angela Merkel visited Paris."
    view = compare_tab.compare_text(models, text)
    for side in ("baseline", "fusion"):
        assert _joined(view.highlights[side]) == text
    assert _joined(view.disagreement) == text
    assert "Baseline found" in view.message and "1 sentence, 5 words" in view.message
    assert set(view.table["model"]) <= {"baseline", "fusion"}
    assert list(view.table.columns) == compare_tab.TABLE_COLUMNS


@pytest.mark.parametrize("text", [
    "", "   \n\t ", "😀😀 🇩🇪 👍🏽", "a\x00b\x07c\x1b[31m\u200b\ufeff", "Paris 北京 Москва القاهرة ירושלים मुंबई",
    "\ud800 lone surrogate", "\x00\x07\x1f", "x" * 50_000, ("Tokyo " * 2000).strip(), "北京" * 2000,
])
def test_compare_never_raises_on_odd_text(models, text):
    from fusion.budget import fit_to_budget

    view = compare_tab.compare_text(models, text)
    assert isinstance(view.message, str)
    shown = text[:compare_tab.TEXT_LIMIT].replace("\ud800", "\ufffd")  # cleaned at the boundary
    from fusion.batching import max_window_tokens

    tagger = models["baseline"].tagger
    fitted = fit_to_budget(shown, tagger.tokenizer, compare_tab.TOKEN_BUDGET, max_window_tokens(tagger))
    if not fitted.complete:  # over the token budget: a prefix is tagged, and the message says so
        assert f"{fitted.total_tokens:,} sub-word tokens" in view.message
        assert (f"first {fitted.end:,} characters were tagged" if fitted.end else
                "nothing was tagged") in view.message
        shown = shown[:fitted.end]
    if shown.strip():
        assert _joined(view.highlights["baseline"]) == shown
    else:
        assert view.highlights == {} and ("Type a sentence" in view.message or "nothing was tagged" in view.message)
    if len(text) > compare_tab.TEXT_LIMIT:
        assert f"{len(text):,} characters" in view.message and "5,000" in view.message


def test_compare_marks_right_to_left_text(models):
    assert compare_tab.compare_text(models, "דוד כהן נסע לירושלים").direction == "rtl"
    assert compare_tab.compare_text(models, "Paris").direction == "ltr"


def test_compare_with_one_model_missing(models):
    partial = {"baseline": models["baseline"], "fusion": app.load_slot("fusion", None)}
    view = compare_tab.compare_text(partial, "Angela Merkel visited Paris.")
    assert "fusion model is not loaded" in view.message
    assert "fusion" not in view.highlights and view.disagreement is None
    assert set(view.table["model"]) <= {"baseline"}


def test_compare_says_how_the_text_was_cut(models):
    view = compare_tab.compare_text(models, "Paris is big. Angela Merkel visited Berlin!\nA list item")
    assert "3 sentences, 12 words" in view.message


# --------------------------------------------------------------------------------------------
# Inside
# --------------------------------------------------------------------------------------------

def test_inside_explains_the_chosen_sentence_on_demand_and_caches_it(models):
    cache = inside_tab.ExplanationCache(entries=2)
    text = "Paris is big. Angela Merkel visited Berlin."
    view = compare_tab.compare_text(models, text)
    assert [index for _, index in inside_tab.sentence_choices(view.text, view.sentences)] == [0, 1]
    note, attention, overview, share, gates = inside_tab.inside_view(models, text, "fusion", 1, 99, 0,
                                                                     cache=cache)
    assert "sentence 2" in note and cache.computed == 1
    n_tokens = attention.data[0].z.shape[0]
    assert attention.data[0].z.shape == (n_tokens, n_tokens) and n_tokens >= 7
    assert "layer 3, head 1" in attention.layout.title.text  # clamped to the tiny model's range
    assert overview.data[0].z.shape == (3, 2)
    assert len(share.data) == 2 and gates.data[0].z.shape == (n_tokens, 32)
    inside_tab.inside_view(models, text, "fusion", 1, 1, 1, cache=cache)  # another head: cached
    assert cache.computed == 1
    _, _, _, share, gates = inside_tab.inside_view(models, text, "baseline", 0, 1, 1, cache=cache)
    assert not share.data and not gates.data  # the baseline has no gate: a message instead
    inside_tab.inside_view(models, text, "fusion", 0, 1, 1, cache=cache)
    assert cache.computed == 3 and len(cache._items) == 2  # bounded: the oldest was dropped


def test_inside_before_any_compare_and_with_odd_inputs(models):
    note, *figures = inside_tab.inside_view(models, "", "fusion", None, 1, 1)
    assert "Compare a text first" in note and all(not f.data for f in figures)
    text = "Angela Merkel visited Paris."
    for value in (float("nan"), None, "x", -5, 10**12):  # odd slider and picker values via the API
        note, attention, *_ = inside_tab.inside_view(models, text, "fusion", value, value, float("nan"))
        assert "sentence 1" in note and "head 1" in attention.layout.title.text
    note, *_ = inside_tab.inside_view(models, text, "<img src=x>", 0, 1, 1)
    assert "<img" not in note


def test_inside_explains_only_the_first_tokens_of_a_long_sentence(models):
    text = " ".join(f"Paris{i}" for i in range(300))
    note, attention, *_ = inside_tab.inside_view(models, text, "fusion", 0, 1, 1)
    assert attention.data[0].z.shape[0] <= inside_tab.TOKEN_LIMIT + 2
    assert f"its first {inside_tab.TOKEN_LIMIT}" in note


def test_inside_outlines_the_picked_word_and_names_its_gate_share(models):
    text = "Angela Merkel visited Paris. Olaf Scholz went to Berlin."
    position = text.index("Berlin")
    sentence = inside_tab.sentence_of(models, text, position)
    assert sentence == 1 and inside_tab.sentence_of(models, text, 0) == 0
    note, attention, _, share, gates = inside_tab.inside_view(models, text, "fusion", sentence, 1, 1,
                                                              focus=position)
    found = re.search(r"'Berlin'\*\* \(its sub-word .*, row (\d+), outlined in red\): (\d+) % from the last "
                      r"layer, (\d+) % from layer 1\.", note)
    assert found, note
    row = int(found.group(1)) - 1
    assert int(found.group(2)) + int(found.group(3)) in (99, 100, 101)
    outline = attention.layout.shapes[0]
    assert (outline.y0, outline.y1) == (row - 0.5, row + 0.5) and outline.line.color == inside_tab.FOCUS_COLOUR
    assert share.layout.shapes[-1].x0 == row - 0.5 and gates.layout.shapes[-1].y0 == row - 0.5
    share_value = share.data[0].y[row]
    assert int(found.group(2)) == round(100 * share_value)
    note, attention, *_ = inside_tab.inside_view(models, text, "baseline", sentence, 1, 1, focus=position)
    assert "has no fusion gate" in note and len(attention.layout.shapes) == 1
    note, attention, *_ = inside_tab.inside_view(models, text, "fusion", 0, 1, 1, focus=position)
    assert "lies in another sentence" in note and not attention.layout.shapes
    note, *_ = inside_tab.inside_view(models, text, "fusion", 0, 1, 1, focus=float("nan"))
    assert "outlined" not in note


def test_inside_shows_a_placeholder_until_a_text_is_compared(models):
    note, *_ = inside_tab.inside_values(models, "", 0, "fusion", 1, 1, None, 3, 2)
    assert note == inside_tab.PLACEHOLDER
    *_, layer, head = inside_tab.inside_values(models, "Paris.", 0, "fusion", 99, -4, None, 3, 2)
    assert (layer, head) == (3, 1)  # snapped into the range, shown back in the sliders
    assert "top) => Math.min" in inside_tab.clamp_js(3, 2) and "snap(layer, 3)" in inside_tab.clamp_js(3, 2)
    # which of the two shows is the browser's (a column set by the server is re-read at every
    # status change): the page is marked before each Inside call, and the app's CSS reads it
    assert "dataset.compared" in inside_tab.clamp_js(3, 2)
    assert '[data-compared="yes"] #inside-placeholder' in app.launch_options()["css"]


# --------------------------------------------------------------------------------------------
# Compare: exports and the entity table's rows
# --------------------------------------------------------------------------------------------

def test_compare_writes_the_three_exports(models, tmp_path, monkeypatch):
    monkeypatch.setattr(compare_tab, "export_folder", lambda: tmp_path)
    view = compare_tab.compare_text(models, "Angela Merkel visited <b>Paris</b>.")
    titles, colours = {"baseline": "Base", "fusion": "Fused"}, compare_tab.entity_colours(models)
    files = compare_tab.write_files(view, titles, colours)
    page = Path(files.html).read_text(encoding="utf-8")
    assert "<b>" not in page and "</b>" not in page and "&lt;" in page and "Where they disagree" in page
    assert "<h2>Base</h2>" in page and "<h2>Fused</h2>" in page
    table = pd.read_csv(files.csv)
    assert list(table.columns) == compare_tab.TABLE_COLUMNS and len(table) == len(view.table)
    assert files.png is None  # the picture is drawn when asked for
    drawn = compare_tab.write_files(view, titles, colours, picture=True)
    assert Path(drawn.png).read_bytes().startswith(b"\x89PNG") and drawn.html == files.html
    assert "**" not in view.summary and view.summary.startswith("Baseline found")
    parts = {k: k for k in ("status", "baseline", "fusion", "disagreement", "table", "downloads")}
    values = compare_tab.values(view)
    assert len(values) == len(compare_tab.outputs(parts)) and values[1] == view.highlights["baseline"]
    assert not any(isinstance(value, gr.components.Component) for value in values)  # plain: batchable
    layout = compare_tab.layout_values(view)
    assert len(layout) == len(compare_tab.layout_outputs(parts)) and layout[0].rtl is False
    assert compare_tab.write_files(compare_tab.compare_text(models, "  "), {}, {}) is None


def test_picked_entity_reads_a_table_row():
    row = ["fusion", "Paris", "LOC", 0.5, 22, 27, "same"]
    assert compare_tab.picked_entity(row) == compare_tab.EntityPick("fusion", "Paris", 22, 27)
    table = pd.DataFrame([row], columns=compare_tab.TABLE_COLUMNS)
    assert compare_tab.picked_entity(None, [0, 3], table).start == 22  # from the row index
    assert compare_tab.picked_entity(["<x>", "Paris", "LOC", 0.5, 22, 27, "same"]) is None
    assert compare_tab.picked_entity(["fusion", "P", "LOC", 0.5, float("nan"), 1, "same"]) is None
    assert compare_tab.picked_entity(None, [5, 0], table) is None


# --------------------------------------------------------------------------------------------
# Links: the page state in the query string
# --------------------------------------------------------------------------------------------

TABS = ("compare", "inside", "results", "errors", "evaluate")


def test_a_link_round_trip_keeps_the_state_and_leaves_out_defaults():
    defaults = PageState(layer=12, group="zero-shot|en 20000|test|None", fusion="fusion-l11")
    assert common.page_query(defaults, defaults) == ("", "")
    state = PageState(text="Angela Merkel in Paris & Köln?", tab="inside", side="baseline", layer=3, head=7,
                      sentence=1, word=16, group=defaults.group, fusion="fusion-l6", by="script")
    query, note = common.page_query(state, defaults)
    assert note == "" and "group=" not in query and "fusion=fusion-l6" in query and "sentence=2" in query
    params = dict(urllib.parse.parse_qsl(query))
    assert params["text"] == state.text
    assert common.read_page(params, defaults, TABS) == state


def test_a_long_text_is_cut_in_the_link_and_the_page_says_so():
    defaults = PageState()
    for text, kept in [("word " * 1000, common.LINK_TEXT_LIMIT), ("北京" * 1500, None)]:
        query, note = common.page_query(PageState(text=text), defaults)
        params = dict(urllib.parse.parse_qsl(query))
        assert len(query) <= common.LINK_BYTES_LIMIT + 40
        assert text.startswith(params["text"]) and params["cut"] == str(len(text))
        assert kept is None or len(params["text"]) == kept
        assert f"{len(text):,} characters" in note and f"first {len(params['text']):,}" in note
        opened = common.read_page(params, defaults, TABS)
        assert opened.cut_from == len(text) and f"{len(text):,}-character" in common.opened_note(opened)
    assert common.opened_note(common.read_page({"text": "short", "cut": "3"}, defaults, TABS)) == ""


def test_a_hostile_link_gives_the_defaults():
    defaults = PageState(layer=12)
    state = common.read_page({"tab": "<script>", "side": "evil", "layer": "abc", "head": "-3", "sentence": "NaN",
                              "word": "inf", "by": "x" * 500, "text": "x" * 50_000, "group": "g" * 400},
                             defaults, TABS)
    assert (state.tab, state.side, state.layer, state.head, state.sentence, state.word, state.by) == (
        "compare", "fusion", 12, 1, 0, None, "family")
    assert len(state.text) == common.LINK_TEXT_LIMIT and state.group is None
    assert common.state_of(None, None, None, 3.0, "2", "1", 4.0, "", None, None, defaults) == PageState(
        layer=3, head=2, sentence=1, word=4)
    assert "history.replaceState" in common.replace_url_js() and '"text"' in common.replace_url_js()


def test_results_reload_picks_the_group_a_link_asks_for(runs_dir):
    small = make_record("small-baseline-s3", "baseline", None, "test", {"en": 0.5, "de": 0.3}, 3,
                        train_sentences=2000, study="seed-study")
    (runs_dir / "small.json").write_text(json.dumps(small), encoding="utf-8")
    records, _ = results_tab.read_results(runs_dir)
    first, second = [key for _, key in results_tab.group_choices(records)]
    _, _, group, fusion_model = results_tab.reload_values(runs_dir, "fusion-l1", second, "fusion-l1")
    assert group.value == second and fusion_model.value is None  # no fusion run in that group
    _, _, group, fusion_model = results_tab.reload_values(runs_dir, "fusion-l1", "no|such|group", None)
    assert group.value == first and fusion_model.value == "fusion-l1"


def test_every_tour_step_opens_a_tab_of_the_app(models):
    import gradio as gr

    demo = app.build_demo(models, examples=[{"language": "en", "text": "Paris"}])
    ids = {block.id for block in demo.blocks.values() if isinstance(block, gr.Tab)}
    assert len(tour.STEPS) == 5 and {step.tab for step in tour.STEPS} <= ids
    assert sum(step.example for step in tour.STEPS) == 1


def test_no_server_call_outputs_a_container_and_compare_shows_progress_on_the_panes(models):
    """A container among a server call's outputs (the Tabs, above all: the whole app) makes
    Gradio's page re-read every component inside it at each later status change of any call;
    tabs are opened in the browser instead. Compare's progress is a timer on the two panes, not five loaders."""
    import gradio as gr

    demo = app.build_demo(models, examples=[{"language": "en", "text": "Paris"}])
    server_calls = [fn for fn in demo.fns.values() if fn.fn is not None]
    containers = (gr.Tabs, gr.Tab, gr.Row, gr.Column, gr.Group, gr.Accordion)
    # known, small enough: the downloads (three buttons)
    allowed = {block._id for block in demo.blocks.values() if isinstance(block, gr.Column)
               and block.elem_id == "downloads"}
    assert [fn.name for fn in server_calls
            if any(isinstance(o, containers) and o._id not in allowed for o in fn.outputs)] == []
    tab_switches = [fn for fn in demo.fns.values() if fn.fn is None and fn.js and "data-tab-id" in fn.js]
    assert len(tab_switches) >= 4  # the link, an entity row, Inside's way back, the tour, the error browsers
    compare = next(fn for fn in server_calls if fn.api_name == "compare")
    assert compare.show_progress == "minimal"
    assert [o.elem_id for o in compare.show_progress_on] == ["baseline-entities", "fusion-entities"]
    # a page's click is one direct request (batched by the app, not by Gradio's queue) unless
    # the host asks for the queue, which shows each person their place in line
    assert not compare.queue and not compare.batch and compare.concurrency_limit == 2 * app.COMPARE_BATCH
    queued = app.build_demo(models, examples=[], compare_queued=True)
    assert next(fn for fn in queued.fns.values() if fn.api_name == "compare").queue


# --------------------------------------------------------------------------------------------
# Header, checkpoint discovery, flags
# --------------------------------------------------------------------------------------------

def test_header_names_encoders_and_links_the_paper(models):
    text = app.header_markdown(models)
    assert app.PAPER_URL in text and "Chen et al. 2022" in text
    assert f"` {Path(models['baseline'].tagger.config.encoder).as_posix()} `" in text  # local encoder, as typed
    fake = SimpleNamespace(config=SimpleNamespace(encoder=OFFLINE_ENCODER, fusion_layer=6),
                           checkpoint_info={"training": {"dev_f1": 0.812, "best_epoch": 3}})
    text = app.header_markdown({"fusion": TaggerSlot("fusion", "checkpoints/fusion-l6", tagger=fake),
                                "baseline": app.load_slot("baseline", None)})
    assert "multilingual-e5-small, not mBERT" in text
    assert "81.2 (epoch 3)" in text and "layer 6" in text and "not loaded" in text


def test_find_fusion_checkpoint(tmp_path):
    assert app.find_fusion_checkpoint(tmp_path) is None
    for name in ("fusion-l10", "fusion-l6", "fusion-l2-empty"):
        (tmp_path / name).mkdir()
    for name in ("fusion-l10", "fusion-l6"):
        (tmp_path / name / "tagger_config.json").write_text("{}")
    assert app.find_fusion_checkpoint(tmp_path).name == "fusion-l6"


def test_broken_checkpoint_is_a_message(tmp_path):
    (tmp_path / "tagger_config.json").write_text("not json")
    slot = app.load_slot("baseline", tmp_path)
    assert not slot.ready and "not valid JSON" in slot.error
    (tmp_path / "tagger_config.json").write_text('{"format_version": 1, "config": {"encoder": "<b>x</b>"}}')
    header = app.header_markdown({"baseline": app.load_slot("baseline", tmp_path)})
    assert "<b>" not in header and "not loaded" in header


def test_flags_and_environment(monkeypatch):
    monkeypatch.setenv("LFE_PORT", "7999")
    monkeypatch.setenv("LFE_FUSION", "somewhere/fusion-l3")
    monkeypatch.setenv("LFE_SHARE", "1")
    args = app.parse_args([])
    assert (args.port, args.fusion, args.share, args.host) == (7999, "somewhere/fusion-l3", True, "127.0.0.1")
    args = app.parse_args(["--port", "8001", "--host", "0.0.0.0", "--baseline", "b"])
    assert (args.port, args.host, args.baseline) == (8001, "0.0.0.0", "b")
    assert args.compare_queued is False and app.parse_args(["--compare-queued"]).compare_queued is True
    monkeypatch.setenv("LFE_COMPARE_QUEUED", "1")
    assert app.parse_args([]).compare_queued is True
    assert args.runtime == "onnx" and app.parse_args(["--runtime", "torch"]).runtime == "torch"
    monkeypatch.setenv("LFE_RUNTIME", "torch")
    assert app.parse_args([]).runtime == "torch"


def test_loaded_taggers_get_their_onnx_runtime_in_the_background(tiny_checkpoints, capsys):
    texts = ["Angela Merkel visited Paris.", "Die New York Times schrieb über Berlin und Ford."]
    reference = app.load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"])
    slots = app.load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], merge=False)
    app.attach_runtimes(slots, threads=1).join(timeout=300)  # traced in a child process
    assert all(slot.tagger.runtime is not None and not slot.tagger.merged for slot in slots.values())
    log = capsys.readouterr().err
    assert "baseline: runs on ONNX Runtime" in log and "fusion: runs on ONNX Runtime" in log
    before, after = compare_tab.compare_texts(reference, texts), compare_tab.compare_texts(slots, texts)
    assert [compare_tab.values(view) for view in after] == [compare_tab.values(view) for view in before]


def test_a_tagger_whose_export_fails_stays_on_torch_with_its_adapters_merged(tiny_checkpoints, monkeypatch, capsys):
    def broken(directories, timeout=600):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(app.onnx_runtime, "graphs_of_checkpoints", broken)
    slots = app.load_slots(tiny_checkpoints["baseline"], tiny_checkpoints["fusion"], merge=False)
    assert not slots["fusion"].tagger.merged
    app.attach_runtimes(slots, threads=1).join(timeout=120)
    assert all(slot.tagger.runtime is None and slot.tagger.merged for slot in slots.values())
    assert "fusion: stays on torch: RuntimeError: no exporter here" in capsys.readouterr().err
    assert compare_tab.compare_texts(slots, ["Angela Merkel visited Paris."])[0].highlights["fusion"]


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

def test_results_views(runs_dir):
    records, warning = results_tab.read_results(runs_dir)
    assert len(records) == 7 and "broken" in warning and "skipped" in warning
    assert str(runs_dir) not in warning  # file names, never the server's paths
    choices = results_tab.group_choices(records)
    assert len(choices) == 1 and "zero-shot" in choices[0][0]
    key, fusion_model = results_tab.default_choice(records, "fusion-l1")
    summary, table, csv, delta, sweep = results_tab.results_view(runs_dir, records, key, fusion_model,
                                                                 "script", 1)
    assert list(table.columns) == results_tab.TABLE_COLUMNS
    row = table.set_index("language").loc["zh"]
    assert (row["baseline F1"], row["fusion F1"], row["Δ F1"]) == (21.0, 31.0, 10.0)
    assert row["baseline ±"] == pytest.approx(1.4, abs=0.05) and row["seeds (b/f)"] == "2/2"
    assert "3 target languages" in summary and "± " in summary and "English" in summary
    assert "No bootstrap intervals" in summary  # hand-made records have no per-sentence sidecar
    assert {trace.name for trace in delta.data} == {"Arabic", "Han", "Latin"}
    assert all("English" not in str(x) for trace in delta.data for x in trace.x)  # English apart
    assert len(sweep.data) == 2 and "first 1,000 dev sentences" in sweep.data[1].name
    assert list(sweep.data[1].y) == [70.0, 71.0, 72.0]  # the score that chose k
    assert pd.read_csv(csv)["language"].tolist() == table["language"].tolist()
    Path(csv).unlink()


def test_results_groups_never_mix_recipes(runs_dir):
    small = make_record("small-baseline-s3", "baseline", None, "test", {"en": 0.5, "de": 0.3}, 3,
                        train_sentences=2000, study="seed-study")
    (runs_dir / "small.json").write_text(json.dumps(small), encoding="utf-8")
    records, _ = results_tab.read_results(runs_dir)
    labels = [label for label, _ in results_tab.group_choices(records)]
    assert len(labels) == 2 and "20000" in labels[0] and "2000 sent" in labels[1]
    rows, _ = evaluate_tab.stored_rows(records, "de")
    assert {row["source"] for row in rows} == {"stored: en 20000 sent × 3 ep, 100 sentences, 2 runs",
                                               "stored: en 2000 sent × 3 ep, 100 sentences, 1 run"}


def test_results_with_nothing_to_show(tmp_path):
    records, warning = results_tab.read_results(tmp_path)
    assert records == [] and "No run records" in warning
    assert "No run folder" in results_tab.read_results(tmp_path / "missing")[1]
    summary, table, _, delta, sweep = results_tab.results_view(tmp_path, [], None, None, "family", None)
    assert table.empty and summary == "No test-split runs of both models yet."
    assert not delta.data and not sweep.data


# --------------------------------------------------------------------------------------------
# Evaluate your data
# --------------------------------------------------------------------------------------------

def test_score_upload(models, runs_dir, tmp_path):
    records, _ = results_tab.read_results(runs_dir)
    path = tmp_path / "mine.tsv"
    path.write_text(CONLL, encoding="utf-8")
    calls = []
    message, table, figure, views = evaluate_tab.score_upload(models, str(path), "de", records,
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
    message, table, _, views = evaluate_tab.score_upload(models, str(bad), "de", [])
    assert views == []
    assert "bad.tsv:2" in plain_text(message) and str(tmp_path) not in message and table.empty
    assert "expected a token, then a tab" in plain_text(message)

    latin = tmp_path / "latin.tsv"  # an upload cannot be given an encoding: it is found
    latin.write_bytes((CONLL.replace("Angela", "Jürgen") * 20).encode("latin-1"))
    assert "read as" in evaluate_tab.score_upload(models, str(latin), "de", [])[0]
    picture = tmp_path / "picture.tsv"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert "PNG image" in evaluate_tab.score_upload(models, str(picture), "de", [])[0]

    assert "Upload a CoNLL-style file" in evaluate_tab.score_upload(models, None, "de", [])[0]
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n\n", encoding="utf-8")
    assert "no sentences" in evaluate_tab.score_upload(models, str(empty), "de", [])[0]

    good = tmp_path / "good.tsv"
    good.write_text(CONLL, encoding="utf-8")
    monkeypatch.setattr(evaluate_tab, "UPLOAD_SENTENCE_LIMIT", 1)
    assert "more than 1 sentences" in evaluate_tab.score_upload(models, str(good), "de", [])[0]
    monkeypatch.setattr(evaluate_tab, "UPLOAD_BYTES_LIMIT", 10)
    assert "the limit is" in evaluate_tab.score_upload(models, str(good), "de", [])[0]


# --------------------------------------------------------------------------------------------
# The served app, driven by gradio_client
# --------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("served-runs")
    for record in (make_record("baseline-s1", "baseline", None, "test", {"en": 0.8, "de": 0.6}),
                   make_record("fusion-s1", "fusion-l1", 1, "test", {"en": 0.82, "de": 0.65})):
        (folder / f"{record['name']}.json").write_text(json.dumps(record), encoding="utf-8")
    demo = app.build_demo(models, runs_dir=folder)
    demo.queue(default_concurrency_limit=app.CONCURRENCY, max_size=app.QUEUE_SIZE)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **app.launch_options())
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_served_app(served, models, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(served, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/compare", "/results", "/evaluate"} <= set(endpoints)

    status, base, fused, diff, compared = client.predict("Angela Merkel visited Paris.", api_name="/compare")
    assert "Baseline found" in status
    assert "".join(item["token"] for item in base) == "Angela Merkel visited Paris."
    assert fused and diff
    assert compared == "Angela Merkel visited Paris."  # the downloads and the table are drawn after Compare
    table = compare_tab.layout_values(compare_tab.laid_out(models, compared))[4]
    assert list(table.columns) == compare_tab.TABLE_COLUMNS and "Paris" in set(table["entity"])
    _, page, csv, draw, picture = compare_tab.export_values(models, compared, {}, {})
    assert "visited" in Path(page).read_text(encoding="utf-8")  # the text, cut at the entities
    assert Path(csv).read_text(encoding="utf-8").startswith("model,entity,type,score,start,end,agreement")
    assert draw.visible is True and picture.visible is False and picture.value is None  # not drawn yet
    draw, picture = compare_tab.picture_values(models, compared, {}, {})
    assert draw.visible is False and picture.visible is True
    assert Path(picture.value["path"]).read_bytes().startswith(b"\x89PNG")
    note, *figures, layer, head = client.predict("Angela Merkel visited Paris.", 0, "fusion", 3, 1, None,
                                                 api_name="/inside")
    assert "fusion" in note and all(figure["type"] == "plotly" for figure in figures)
    assert len(figures) == 4 and (layer, head) == (3, 1)

    status, base, *_ = client.predict("", api_name="/compare")
    assert "Type a sentence" in status and base is None
    status, base, *_ = client.predict("😀 \x00 " + "Paris " * 9000, api_name="/compare")
    assert "5,000" in status and base

    key = results_tab.group_choices([make_record("baseline-s1", "baseline", None, "test", {"en": 0.8})])[0][1]
    summary, frame, csv, delta, sweep = client.predict(key, "fusion-l1", "family", api_name="/results")
    assert "target languages" in summary and Path(csv).read_text().startswith("language,")
    assert [row[0] for row in frame["data"]] == ["de", "en"]

    upload = tmp_path / "mine.tsv"
    upload.write_text(CONLL, encoding="utf-8")
    message, scores, *_ = client.predict(handle_file(str(upload)), "de", api_name="/evaluate")
    assert "Scored **2** sentences" in message and scores["data"]
    message, *_ = client.predict(None, "de", api_name="/evaluate")
    assert "Upload a CoNLL-style file" in message


def test_compare_requests_that_wait_together_are_answered_together(served, monkeypatch):
    """Compare is batched: requests waiting while one runs go through the models in one call,
    and each page still gets its own text's answer (API clients come through Gradio's queue,
    a batch of them at once, into the app's batcher)."""
    import threading
    import time

    from gradio_client import Client

    sizes, release = [], threading.Event()
    real = compare_tab.compare_texts

    def recorded(slots, texts):
        sizes.append(len(texts))
        if len(sizes) == 1:
            release.wait(10)  # hold the first call so that the others queue up behind it
        return real(slots, texts)

    monkeypatch.setattr(compare_tab, "compare_texts", recorded)
    client = Client(served, verbose=False)
    texts = [f"Angela Merkel visited city number {index}." for index in range(6)]
    jobs = [client.submit(texts[0], api_name="/compare")]
    deadline = time.time() + 10
    while not sizes and time.time() < deadline:
        time.sleep(0.02)
    jobs += [client.submit(text, api_name="/compare") for text in texts[1:]]
    time.sleep(1.0)  # the five are in the queue now
    release.set()
    answers = [job.result(timeout=60) for job in jobs]
    assert [answer[-1] for answer in answers] == texts  # each its own text ...
    assert all(str(index) in "".join(item["token"] for item in answer[1])
               for index, answer in enumerate(answers))  # ... and its own entities
    assert sizes[0] == 1 and max(sizes) > 1 and sum(sizes) == len(texts)


def test_an_upload_waits_while_anyone_compares_and_can_be_cancelled(served, monkeypatch, tmp_path):
    import threading
    import time

    from gradio_client import Client, handle_file

    comparing, release, scored = threading.Event(), threading.Event(), []
    real_compare, real_score = compare_tab.compare_texts, evaluate_tab.predict_dataset

    def held(slots, texts):
        comparing.set()
        release.wait(10)
        return real_compare(slots, texts)

    monkeypatch.setattr(compare_tab, "compare_texts", held)
    monkeypatch.setattr(evaluate_tab, "predict_dataset", lambda *a, **k: scored.append(1) or real_score(*a, **k))
    upload = tmp_path / "mine.tsv"
    upload.write_text(CONLL, encoding="utf-8")
    client = Client(served, verbose=False)
    compare_job = client.submit("Paris", api_name="/compare")
    assert comparing.wait(10)
    scoring = client.submit(handle_file(str(upload)), "de", api_name="/evaluate")
    time.sleep(1.5)
    assert not scored  # the file waits while the Compare runs
    assert client.predict(api_name="/cancel_evaluate") == evaluate_tab.CANCELLED
    release.set()
    assert compare_job.result(timeout=30)[-1] == "Paris"
    deadline = time.time() + 30
    while not scoring.done() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert scoring.done() and not scored  # cancelled before any model ran
    monkeypatch.setattr(compare_tab, "compare_texts", real_compare)
    message = client.predict(handle_file(str(upload)), "de", api_name="/evaluate")[0]
    assert "Scored **2** sentences" in message and scored  # the next upload is scored


def test_a_failing_request_fails_alone_in_its_batch():
    def tag(requests):
        if any(text == "bad" for text, in requests):
            raise RuntimeError("this text breaks the model")
        return [[text.upper()] for text, in requests]

    batched = common.safe_rows(tag, lambda message: [message])
    assert batched([("a",), ("b",)]) == [["A"], ["B"]]
    answers = [row[0] for row in batched([("a",), ("bad",), ("c",)])]
    assert answers[0] == "A" and answers[2] == "C" and "this text breaks the model" in answers[1]


def test_the_page_layout_follows_the_text(models):
    arabic = compare_tab.compare_text(models, "زار محمد علي مدينة القاهرة. ثم عاد.")
    assert all(update.rtl for update in compare_tab.layout_values(arabic)[:3])
    assert compare_tab.layout_values(arabic)[3].visible is False  # stale downloads hidden
    compare_tab.RECENT.store(arabic.text, arabic)
    assert compare_tab.laid_out(models, arabic.text) is arabic  # the view Compare made, when cached
    uncached = compare_tab.laid_out(models, "Paris is big. Rome is old. " + "x" * 7)  # never compared
    assert uncached.sentences == [(0, 13), (14, 26), (27, 34)] and not uncached.highlights
    # the app passes its batcher: a view the cache has dropped is tagged again, table and all
    asked = []

    def tag(text):
        asked.append(text)
        compare_tab.RECENT.store(text, compare_tab.compare_text(models, text))

    dropped = "Angela Merkel flew to Rome, dropped from the cache."
    view = compare_tab.laid_out(models, dropped, tag=tag)
    assert asked == [dropped] and view.highlights and len(compare_tab.layout_values(view)[4]) == len(view.rows) > 0
    assert compare_tab.laid_out(models, dropped, tag=tag) is view and asked == [dropped]  # cached now


def test_the_sample_upload_file_is_scored(models):
    message = evaluate_tab.score_upload(models, str(evaluate_tab.SAMPLE_FILE), "en", [])[0]
    assert "Scored **8** sentences" in message
