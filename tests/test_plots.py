"""ui.plots: pure figure builders (data in, go.Figure out)."""

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from ui import plots

TOKENS = ["<s>", "▁the", "▁New", "▁York", "▁the", "</s>"]


def _message(figure) -> str:
    return " ".join(a.text for a in figure.layout.annotations)


def test_message_figure():
    figure = plots.message_figure("nothing here", "title")
    assert isinstance(figure, go.Figure) and not figure.data
    assert "nothing here" in _message(figure)


def test_attention_heatmap_keeps_repeated_tokens_apart_and_escapes_tags():
    matrix = np.eye(len(TOKENS))
    figure = plots.attention_heatmap(TOKENS, matrix, "layer 1")
    heatmap = figure.data[0]
    assert np.asarray(heatmap.z).shape == (6, 6)
    assert len(set(figure.layout.yaxis.tickvals)) == 6  # two "▁the" stay two rows
    assert heatmap.customdata is None and "%{y} → %{x}" in heatmap.hovertemplate
    assert figure.layout.yaxis.ticktext[0] == "&lt;s&gt;"  # "<s>" is not read as an HTML tag


def test_attention_heatmap_rejects_a_wrong_shape_with_a_message():
    figure = plots.attention_heatmap(TOKENS, np.ones((3, 3)))
    assert not figure.data and "does not fit" in _message(figure)


def test_attention_entropy():
    uniform = np.full((2, 3, 4, 4), 0.25)
    assert np.allclose(plots.attention_entropy(uniform), 2.0)  # log2(4) bits
    one_hot = np.zeros((1, 1, 4, 4))
    one_hot[..., 0] = 1.0
    assert np.allclose(plots.attention_entropy(one_hot), 0.0)
    assert plots.attention_entropy([]).size == 0


def test_attention_overview_outlines_the_selected_head():
    attentions = np.full((3, 2, 5, 5), 0.2)
    figure = plots.attention_overview(attentions, selected_layer=2, selected_head=1)
    assert np.asarray(figure.data[0].z).shape == (3, 2)
    assert figure.layout.shapes[0].y0 == 1.5 and figure.layout.shapes[0].x0 == 0.5
    assert "no attentions" in _message(plots.attention_overview(np.zeros((0,))))


def test_gate_share_bars_split_each_token():
    share = [0.9, 0.5, 0.2, 0.6, 0.5, 0.5]
    figure = plots.gate_share_bars(TOKENS, share, fusion_layer=0)
    last, lower = figure.data
    assert np.allclose(np.add(last.y, lower.y), 1.0)
    assert lower.name == "embeddings (layer 0)"
    assert "baseline has no fusion gate" in _message(plots.gate_share_bars(TOKENS, None, None))
    assert "do not fit" in _message(plots.gate_share_bars(TOKENS, [0.5], 3))


def test_gate_heatmap():
    gates = np.random.default_rng(0).random((len(TOKENS), 8))
    figure = plots.gate_heatmap(TOKENS, gates, fusion_layer=6)
    assert np.asarray(figure.data[0].z).shape == (6, 8)
    assert figure.data[0].zmin == 0.0 and figure.data[0].zmax == 1.0
    assert "baseline" in _message(plots.gate_heatmap(TOKENS, None, None))
    # the hover names each row's token through its category, not a label per cell
    assert figure.data[0].customdata is None and "%{y}" in figure.data[0].hovertemplate
    assert list(figure.data[0].y) == [f"{i + 1}: {plots._escape(t)}" for i, t in enumerate(TOKENS)]
    assert list(figure.layout.yaxis.ticktext) == [plots._escape(t) for t in TOKENS]


def test_delta_bars_group_and_skip_missing():
    figure = plots.delta_bars(["German (de)", "Hindi (hi)", "Urdu (ur)", "Thai (th)"],
                              [1.5, -2.0, 0.5, float("nan")],
                              ["Indo-European", "Indo-European", "Indo-European", "Kra-Dai"],
                              intervals=[(0.2, 2.8), (-3.0, 1.0), None, (0.0, 0.2)])
    assert [trace.name for trace in figure.data] == ["Indo-European"]  # Thai has no delta
    assert list(figure.data[0].y) == [1.5, 0.5, -2.0]  # sorted within the group
    assert list(figure.data[0].x) == ["German (de) *", "Urdu (ur)", "Hindi (hi)"]  # * excludes 0
    assert list(figure.data[0].error_y.arrayminus) == pytest.approx([1.3, 0.0, 1.0])
    assert "No language" in _message(plots.delta_bars(["x"], [float("nan")], ["g"]))


