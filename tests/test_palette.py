"""One palette of entity types (ui/common.py) in every view: Compare's panes (each chip naming its
type), the Layers grid and its help, the error browsers and the exports; and the small shared
helpers of the page (reading direction, natural order, number formats)."""

import gradio as gr
import pandas as pd

from fusion.tagging.agreement import Segment
from serve.compare import compare_text
from ui import common, export, plots
from ui.common import ENTITY_COLOURS, ENTITY_PALETTE
from ui.error_browser import entity_colours as browser_colours
from ui.tabs import compare, layers


def _component(demo, elem_id):
    return next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == elem_id)


def test_every_view_takes_its_colours_from_the_one_palette(built_page):
    demo, services = built_page
    colours = common.entity_colours(services.slots)  # the page's colours: the types the taggers know
    assert colours == {kind: ENTITY_COLOURS[kind] for kind in ("LOC", "ORG", "PER")}
    for elem_id in ("baseline-entities", "fusion-entities"):  # Compare: each chip shows its type
        pane = _component(demo, elem_id)
        assert pane.color_map == colours and not pane.show_legend and pane.show_inline_category
    for elem_id in ("errors-gold", "errors-fusion", "upload-baseline"):  # the error browsers
        pane = _component(demo, elem_id)
        assert {kind: pane.color_map[kind] for kind in colours} == colours
    grid = plots.emergence_grid(["Paris", "is"], [["B-LOC", "O"], ["B-PER", "O"]], [[0.9, 0.1], [0.8, 0.2]],
                                colours=colours)
    scale = [colour for _, colour in grid.data[0].colorscale]
    assert all(colour in scale for colour in colours.values())  # each type's band ends in its colour
    assert all(colour in grid.layout.annotations[0].text for colour in colours.values())  # the legend
    default = plots.emergence_grid(["Paris"], [["B-LOC"]], [[0.9]])  # without the page's: the same palette
    assert ENTITY_COLOURS["LOC"] in [colour for _, colour in default.data[0].colorscale]
    assert not hasattr(plots, "ENTITY_COLOURS") or plots.ENTITY_COLOURS is ENTITY_COLOURS  # no second one


def test_the_layers_help_names_the_grid_colours():
    colours = common.palette_of(["LOC", "ORG", "PER"])
    text = layers.help_text(colours)
    for kind in colours:
        name = ENTITY_PALETTE[kind][1]
        assert f"{name} {kind}" in text
    assert "red PER" not in text and "blue ORG" not in text  # the old grid's own colours


def test_the_exports_use_the_page_colours(models):
    colours = common.entity_colours(models)
    view = compare_text(models, "Angela Merkel visited Paris.")
    export = compare.export_of(view, {"baseline": "Baseline", "fusion": "Fusion"}, colours)
    assert [panel.colours for panel in export.panels[:2]] == [colours, colours]


def test_unknown_types_get_a_spare_colour_and_wrong_entities_stay_red():
    colours = common.palette_of(["LOC", "EVENT"])
    assert colours["LOC"] == ENTITY_COLOURS["LOC"] and colours["EVENT"] in common.SPARE_COLOURS
    assert common.colour_words(colours).startswith("green LOC, ")
    wrong = browser_colours(["LOC"], colours)
    assert wrong["LOC"] == colours["LOC"] and wrong["LOC ✗"] not in ENTITY_COLOURS.values()


def test_reading_direction_follows_compares_rule():
    assert common.is_rtl("ذهب باراك أوباما إلى باريس") and common.is_rtl("זאב נסע לירושלים")
    assert not common.is_rtl("Paris (باريس) is in France") and not common.is_rtl("")
    labels = common.sentence_choices("ذهب إلى باريس. Paris.", [(0, 14), (15, 21)])
    assert labels[0][0] == "1: \u2067ذهب إلى باريس.\u2069" and labels[1][0] == "2: Paris."  # isolated RTL


def test_lists_of_runs_sort_naturally_and_numbers_keep_one_format():
    names = ["fusion-l10", "fusion-l2", "baseline", "fusion-l0", "fusion-l11"]
    assert sorted(names, key=common.natural_key) == ["baseline", "fusion-l0", "fusion-l2", "fusion-l10", "fusion-l11"]
    table = pd.DataFrame({"F1": [75.0, 75.25, None], "sentences": [1000.0, None, 10000.0], "ratio": [0.5, 0.6512, 1.0],
                          "name": ["a", "b", "c"]})
    shown = common.decimals(table, whole=("sentences",), finer={"ratio": 3})
    value = gr.Dataframe(interactive=False).postprocess(shown)  # what the page gets
    assert value.metadata["display_value"] == [["75.0", "1,000", "0.500", "a"], ["75.2", "–", "0.651", "b"],
                                               ["–", "10,000", "1.000", "c"]]
    assert value.data[1][0] == 75.25  # the numbers underneath stay numbers


def test_an_exported_entity_is_drawn_in_its_palette_colour():
    panel = export.Panel("Baseline", (Segment("Paris", "LOC"),), common.palette_of(["LOC"]))
    html = export.comparison_html(export.ComparisonExport("Paris", "ltr", "", (panel,), ()))
    assert f'<mark style="background:{ENTITY_COLOURS["LOC"]}">Paris<span class="label">LOC</span></mark>' in html
