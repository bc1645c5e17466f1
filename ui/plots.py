"""The plotly figures of the app. Pure functions: plain data in (lists, numbers), a go.Figure out.

Token axes never use the bare tokens as categories, because plotly merges repeated category names
(two "▁the" tokens would otherwise share one row): bars use positions with the tokens as tick
labels, heat maps numbered names ("3: ▁the") that their hover shows. With `rtl`, an axis along a
sentence runs right to left, as the sentence reads.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ui.common import ENTITY_COLOURS

MODEL_COLOURS = {"baseline": "#4C78A8", "fusion": "#F58518"}
_FONT = dict(family="system-ui, 'Noto Sans', 'Noto Sans CJK SC', sans-serif", size=12)


# the parts of plotly_white's layout these 2-D figures use (no polar, ternary, 3-D or geo axes;
# no default colour scales either: every heat map names its own, and validating plotly_white's
# made a figure's layout ~3 × as costly)
WHITE_LAYOUT_KEYS = ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor",
                     "plot_bgcolor", "coloraxis", "xaxis", "yaxis", "shapedefaults", "annotationdefaults",
                     "title")


@functools.cache
def white_template() -> go.layout.Template:
    """plotly_white's look for 2-D figures, made once. Naming the template instead makes plotly
    validate and deep-copy all of it, per-trace defaults and 3-D axes included, for every figure:
    ~0.1 s each on a busy core, and Inside draws four per request. Every trace here sets its own
    colours."""
    import plotly.io as pio

    layout = pio.templates["plotly_white"].layout.to_plotly_json()
    return go.layout.Template(layout={key: layout[key] for key in WHITE_LAYOUT_KEYS if key in layout})


def _layout(figure: go.Figure, title: str, height: int = 420, subtitle: str = "") -> go.Figure:
    """Plotly never wraps a title: keep `title` short enough for a phone (~35 characters), and
    say the rest in the smaller `subtitle` (plain text: it may hold a run's model name)."""
    figure.update_layout(title=dict(text=title, x=0.01, xanchor="left", subtitle=dict(text=_escape(subtitle))),
                         height=height, margin=dict(l=60, r=20, t=80 if subtitle else 60, b=60), font=_FONT,
                         template=white_template())
    return figure


def message_figure(message: str, title: str = "") -> go.Figure:
    """An empty figure that says why there is nothing to plot."""
    figure = go.Figure()
    figure.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                          showarrow=False, font=dict(size=14, color="#666"))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _layout(figure, title, height=260)