def test_layer_sweep():
    figure = plots.layer_sweep([0, 1, 2], {"targets": [50.0, 52.0, 51.0], "English": [80.0, 81.0, 79.0]},
                               errors={"targets": [math.nan, 1.0, 0.5]}, chosen_layer=1,
                               baselines={"baseline": 49.0})
    assert [trace.name for trace in figure.data] == ["targets", "English"]
    assert figure.data[0].error_y.array is not None and figure.data[1].error_y.array is None
    assert len(figure.layout.shapes) == 2  # baseline line + chosen layer
    assert "No layer-sweep" in _message(plots.layer_sweep([], {}))


@pytest.mark.parametrize("series,traces", [
    ([plots.BarSeries("baseline · your file", "baseline", False, {"PER": 50.0, "LOC": 60.0}),
      plots.BarSeries("fusion-l6 · stored", "fusion", True, {"PER": 55.0})], 2),
    ([], 0),
])
def test_per_type_bars(series, traces):
    figure = plots.per_type_bars(series)
    assert len(figure.data) == traces
    if traces:
        assert figure.data[1].marker.pattern.shape == "/" and figure.data[0].marker.color == "#4C78A8"


ARABIC = ["<s>", "▁ذهب", "▁إلى", "▁(", "باريس", "▁)", "</s>"]


def test_token_axes_run_right_to_left_for_a_right_to_left_sentence():
    """Inside and Layers lay a sentence out as it reads: a right-to-left sentence's first token at
    the right; each tick is embedded right to left, so a lone bracket shows as in the sentence."""
    matrix = np.eye(len(ARABIC))
    ltr = plots.attention_heatmap(ARABIC, matrix)
    rtl = plots.attention_heatmap(ARABIC, matrix, rtl=True)
    assert ltr.layout.xaxis.autorange is None and rtl.layout.xaxis.autorange == "reversed"
    assert rtl.layout.yaxis.autorange == "reversed"  # rows still read top to bottom
    assert rtl.layout.xaxis.ticktext[3] == "\u202b▁(\u202c" and ltr.layout.xaxis.ticktext[3] == "▁("
    assert rtl.layout.xaxis.ticktext[0] == "\u202b&lt;s&gt;\u202c"  # still escaped
    bars = plots.gate_share_bars(ARABIC, [0.5] * len(ARABIC), 1, rtl=True)
    assert bars.layout.xaxis.autorange == "reversed"
    grid = plots.emergence_grid(["ذهب", "إلى", "باريس"], [["O", "O", "B-LOC"]] * 2, np.full((2, 3), 0.9),
                                gate_share=[0.5, 0.5, 0.5], fusion_layer=1, rtl=True)
    assert grid.layout.xaxis.autorange == grid.layout.xaxis2.autorange == "reversed"  # grid and gate bars
    assert plots.emergence_grid(["Paris"], [["B-LOC"]], [[0.9]]).layout.xaxis.autorange is None


def test_titles_fit_a_phone_and_say_the_rest_below():
    """Plotly never wraps a title: a phone (about 330 px of plot) clipped the long ones."""
    delta = plots.delta_bars(["Arabic (ar)"], [1.0], ["Afro-Asiatic"], [(0.5, 1.5)])
    sweep = plots.layer_sweep([0, 1], {"targets": [50.0, 52.0]}, subtitle="best English k = 1")
    transfer = plots.layer_transfer([0, 1], [50, 60], [40, 45], [0.8, 0.75])
    for figure in (delta, sweep, transfer):
        assert len(figure.layout.title.text) <= 35 and figure.layout.title.subtitle.text
    assert delta.layout.title.subtitle.text == "fusion − baseline, in F1 points"
    hostile = plots.per_type_bars([plots.BarSeries("x", "fusion", False, {"PER": 50.0})], subtitle="<b>x</b>")
    assert hostile.layout.title.subtitle.text == "&lt;b&gt;x&lt;/b&gt;"


def test_every_heat_map_names_its_colour_scale():
    """The shared template leaves plotly_white's default colour scales out (validating them made
    every figure ~3 × as costly): a heat map without its own scale would draw in plotly.js's."""
    import ast
    from pathlib import Path

    root = Path(plots.__file__).parent
    heatmaps = [node for path in [root / "plots.py", *sorted((root / "tabs").glob("*.py"))]
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Heatmap"]
    assert heatmaps and all("colorscale" in {k.arg for k in node.keywords} for node in heatmaps)
