"""ui/tabs/inside.py: the Inside view of a compared text on tiny random taggers (no app built)."""

import json
import re

from serve.cache import BoundedCache
from serve.compare import compare_text, untagged_view
from serve.explanations import TOKEN_LIMIT, ExplanationCache
from ui import markup
from ui.common import sentence_choices
from ui.tabs import inside


def view_of(models, text):
    return untagged_view(models, text)


def test_inside_explains_the_chosen_sentence_on_demand_and_caches_it(models):
    cache = ExplanationCache(entries=2)
    text = "Paris is big. Angela Merkel visited Berlin."
    view = compare_text(models, text)
    assert [index for _, index in sentence_choices(view.text, view.sentences)] == [0, 1]
    note, attention, overview, share, gates = inside.inside_view(models, view, "fusion", 1, 99, 0, cache)
    assert "sentence 2" in note and cache.computed == 1
    n_tokens = attention.data[0].z.shape[0]
    assert attention.data[0].z.shape == (n_tokens, n_tokens) and n_tokens >= 7
    assert "layer 3, head 1" in attention.layout.title.text  # clamped to the tiny model's range
    assert overview.data[0].z.shape == (3, 2)
    assert len(share.data) == 2 and gates.data[0].z.shape == (n_tokens, 32)
    inside.inside_view(models, view, "fusion", 1, 1, 1, cache)  # another head: cached
    assert cache.computed == 1
    _, _, _, share, gates = inside.inside_view(models, view, "baseline", 0, 1, 1, cache)
    assert not share.data and not gates.data  # the baseline has no gate: a message instead
    inside.inside_view(models, view, "fusion", 0, 1, 1, cache)
    assert cache.computed == 3 and len(cache._items) == 2  # bounded: the oldest was dropped


def test_inside_before_any_compare_and_with_odd_inputs(models):
    cache = ExplanationCache()
    note, *figures = inside.inside_view(models, view_of(models, ""), "fusion", None, 1, 1, cache)
    assert "Compare a text first" in note and all(not f.data for f in figures)
    view = view_of(models, "Angela Merkel visited Paris.")
    for value in (float("nan"), None, "x", -5, 10**12):  # odd slider and picker values via the API
        note, attention, *_ = inside.inside_view(models, view, "fusion", value, value, float("nan"), cache)
        assert "sentence 1" in note and "head 1" in attention.layout.title.text
    note, *_ = inside.inside_view(models, view, "<img src=x>", 0, 1, 1, cache)
    assert "<img" not in note


def test_inside_explains_only_the_first_tokens_of_a_long_sentence(models):
    view = view_of(models, " ".join(f"Paris{i}" for i in range(300)))
    note, attention, *_ = inside.inside_view(models, view, "fusion", 0, 1, 1, ExplanationCache())
    assert attention.data[0].z.shape[0] <= TOKEN_LIMIT + 2
    assert f"its first {TOKEN_LIMIT}" in note


def test_inside_outlines_the_picked_word_and_names_its_gate_share(models):
    cache = ExplanationCache()
    text = "Angela Merkel visited Paris. Olaf Scholz went to Berlin."
    view = compare_text(models, text)
    position = text.index("Berlin")
    sentence = view.sentence_at(position)
    assert sentence == 1 and view.sentence_at(0) == 0
    note, attention, _, share, gates = inside.inside_view(models, view, "fusion", sentence, 1, 1, cache,
                                                          focus=position)
    found = re.search(r"'Berlin'\*\* \(its sub-word .*, row (\d+), outlined in red\): (\d+) % from the last "
                      r"layer, (\d+) % from layer 1\.", note)
    assert found, note
    row = int(found.group(1)) - 1
    assert int(found.group(2)) + int(found.group(3)) in (99, 100, 101)
    outline = attention.layout.shapes[0]
    assert (outline.y0, outline.y1) == (row - 0.5, row + 0.5) and outline.line.color == inside.FOCUS_COLOUR
    assert share.layout.shapes[-1].x0 == row - 0.5 and gates.layout.shapes[-1].y0 == row - 0.5
    share_value = share.data[0].y[row]
    assert int(found.group(2)) == round(100 * share_value)
    note, attention, *_ = inside.inside_view(models, view, "baseline", sentence, 1, 1, cache, focus=position)
    assert "has no fusion gate" in note and len(attention.layout.shapes) == 1
    note, attention, *_ = inside.inside_view(models, view, "fusion", 0, 1, 1, cache, focus=position)
    assert "lies in another sentence" in note and not attention.layout.shapes
    note, *_ = inside.inside_view(models, view, "fusion", 0, 1, 1, cache, focus=float("nan"))
    assert "outlined" not in note