def _escape(text) -> str:
    """Plotly reads tick and hover text as HTML: "<s>" would be a strike-through tag."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tick(text, rtl: bool = False) -> str:
    """A tick label; in a right-to-left sentence embedded right to left (RLE … PDF), so that a
    bracket alone shows as it does in the sentence (an SVG label is laid out left to right)."""
    return f"\u202b{_escape(text)}\u202c" if rtl else _escape(text)


def _token_axis(tokens: list[str], rtl: bool = False) -> dict:
    return dict(tickmode="array", tickvals=list(range(len(tokens))),
                ticktext=[_tick(t, rtl) for t in tokens], tickfont=dict(size=10))


def _row_names(tokens: list[str]) -> list[str]:
    """"3: ▁Paris": a heat map's rows (and columns) as categories, unique, so the hover names the
    token (`%{y}`). A label per cell instead (customdata) was half of Inside's answer: T × 384
    strings for the gates."""
    return [f"{row + 1}: {_escape(token)}" for row, token in enumerate(tokens)]


def _named_axis(tokens: list[str], names: list[str], rtl: bool = False) -> dict:
    """A token axis over `_row_names` categories, its ticks the tokens alone."""
    return {**_token_axis(tokens, rtl), "type": "category", "tickvals": names}


def _reading_order(rtl: bool) -> dict:
    """An axis along a sentence: left to right, or right to left for a right-to-left sentence."""
    return dict(autorange="reversed") if rtl else {}


def _token_height(n_tokens: int) -> int:
    return int(min(1100, max(420, 14 * n_tokens + 220)))


# --------------------------------------------------------------------------------------------
# Inside the model
# --------------------------------------------------------------------------------------------

def attention_heatmap(tokens: list[str], matrix, title: str = "Attention", rtl: bool = False) -> go.Figure:
    """matrix: T × T, row = the token that attends (query), column = the token attended to (key);
    with `rtl` the columns run right to left, as the sentence reads."""
    values = np.asarray(matrix, dtype=np.float32)  # sent as base64 (see gate_heatmap)
    if values.ndim != 2 or values.shape != (len(tokens), len(tokens)):
        return message_figure(f"attention of shape {values.shape} does not fit {len(tokens)} tokens",
                              title)
    names = _row_names(tokens)
    figure = go.Figure(go.Heatmap(
        z=values, x=names, y=names, colorscale="Blues", zmin=0.0,
        zmax=float(values.max()) if values.size else 1.0, colorbar=dict(title="weight"),
        hovertemplate="%{y} → %{x}<br>weight %{z:.3f}<extra></extra>"))
    figure.update_xaxes(title="attended to (key)", side="bottom", tickangle=-60, **_named_axis(tokens, names, rtl),
                        **_reading_order(rtl))
    figure.update_yaxes(title="attending token (query)", autorange="reversed", scaleanchor="x",
                        constrain="domain", **_named_axis(tokens, names, rtl))
    return _layout(figure, title, _token_height(len(tokens)) + 60)


def attention_entropy(attentions) -> np.ndarray:
    """layers × heads mean entropy (bits) of the attention rows; attentions: L × H × T × T."""
    values = np.asarray(attentions, dtype=float)
    if values.ndim != 4 or values.shape[-1] == 0:
        return np.zeros((0, 0))
    p = np.clip(values, 1e-12, 1.0)
    return -(p * np.log2(p)).sum(-1).mean(-1)


def attention_overview(attentions, selected_layer: int | None = None,
                       selected_head: int | None = None,
                       title: str = "Attention entropy of every layer and head") -> go.Figure:
    """Heatmap of mean attention entropy, layers (rows, 1 = first) × heads (columns, 1-based);
    the selected (1-based) layer and head are outlined."""
    entropy = attention_entropy(attentions)
    if entropy.size == 0:
        return message_figure("no attentions to show", title)
    n_layers, n_heads = entropy.shape
    n_tokens = np.asarray(attentions[0][0]).shape[-1]
    figure = go.Figure(go.Heatmap(
        z=entropy, x=list(range(1, n_heads + 1)), y=list(range(1, n_layers + 1)),
        colorscale="Viridis", zmin=0.0, zmax=max(math.log2(max(n_tokens, 2)), float(entropy.max())),
        colorbar=dict(title="bits"),
        hovertemplate="layer %{y}, head %{x}<br>entropy %{z:.2f} bits<extra></extra>"))
    if selected_layer is not None and selected_head is not None:
        figure.add_shape(type="rect", x0=selected_head - 0.5, x1=selected_head + 0.5,
                         y0=selected_layer - 0.5, y1=selected_layer + 0.5,
                         line=dict(color="red", width=3))
    figure.update_xaxes(title="head", dtick=1)
    figure.update_yaxes(title="layer", dtick=1, autorange="reversed")
    figure.add_annotation(text=f"uniform over {n_tokens} tokens = {math.log2(max(n_tokens, 1)):.1f} bits",
                          x=1.0, y=1.08, xref="paper", yref="paper", showarrow=False,
                          xanchor="right", font=dict(size=11, color="#666"))
    return _layout(figure, title, height=max(360, 28 * n_layers + 140))


def gate_share_bars(tokens: list[str], share, fusion_layer: int | None,
                    title: str = "Where each token's features come from", rtl: bool = False) -> go.Figure:
    """Stacked bars per token, in reading order: mean gate (share of the last layer) and 1 − it
    (share of layer k)."""
    if share is None:
        return message_figure("The baseline has no fusion gate: it reads the last layer only.", title)
    share = [float(s) for s in share]
    if len(share) != len(tokens):
        return message_figure(f"{len(share)} gate values do not fit {len(tokens)} tokens", title)
    lower = "embeddings (layer 0)" if fusion_layer == 0 else f"layer {fusion_layer}"
    positions, labels = list(range(len(tokens))), [_escape(t) for t in tokens]
    figure = go.Figure([
        go.Bar(x=positions, y=share, name="last layer", marker_color="#4C78A8",
               customdata=labels, hovertemplate="%{customdata}: %{y:.1%} from the last layer<extra></extra>"),
        go.Bar(x=positions, y=[1.0 - s for s in share], name=lower, marker_color="#F58518",
               customdata=labels, hovertemplate="%{customdata}: %{y:.1%} from " + lower + "<extra></extra>"),
    ])
    figure.update_layout(barmode="stack", legend=dict(orientation="h", y=1.02, x=1, xanchor="right",
                                                      yanchor="bottom"))
    figure.add_hline(y=0.5, line=dict(color="#999", dash="dot"))
    figure.update_xaxes(tickangle=-60, **_token_axis(tokens, rtl), **_reading_order(rtl))
    figure.update_yaxes(title="share of the features", range=[0, 1], tickformat=".0%")
    return _layout(figure, title, height=400)


def gate_heatmap(tokens: list[str], gates, fusion_layer: int | None,
                 title: str = "Gate value of every channel", rtl: bool = False) -> go.Figure:
    """tokens (rows) × channels (columns) heatmap of the gate M (1 = all last layer)."""
    if gates is None:
        return message_figure("The baseline has no fusion gate: it reads the last layer only.", title)
    # float32, as the model gives them: the page gets them as base64 (plotly's typed arrays), and
    # T × 384 cells of float64 were half of Inside's answer
    values = np.asarray(gates, dtype=np.float32)
    if values.ndim != 2 or values.shape[0] != len(tokens):
        return message_figure(f"gates of shape {values.shape} do not fit {len(tokens)} tokens", title)
    lower = "embeddings" if fusion_layer == 0 else f"layer {fusion_layer}"
    rows = _row_names(tokens)
    figure = go.Figure(go.Heatmap(
        z=values, x=list(range(values.shape[1])), y=rows, zmin=0.0, zmax=1.0,
        colorscale=[[0.0, "#F58518"], [0.5, "#F7F7F7"], [1.0, "#4C78A8"]],
        colorbar=dict(title="gate", tickvals=[0, 0.5, 1],
                      ticktext=[f"0 ({lower})", "0.5", "1 (last layer)"]),
        hovertemplate="%{y}, channel %{x}<br>gate %{z:.3f}<extra></extra>"))
    figure.update_xaxes(title="channel (hidden dimension)")
    figure.update_yaxes(autorange="reversed", **_named_axis(tokens, rows, rtl))
    return _layout(figure, title, _token_height(len(tokens)))


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

GROUP_PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6",
                 "#9D755D", "#BAB0AC", "#EECA3B", "#1F77B4", "#8C564B", "#17BECF", "#BCBD22",
                 "#7F7F7F", "#D62728", "#2CA02C", "#9467BD", "#E377C2", "#FF7F0E"]


def delta_bars(labels: list[str], deltas: list[float], groups: list[str],
               intervals: list[tuple[float, float] | None] | None = None, group_title: str = "family",
               title: str = "Δ F1 per target language",
               subtitle: str = "fusion − baseline, in F1 points") -> go.Figure:
    """One bar per language, coloured and ordered by group. `intervals` (low, high) are drawn as
    whiskers; a bar whose interval excludes 0 is solid and its label starred, others are pale."""
    intervals = intervals if intervals is not None else [None] * len(labels)
    rows = [(g, d, label, i) for g, d, label, i in zip(groups, deltas, labels, intervals)
            if d is not None and not (isinstance(d, float) and math.isnan(d))]
    if not rows:
        return message_figure("No language has both a baseline and a fusion score yet.", title)
    rows.sort(key=lambda row: (str(row[0]), -row[1]))
    figure = go.Figure()
    for index, group in enumerate(dict.fromkeys(row[0] for row in rows)):
        mine = [row for row in rows if row[0] == group]
        known = [row[3] is not None for row in mine]
        sure = [row[3] is not None and (row[3][0] > 0 or row[3][1] < 0) for row in mine]
        figure.add_bar(
            x=[_escape(row[2]) + (" *" if s else "") for row, s in zip(mine, sure)],
            y=[row[1] for row in mine], name=_escape(group),
            marker=dict(color=GROUP_PALETTE[index % len(GROUP_PALETTE)],
                        opacity=[1.0 if s or not k else 0.45 for s, k in zip(sure, known)]),
            error_y=dict(type="data", symmetric=False, visible=True, color="#333", thickness=1,
                         array=[row[3][1] - row[1] if row[3] else 0.0 for row in mine],
                         arrayminus=[row[1] - row[3][0] if row[3] else 0.0 for row in mine])
            if any(known) else None,
            hovertemplate="%{x}: %{y:+.1f} F1<extra>" + _escape(group) + "</extra>")
    figure.add_hline(y=0, line=dict(color="#333", width=1))
    figure.update_layout(legend_title_text=group_title, bargap=0.15,
                         legend=dict(orientation="h", y=-0.45, font=dict(size=11)))
    figure.update_xaxes(tickangle=-60, type="category")
    figure.update_yaxes(title="Δ F1 (points)")
    return _layout(figure, title, height=520, subtitle=subtitle)


def layer_sweep(layers: list[int], series: dict[str, list[float]],
                errors: dict[str, list[float]] | None = None, chosen_layer: int | None = None,
                baselines: dict[str, float] | None = None,
                title: str = "Dev F1 by fusion layer k", subtitle: str = "") -> go.Figure:
    """A line per series (e.g. "average of target languages", "English") over layers k;
    `baselines` draws dotted horizontal lines; `chosen_layer` a vertical marker."""
    if not layers:
        return message_figure("No layer-sweep runs (sweep-l<k>.json) yet.", title)
    palette = ["#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2"]
    figure = go.Figure()
    for index, (name, values) in enumerate(series.items()):
        error = (errors or {}).get(name)
        has_error = error is not None and any(e is not None and not math.isnan(e) for e in error)
        figure.add_scatter(
            x=layers, y=values, name=name, mode="lines+markers",
            line=dict(color=palette[index % len(palette)]),
            error_y=dict(type="data", array=[0.0 if e is None or math.isnan(e) else e for e in error],
                         visible=True) if has_error else None,
            hovertemplate="k = %{x}: %{y:.1f} F1<extra>" + name + "</extra>")
    for index, (name, value) in enumerate((baselines or {}).items()):
        figure.add_hline(y=value, line=dict(color=palette[index % len(palette)], dash="dot"),
                         annotation_text=name, annotation_position="top left")
    if chosen_layer is not None:
        figure.add_vline(x=chosen_layer, line=dict(color="#888", dash="dash"),
                         annotation_text=f"shipped k = {chosen_layer}", annotation_position="top")
    figure.update_xaxes(title="fusion layer k (0 = embeddings)", dtick=1)
    figure.update_yaxes(title="F1")
    figure.update_layout(legend=dict(orientation="h", y=-0.25))
    return _layout(figure, title, height=440, subtitle=subtitle)


@dataclass(frozen=True)
class BarSeries:
    """One series of per-type bars: a model on your file, or a model's stored runs."""

    name: str  # legend text
    side: str  # "baseline" or "fusion": the colour
    stored: bool  # stored runs are drawn pale and hatched
    f1: dict[str, float]  # entity type ("overall", PER...) -> F1 in points