def test_inside_shows_a_placeholder_until_a_text_is_compared(models):
    cache = ExplanationCache()
    note, *_ = inside.inside_values(models, view_of(models, ""), 0, "fusion", 1, 1, cache, None, 3, 2)
    assert note == inside.PLACEHOLDER
    *_, layer, head = inside.inside_values(models, view_of(models, "Paris."), 0, "fusion", 99, -4, cache, None, 3, 2)
    assert (layer, head) == (3, 1)  # snapped into the range: what the plots show (for the API)
    clamp_js = markup.inside_clamp_js(3, 2)
    assert "top) => Math.min" in clamp_js and "snap(layer, 3)" in clamp_js
    # which of the two shows is the browser's (a column set by the server is re-read at every
    # status change): the page is marked before each Inside call, and the page's CSS reads it
    assert "dataset.compared" in clamp_js
    from ui.page import launch_options

    assert '[data-compared="yes"] #inside-placeholder' in launch_options()["css"]


def test_the_sentence_picker_follows_the_compared_text(models):
    view = compare_text(models, "Paris is big. Angela Merkel visited Berlin.")
    picker = inside.sentence_picker(view, 1)
    assert [index for _, index in picker.choices] == [0, 1] and picker.value == 1
    assert inside.sentence_picker(view, 7).value == 0  # a sentence the text does not have: the first
    assert inside.sentence_picker(view_of(models, ""), 0).value is None


def test_a_right_to_left_sentence_reads_right_to_left_inside(models):
    cache = ExplanationCache()
    view = compare_text(models, "Paris is big. ذهب باراك أوباما إلى باريس.")
    _, attention, _, share, gates = inside.inside_view(models, view, "fusion", 1, 1, 1, cache)
    assert attention.layout.xaxis.autorange == "reversed" and share.layout.xaxis.autorange == "reversed"
    assert all(tick.startswith("\u202b") for tick in gates.layout.yaxis.ticktext)
    _, attention, *_ = inside.inside_view(models, view, "fusion", 0, 1, 1, cache)  # the English sentence
    assert attention.layout.xaxis.autorange is None


def test_the_boxes_apply_on_enter_and_never_take_an_old_answer_back(built_page):
    """Layer and head apply on Enter, on leaving the box, by its arrows and on letting go of the
    slider; the answer goes to hidden boxes (the API's), never into the sliders, and a number
    typed while the last view is drawn is drawn next (always_last), not dropped."""
    js = markup.inside_clamp_js(3, 2)
    assert "event.key === 'Enter'" in js and "blur()" in js and "lfeInsideBoxes" in js
    demo, _ = built_page
    fn = next(fn for fn in demo.fns.values() if fn.api_name == "inside")
    assert fn.trigger_mode == "always_last"
    outputs = {getattr(block, "elem_id", None) for block in fn.outputs}
    assert not outputs & {"inside-layer", "inside-head"} and len(fn.outputs) == len(inside.InsideValues._fields)
    triggers = {(demo.blocks[block_id].elem_id, event) for block_id, event in fn.targets
                if getattr(demo.blocks[block_id], "elem_id", None)}
    assert {("inside-layer", "release"), ("inside-head", "release")} <= triggers


def test_the_figures_of_a_sentence_layer_and_head_are_built_once_and_never_outlined_in_place(models):
    cache, figures = ExplanationCache(), BoundedCache(8)
    text = "Angela Merkel visited Paris. Olaf Scholz went to Berlin."
    view = compare_text(models, text)
    first = inside.inside_view(models, view, "fusion", 1, 2, 1, cache, figures=figures)
    again = inside.inside_view(models, view, "fusion", 1, 2, 1, cache, figures=figures)
    assert figures.computed == 1 and again.attention is first.attention  # shared, not built again
    inside.inside_view(models, view, "fusion", 1, 2, 2, cache, figures=figures)  # another head: its own
    inside.inside_view(models, view, "baseline", 1, 2, 1, cache, figures=figures)  # another model: its own
    assert figures.computed == 3
    outlined = inside.inside_view(models, view, "fusion", 1, 2, 1, cache, focus=text.index("Berlin"),
                                  figures=figures)
    assert outlined.attention.layout.shapes and outlined.attention is not first.attention
    assert "shapes" not in json.loads(first.attention.plot)["layout"]  # the shared figure is left as it was
    assert "outlined" in outlined.note and "outlined" not in again.note