def per_type_bars(series: list[BarSeries], title: str = "F1 per entity type", subtitle: str = "") -> go.Figure:
    """Grouped bars, one group per entity type, one bar per series."""
    if not series:
        return message_figure("Nothing scored yet.", title)
    figure = go.Figure()
    for item in series:
        figure.add_bar(x=list(item.f1), y=list(item.f1.values()), name=_escape(item.name),
                       marker=dict(color=MODEL_COLOURS.get(item.side), opacity=0.45 if item.stored else 1.0,
                                   pattern_shape="/" if item.stored else ""),
                       hovertemplate="%{x}: %{y:.1f} F1<extra>" + _escape(item.name) + "</extra>")
    figure.update_layout(barmode="group", legend=dict(orientation="h", y=-0.2))
    figure.update_xaxes(type="category")
    figure.update_yaxes(title="F1", range=[0, 100])
    return _layout(figure, title, height=400, subtitle=subtitle)


def delta_heatmap(rows: list[str], columns: list[str], column_groups: list[str], delta, low, high,
                  title: str = "Δ F1 per task and language", subtitle: str = "") -> go.Figure:
    """rows × columns of Δ F1 (None where not measured) on a red–blue scale centred on 0; a cell
    whose 95 % interval [low, high] excludes 0 carries a star. Columns arrive grouped (e.g. by
    family); the group is named in the hover and by a label above its first column."""
    if not rows or not columns:
        return message_figure("No intermediate-task runs with a direct reference yet.", title)
    values = np.array([[np.nan if v is None else v for v in row] for row in delta], dtype=float)
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    stars = [["*" if lo is not None and (lo > 0 or hi < 0) else "" for lo, hi in zip(lr, hr)]
             for lr, hr in zip(low, high)]
    hover = [[f"{_escape(r)} · {_escape(c)} ({_escape(g)}): " + (
        "not measured" if v is None else f"{v:+.1f} F1 [{lo:+.1f}, {hi:+.1f}]")
        for c, g, v, lo, hi in zip(columns, column_groups, vr, lr, hr)]
        for r, vr, lr, hr in zip(rows, delta, low, high)]
    figure = go.Figure(go.Heatmap(
        z=values, x=list(range(len(columns))), y=list(range(len(rows))), text=stars,
        texttemplate="%{text}", customdata=hover, hovertemplate="%{customdata}<extra></extra>",
        colorscale="RdBu", zmid=0, zmin=-limit, zmax=limit, xgap=1, ygap=1,
        colorbar=dict(title=dict(text="Δ F1"), thickness=12)))
    figure.update_xaxes(tickmode="array", tickvals=list(range(len(columns))),
                        ticktext=[_escape(c) for c in columns], tickangle=-60, tickfont=dict(size=10))
    figure.update_yaxes(tickmode="array", tickvals=list(range(len(rows))),
                        ticktext=[_escape(r) for r in rows], autorange="reversed")
    for index, group in enumerate(column_groups):
        if index == 0 or column_groups[index - 1] != group:
            figure.add_annotation(x=index - 0.4, y=1.0, xref="x", yref="paper", text=_escape(group),
                                  showarrow=False, xanchor="left", yanchor="bottom", textangle=-45,
                                  font=dict(size=9, color="#555"))
            if index:  # a dark line between two families
                figure.add_vline(x=index - 0.5, line=dict(color="#222", width=2))
    _layout(figure, title, height=max(340, 40 * len(rows) + 300), subtitle=subtitle)
    figure.update_layout(margin=dict(t=150), title=dict(y=0.98, yanchor="top"))
    return figure


# --------------------------------------------------------------------------------------------
# Layers: probes per layer, and where an entity emerges in a sentence
# --------------------------------------------------------------------------------------------

def _family_columns(figure: go.Figure, families: list[str]) -> None:
    """A label above the first column of each family and a line between families."""
    for index, family in enumerate(families):
        if index == 0 or families[index - 1] != family:
            figure.add_annotation(x=index - 0.4, y=1.0, xref="x", yref="paper", text=_escape(family),
                                  showarrow=False, xanchor="left", yanchor="bottom", textangle=-45,
                                  font=dict(size=9, color="#555"))
            if index:
                figure.add_vline(x=index - 0.5, line=dict(color="#222", width=2))


def probe_heatmap(layers: list[int], languages: list[str], families: list[str], f1,
                  title: str = "Probe F1 per layer and language") -> go.Figure:
    """layers (rows, 0 = embeddings at the top) × languages (columns, grouped by family)."""
    if not layers or not languages:
        return message_figure("No layer-probe runs (scripts/probe_runs.sh) yet.", title)
    values = np.asarray(f1, dtype=float)
    hover = [[f"layer {layer} · {_escape(lang)} ({_escape(fam)}): " +
              ("not measured" if np.isnan(v) else f"{v:.1f} F1")
              for lang, fam, v in zip(languages, families, row)] for layer, row in zip(layers, values)]
    figure = go.Figure(go.Heatmap(
        z=values, x=list(range(len(languages))), y=layers, customdata=hover,
        hovertemplate="%{customdata}<extra></extra>", colorscale="Viridis", xgap=1, ygap=1,
        colorbar=dict(title=dict(text="F1"), thickness=12)))
    figure.update_xaxes(tickmode="array", tickvals=list(range(len(languages))),
                        ticktext=[_escape(c) for c in languages], tickangle=-60, tickfont=dict(size=10))
    figure.update_yaxes(title="layer (0 = embeddings)", dtick=1, autorange="reversed")
    _family_columns(figure, families)
    _layout(figure, title, height=max(380, 24 * len(layers) + 300))
    figure.update_layout(margin=dict(t=150), title=dict(y=0.98, yanchor="top"))
    return figure


def layer_transfer(layers: list[int], english, targets, ratio, english_sd=None, targets_sd=None,
                   ratio_sd=None, sweep_layers=None, sweep_targets=None,
                   title: str = "What each layer knows",
                   subtitle: str = "in English and in the other languages") -> go.Figure:
    """Probe F1 on English and on the targets per layer (left axis), the transfer ratio target /
    English (right axis), and, when given, the fusion sweep's target F1 per fused layer k."""
    if not layers:
        return message_figure("No layer-probe runs (scripts/probe_runs.sh) yet.", title)

    def bars(sd):
        if sd is None or all(s is None or math.isnan(s) for s in sd):
            return None
        return dict(type="data", array=[0.0 if s is None or math.isnan(s) else s for s in sd], visible=True)

    figure = go.Figure()
    figure.add_scatter(x=layers, y=english, name="probe, English", mode="lines+markers",
                       line=dict(color="#54A24B"), error_y=bars(english_sd),
                       hovertemplate="layer %{x}: %{y:.1f} F1<extra>English</extra>")
    figure.add_scatter(x=layers, y=targets, name="probe, mean of targets", mode="lines+markers",
                       line=dict(color="#F58518"), error_y=bars(targets_sd),
                       hovertemplate="layer %{x}: %{y:.1f} F1<extra>targets</extra>")
    figure.add_scatter(x=layers, y=ratio, name="transfer ratio (right axis)", mode="lines+markers",
                       line=dict(color="#4C78A8", dash="dash"), yaxis="y2", error_y=bars(ratio_sd),
                       hovertemplate="layer %{x}: ratio %{y:.3f}<extra>targets / English</extra>")
    if sweep_layers:
        figure.add_scatter(x=sweep_layers, y=sweep_targets, name="fusion tagger fusing layer k (targets, dev)",
                           mode="lines+markers", line=dict(color="#B279A2", dash="dot"),
                           hovertemplate="k = %{x}: %{y:.1f} F1<extra>fusion sweep</extra>")
    figure.update_xaxes(title="layer (0 = embeddings)", dtick=1)
    figure.update_layout(yaxis=dict(title="F1"),
                         yaxis2=dict(title="target F1 / English F1", overlaying="y", side="right",
                                     rangemode="tozero", showgrid=False),
                         legend=dict(orientation="h", y=-0.25))
    return _layout(figure, title, height=460, subtitle=subtitle)


def emergence_grid(words: list[str], tags: list[list[str]], scores, gate_share=None,
                   fusion_layer: int | None = None,
                   title: str = "Each layer's probe, word by word", colours: dict[str, str] | None = None,
                   rtl: bool = False) -> go.Figure:
    """layers (rows) × words (columns, in reading order): the colour is the probe's entity type
    (`colours`: the page's palette), its strength the probability; "O" is white. Below, when
    given, the fusion gate's share of the last layer."""
    if not words or not tags:
        return message_figure("Compare a text first: this grid reads its sentence layer by layer.", title)
    colours = colours or {kind: ENTITY_COLOURS[kind] for kind in ("PER", "ORG", "LOC")}
    kinds = ["O"] + list(colours)
    values = np.asarray(scores, dtype=float)
    z = np.full(values.shape, np.nan)
    text = [["" for _ in words] for _ in tags]
    for layer, row in enumerate(tags):
        for column, tag in enumerate(row):
            kind = tag.split("-", 1)[-1] if tag != "O" else "O"
            index = kinds.index(kind) if kind in kinds else 0
            # each type owns a band of the colour scale; within it, darker = more probable
            z[layer, column] = index + 0.2 + 0.79 * values[layer, column] if index else 0.0
            text[layer][column] = tag if tag != "O" else ""
    scale = [[0.0, "#FFFFFF"], [0.999 / len(kinds), "#FFFFFF"]]
    for index, kind in enumerate(kinds[1:], start=1):
        low, high = index / len(kinds), (index + 1) / len(kinds)
        scale += [[low, "#F4F4F4"], [high - 1e-3, colours[kind]]]
    scale.append([1.0, colours[kinds[-1]]])
    hover = [[f"layer {layer} · {_escape(words[c])}: {_escape(tags[layer][c])} "
              f"({values[layer, c]:.0%})" for c in range(len(words))] for layer in range(len(tags))]
    rows = 2 if gate_share is not None else 1
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                           row_heights=[0.8, 0.2] if rows == 2 else [1.0])
    figure.add_trace(go.Heatmap(z=z, x=list(range(len(words))), y=list(range(len(tags))), text=text,
                                texttemplate="%{text}", textfont=dict(size=9), customdata=hover,
                                hovertemplate="%{customdata}<extra></extra>", colorscale=scale,
                                zmin=0, zmax=len(kinds), showscale=False, xgap=1, ygap=1), row=1, col=1)
    if gate_share is not None:
        share = [np.nan if s is None else float(s) for s in gate_share]
        lower = "embeddings" if fusion_layer == 0 else f"layer {fusion_layer}"
        figure.add_trace(go.Bar(x=list(range(len(words))), y=share, marker_color="#4C78A8",
                                name="share of the last layer",
                                customdata=[_escape(w) for w in words],
                                hovertemplate="%{customdata}: %{y:.0%} from the last layer, the rest from "
                                + lower + "<extra></extra>"), row=2, col=1)
        figure.add_hline(y=0.5, line=dict(color="#999", dash="dot"), row=2, col=1)
        figure.update_yaxes(title="gate", range=[0, 1], tickformat=".0%", row=2, col=1)
    figure.update_yaxes(title="layer", tickmode="array", tickvals=list(range(len(tags))),
                        autorange="reversed", row=1, col=1)
    figure.update_xaxes(tickmode="array", tickvals=list(range(len(words))),
                        ticktext=[_tick(w, rtl) for w in words], tickangle=-45, row=rows, col=1)
    figure.update_xaxes(**_reading_order(rtl))  # every row: they share the words' axis
    figure.update_layout(showlegend=False)
    legend = "   ".join(f"<span style='color:{colour}'>■</span> {_escape(kind)}"
                         for kind, colour in colours.items())
    figure.add_annotation(text=legend, showarrow=False, x=1.0, y=1.0, xref="paper", yref="paper",
                          xanchor="right", yanchor="bottom", font=dict(size=11))  # one line: no overlap
    return _layout(figure, title, height=max(420, 26 * len(tags) + (200 if rows == 2 else 120)))
